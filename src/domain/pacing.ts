/**
 * How long work that has spent `spent` request units in its first `elapsedMs` must wait so that it
 * averages at most `perSecond`; 0 when it is within that budget, or when there is none (0).
 */
export function paceDelayMs(spent: number, elapsedMs: number, perSecond: number): number {
  if (perSecond <= 0) return 0;
  return Math.max(0, Math.ceil((spent / perSecond) * 1000 - elapsedMs));
}
