import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RunRecord } from '../../src/ports/run-log.js';
import { finished } from './cli.js';

const INVOKER = fileURLToPath(new URL('./invoke-archival-timer.mjs', import.meta.url));

export interface Invocation {
  code: number | null;
  run?: RunRecord | null;
  error?: string;
  lines: { level: string; text: string }[];
}

/** Runs the timer handler once in a process of its own with these app settings. */
export async function invokeArchivalTimer(
  env: Record<string, string>,
  args: string[] = [],
): Promise<Invocation> {
  const result = await finished(
    spawn(process.execPath, [INVOKER, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const last = result.stdout.trim().split('\n').at(-1) ?? '{}';
  return { code: result.code, ...(JSON.parse(last) as Omit<Invocation, 'code'>) };
}
