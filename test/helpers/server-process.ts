import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect, vi } from 'vitest';
import { freePort } from '../../scripts/local-azure.mjs';

export const SERVER_PATH = fileURLToPath(new URL('../../dist/server.js', import.meta.url));
const READY_WITHIN_MS = 20_000;

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
    { timeout, interval: 50 },
  );
}

export interface ServerProcess {
  port: number;
  /** What the server wrote to stdout and stderr so far (its log). */
  output(): string;
  /** SIGTERM, then the exit code once it has exited. */
  stop(): Promise<number | null>;
}

/**
 * Starts the built server on loopback with `env` added, and waits until /health answers: on
 * env.API_PORT when given (for a URL that must be known before it starts), else on a free port.
 */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const port = env.API_PORT === undefined ? await freePort() : Number(env.API_PORT);
  const child = startServer({ ...env, API_HOST: '127.0.0.1', API_PORT: String(port) });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const [code] = await exited;
    return code;
  };
  try {
    await untilReady(`http://127.0.0.1:${port}`, child, READY_WITHIN_MS);
  } catch (error) {
    await stop();
    throw new Error(`the server did not become ready:\n${output}`, { cause: error });
  }
  return { port, output: () => output, stop };
}
