import { app, type InvocationContext, type Timer } from '@azure/functions';
import { createServices } from '../composition-root.js';
import { loadConfig } from '../config.js';
import { LockHeldError } from '../domain/errors.js';
import { createLogger } from '../logger.js';
import type { RunRecord } from '../ports/run-log.js';

/**
 * The Azure Functions timer trigger's handler: builds the services from the app settings, exactly
 * as the API and CLI do from their environment, runs one archival run and closes them. A failed run
 * throws, so the platform records the invocation as failed; a run already in progress elsewhere is
 * logged and skipped.
 */
export function archivalTimerHandler(
  env: Readonly<Record<string, string | undefined>> = process.env,
): (timer: Timer, context: InvocationContext) => Promise<RunRecord | undefined> {
  return async (timer, context) => {
    const config = loadConfig(env);
    const services = await createServices(config, createLogger(config, 'stdout'));
    try {
      if (timer.isPastDue) context.warn('the timer is past due: this run starts late');
      const run = await services.archiver.runOnce({ startedBy: { actor: 'system:azure-function' } });
      const summary = `archival run ${run.run_id} ${run.status}: ${run.archived} archived, ${run.skipped} skipped, ${run.failed} failed, ${run.garbage_collected} blobs collected in ${run.duration_ms} ms`;
      if (run.status !== 'succeeded') throw new Error(`${summary}; errors: ${run.errors.join('; ')}`);
      context.log(summary);
      if ((run.not_archivable ?? 0) > 0)
        context.warn(
          `${run.not_archivable} documents are not archivable (their timestamps do not read as instants): see the run's notes`,
        );
      return run;
    } catch (error) {
      if (!(error instanceof LockHeldError)) throw error;
      context.warn(`archival skipped: ${error.message}`);
      return undefined;
    } finally {
      await services.close();
    }
  };
}

// The schedule is the app setting ARCHIVAL_SCHEDULE, the same six-field cron the API reads.
app.timer('archival', { schedule: '%ARCHIVAL_SCHEDULE%', handler: archivalTimerHandler() });
