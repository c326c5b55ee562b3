import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { progress } from '../../src/cli/progress.js';

/** A stream standing in for standard error, as a terminal or as a pipe. */
function stderrLike(terminal: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY: terminal, columns: 160 });
  let written = '';
  stream.on('data', (chunk: Buffer) => (written += chunk.toString()));
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => written };
}

describe('progress on standard error', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-12-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes a plain line at most every five seconds when not on a terminal, with rate and ETA', async () => {
    const { stream, text } = stderrLike(false);
    const bar = progress('seed', stream);
    vi.advanceTimersByTime(1_000);
    bar.update(100, 1_000);
    vi.advanceTimersByTime(1_000);
    bar.update(200, 1_000);
    await Promise.resolve();
    // The first update is written at once; the second, a second later, waits.
    expect(text().trim().split('\n')).toEqual(['seed: 100 of 1000 (10%), 100.0/s, ETA 9 s']);
    vi.advanceTimersByTime(5_000);
    bar.update(700, 1_000, 'pass 1');
    bar.stop();
    bar.stop();
    await Promise.resolve();
    expect(text().trim().split('\n')).toEqual([
      'seed: 100 of 1000 (10%), 100.0/s, ETA 9 s',
      'seed: 700 of 1000 (70%), 100.0/s, ETA 3 s, pass 1',
    ]);
  });

  it('ends with the last figures when they were not written yet, and counts without a total', async () => {
    const { stream, text } = stderrLike(false);
    const bar = progress('archive', stream);
    bar.update(0, undefined);
    vi.advanceTimersByTime(2_000);
    bar.update(500, undefined, '5 batches');
    bar.stop();
    await Promise.resolve();
    expect(text().trim().split('\n')).toEqual(['archive: 0, 0.0/s', 'archive: 500, 250.0/s, 5 batches']);
  });

  it('draws a bar with its rate and ETA on a terminal', async () => {
    const { stream, text } = stderrLike(true);
    const bar = progress('restore', stream);
    vi.advanceTimersByTime(2_000);
    bar.update(50, 200, 'pass 1');
    bar.stop();
    await Promise.resolve();
    expect(text()).toMatch(/restore \[[=-]+\] 25% \| 50\/200 \| 25\.0\/s \| ETA \S+ \| pass 1/);
  });
});
