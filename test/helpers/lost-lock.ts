import type { Adapters } from '../../src/composition-root.js';
import type { Lock } from '../../src/ports/lock.js';
import type { RunLog, RunRecord } from '../../src/ports/run-log.js';
import { intercept } from './intercept.js';

/**
 * The adapters, with every lease reported lost as soon as the run history is saved in a state
 * `lose` picks: as when a lease renewal fails because Blob Storage is unreachable.
 */
export function losingLock(adapters: Adapters, lose: (run: RunRecord) => boolean): Adapters {
  const lost = new AbortController();
  return {
    ...adapters,
    lock: intercept<Lock>(adapters.lock, {
      acquire: async (name, owner) => {
        const lease = await adapters.lock.acquire(name, owner);
        return { lost: lost.signal, release: () => lease.release() };
      },
    }),
    runLog: intercept<RunLog>(adapters.runLog, {
      save: async (run) => {
        await adapters.runLog.save(run);
        if (lose(run)) lost.abort();
      },
    }),
  };
}
