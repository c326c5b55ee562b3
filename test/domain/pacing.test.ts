import { describe, expect, it } from 'vitest';
import { paceDelayMs } from '../../src/domain/pacing.js';

describe('paceDelayMs', () => {
  it('waits until the units spent average out to the budget since the start', () => {
    // 500 RU at 100 RU/s may take 5 s: 2 s in, wait 3 s more.
    expect(paceDelayMs(500, 2_000, 100)).toBe(3_000);
    expect(paceDelayMs(500, 4_999, 100)).toBe(1);
    expect(paceDelayMs(0.5, 0, 100)).toBe(5);
  });

  it('does not wait within the budget, or without one', () => {
    expect(paceDelayMs(500, 5_000, 100)).toBe(0);
    expect(paceDelayMs(500, 60_000, 100)).toBe(0);
    expect(paceDelayMs(0, 0, 100)).toBe(0);
    expect(paceDelayMs(1_000_000, 0, 0)).toBe(0);
  });
});
