import { Cron } from 'croner';
import type { Logger } from 'pino';
import { LockHeldError } from '../domain/errors.js';
import type { Archiver } from '../services/archiver.js';

export interface ArchivalScheduler {
  /** Stops firing. A run it started goes on to its end, which Archiver.settled() waits for. */
  stop(): void;
  /** When the next tick fires, or undefined once stopped. */
  nextRun(): Date | undefined;
}

/**
 * Runs the archiver on a six-field cron schedule (UTC). A tick that finds a run in progress (this
 * process's, a CLI's or an Azure Function's: the archival lock knows) logs it and skips.
 */
export function scheduleArchival(archiver: Archiver, schedule: string, logger: Logger): ArchivalScheduler {
  const job = new Cron(schedule, { timezone: 'UTC', name: 'archival' }, async () => {
    try {
      const { run, done } = await archiver.start({ startedBy: { actor: 'system:scheduler' } });
      logger.info({ runId: run.run_id, schedule }, 'scheduled archival run started');
      const finished = await done;
      logger.info({ runId: finished.run_id, status: finished.status }, 'scheduled archival run finished');
    } catch (error) {
      if (error instanceof LockHeldError) {
        logger.info({ reason: error.message }, 'scheduled archival skipped: the archive is busy');
        return;
      }
      logger.error({ err: error }, 'scheduled archival run could not start');
    }
  });
  logger.info({ schedule, next: job.nextRun()?.toISOString() }, 'archival scheduled');
  return {
    stop: () => {
      job.stop();
    },
    nextRun: () => job.nextRun() ?? undefined,
  };
}
