/** Work this process started and has not finished, by id, so whoever shuts it down can wait. */
export class InFlight {
  private readonly pending = new Map<string, Promise<void>>();

  /** Counts `work` as in flight under `id` until it settles, whether it succeeds or not. */
  track(id: string, work: Promise<unknown>): void {
    const forget = (): void => {
      this.pending.delete(id);
    };
    this.pending.set(id, work.then(forget, forget));
  }

  /** The ids of work still in flight. */
  ids(): string[] {
    return [...this.pending.keys()];
  }

  /** Resolves once nothing is in flight, work tracked while waiting included. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending.values());
  }
}
