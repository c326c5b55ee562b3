import type { Adapters } from '../../src/composition-root.js';
import { intercept } from './intercept.js';

/**
 * Holds every eligible-record read until `release()`, so a run started meanwhile keeps the archival
 * lock for as long as the test needs. Pass `wrap` to startHarness.
 */
export function heldReads(): { wrap: (adapters: Adapters) => Adapters; release: () => void } {
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    wrap: (adapters) => ({
      ...adapters,
      live: intercept(adapters.live, {
        findEligible: async (query) => {
          await gate;
          return adapters.live.findEligible(query);
        },
      }),
    }),
    release: () => {
      release();
    },
  };
}
