/** A held lock. Holders check `lost` between steps and stop when it is aborted. */
export interface LockLease {
  readonly lost: AbortSignal;
  /** Frees the lock; calling it twice is a no-op. */
  release(): Promise<void>;
}

/** Who asks for a lock, shown to whoever finds it held. */
export interface LockOwner {
  runId: string;
  description: string;
}

/** Mutual exclusion across processes and machines (blob lease or an OS file lock). */
export interface Lock {
  init(): Promise<void>;
  close(): Promise<void>;
  /** Takes the named lock at once or throws LockHeldError naming the holder; never waits. */
  acquire(name: string, owner: LockOwner): Promise<LockLease>;
}
