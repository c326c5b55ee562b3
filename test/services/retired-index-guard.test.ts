import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import type { ArchiveIndex } from '../../src/ports/archive-index.js';
import { RETIREMENT_RECHECK_MS, RetiredIndexGuard } from '../../src/services/retired-index-guard.js';

/**
 * The guard alone, over an index that only answers: the migration tests drive it through real
 * processes; these pin when it asks, what it does when asking fails, and that retirement sticks.
 */
function guarded(answers: (() => Promise<string | undefined>)[]) {
  let now = 1_000_000;
  let asked = 0;
  const inner = {
    get: () => Promise.resolve(undefined),
    ping: () => Promise.resolve(),
  } as unknown as ArchiveIndex;
  const guard = new RetiredIndexGuard(
    inner,
    () => {
      const answer = answers[Math.min(asked, answers.length - 1)];
      asked += 1;
      return answer ? answer() : Promise.resolve(undefined);
    },
    () => now,
  );
  return {
    guard,
    asked: () => asked,
    pass: (ms: number) => {
      now += ms;
    },
  };
}

const kept = () => Promise.resolve(undefined);
const retired = () => Promise.resolve('the archive index moved into the archive: set ARCHIVE_INDEX=blob');
const failing = () => Promise.reject(new Error('the archive store did not answer'));

describe('RetiredIndexGuard', () => {
  it('asks once per interval, and fails every call once the index is retired, with the reason', async () => {
    const { guard, asked, pass } = guarded([kept, retired]);
    await guard.get('a');
    await guard.ping();
    expect(asked()).toBe(1);
    pass(RETIREMENT_RECHECK_MS - 1);
    await guard.get('a');
    expect(asked()).toBe(1);
    pass(1);
    await expect(guard.get('a')).rejects.toThrow(StoreUnavailableError);
    await expect(guard.ping()).rejects.toThrow('set ARCHIVE_INDEX=blob');
    expect(asked()).toBe(2);
  });

  it('stays retired without asking again, whatever a later checkpoint says', async () => {
    const { guard, asked, pass } = guarded([retired, kept]);
    await expect(guard.get('a')).rejects.toThrow(StoreUnavailableError);
    pass(10 * RETIREMENT_RECHECK_MS);
    await expect(guard.get('a')).rejects.toThrow(StoreUnavailableError);
    expect(asked()).toBe(1);
  });

  it('lets calls through when it cannot ask, and asks again after the interval', async () => {
    const { guard, asked, pass } = guarded([failing, retired]);
    await expect(guard.get('a')).resolves.toBeUndefined();
    pass(RETIREMENT_RECHECK_MS);
    await expect(guard.get('a')).rejects.toThrow(StoreUnavailableError);
    expect(asked()).toBe(2);
  });

  it('asks again when the clock is stepped back, rather than keep an answer for as long', async () => {
    const { guard, asked, pass } = guarded([kept, retired]);
    await guard.get('a');
    pass(-RETIREMENT_RECHECK_MS);
    await expect(guard.get('a')).rejects.toThrow(StoreUnavailableError);
    expect(asked()).toBe(2);
  });
});
