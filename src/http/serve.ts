import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import { serverAuth } from '../auth/bootstrap-key.js';
import { createServices } from '../composition-root.js';
import { describeBackend, type Config } from '../config.js';
import { scheduleArchival, type ArchivalScheduler } from '../scheduler/archival-scheduler.js';
import { buildApp } from './app.js';
import { drainAndClose, SHUTDOWN_DEADLINE_MS } from './shutdown.js';

/** How often the server looks for restore jobs nobody works on. */
const RESTORE_WATCH_MS = 60_000;

/** How long closing the stores may take after the drain, before the process exits regardless. */
const STORES_CLOSE_MS = 4_000;

/**
 * Runs the API until a signal or an uncaught error, then shuts it down: listener first, with a
 * deadline (drainAndClose).
 */
export async function serve(config: Config, logger: Logger): Promise<void> {
  const auth = await serverAuth(config, (text) => process.stderr.write(`${text}\n`), process.stderr.isTTY);
  if (auth.disabled) logger.warn('authentication is disabled (AUTH_DISABLED=true)');
  if (config.http.trustProxy === true)
    logger.warn(
      'TRUST_PROXY=true believes any X-Forwarded-For: a caller can pick the address rate limits and the audit trail see; set the hop count or the proxy addresses',
    );
  const services = await createServices(config, logger);
  let app;
  try {
    app = await buildApp(services, logger, { auth, http: config.http });
  } catch (error) {
    await services.close();
    throw error;
  }
  let scheduler: ArchivalScheduler | undefined;
  // A signal, an uncaught error or a second signal all end here; past the deadline plus time to
  // close the stores, the process exits anyway (1), so a stuck store cannot keep it alive.
  closeWithGrace({ delay: SHUTDOWN_DEADLINE_MS + STORES_CLOSE_MS, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an uncaught error');
    else logger.info({ signal }, 'shutting down');
    await drainAndClose({ app, services, scheduler }, SHUTDOWN_DEADLINE_MS, logger);
  });
  try {
    await app.listen({ host: config.apiHost, port: config.apiPort });
  } catch (error) {
    await services.close();
    throw error;
  }
  logger.info({ backend: describeBackend(config) }, 'billing-archive API ready');
  // Restore jobs whose process stopped (a crash, a restart, a stopped CLI) go on here.
  services.bulkRestore.watch(RESTORE_WATCH_MS);
  if (config.archivalSchedule === undefined)
    logger.info('archival schedule disabled (ARCHIVAL_SCHEDULE is empty)');
  else scheduler = scheduleArchival(services.archiver, config.archivalSchedule, logger);
}
