import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, vi } from 'vitest';

export const SERVER_PATH = fileURLToPath(new URL('../../dist/server.js', import.meta.url));

/** Starts the built server as a child process with the given environment added. */
export function startServer(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [SERVER_PATH], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Waits until the server at `base` answers /health; fails if it exits first. */
export async function untilReady(base: string, child: ChildProcess, timeout = 10_000): Promise<void> {
  await vi.waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`server exited with ${String(child.exitCode)}`);
      // Refused while not listening yet: vi.waitFor tries again.
      expect((await fetch(`${base}/health`)).ok).toBe(true);
    },
    { timeout, interval: 100 },
  );
}
