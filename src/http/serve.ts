import type { Logger } from 'pino';
import { serverAuth } from '../auth/bootstrap-key.js';
import { createServices } from '../composition-root.js';
import { describeBackend, type Config } from '../config.js';
import { scheduleArchival, type ArchivalScheduler } from '../scheduler/archival-scheduler.js';
import { buildApp } from './app.js';
import { drainAndClose, SHUTDOWN_DEADLINE_MS } from './shutdown.js';

/** Runs the API until SIGINT or SIGTERM, then shuts it down: listener first, with a deadline (drainAndClose). */
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
  let closing: Promise<void> | undefined;
  let scheduler: ArchivalScheduler | undefined;
  const shutdown = (signal: string): Promise<void> => {
    closing ??= (async () => {
      logger.info({ signal }, 'shutting down');
      await drainAndClose({ app, services, scheduler }, SHUTDOWN_DEADLINE_MS, logger);
    })();
    return closing;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      shutdown(signal).then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
  try {
    await app.listen({ host: config.apiHost, port: config.apiPort });
  } catch (error) {
    await services.close();
    throw error;
  }
  logger.info({ backend: describeBackend(config) }, 'billing-archive API ready');
  if (config.archivalSchedule === undefined)
    logger.info('archival schedule disabled (ARCHIVAL_SCHEDULE is empty)');
  else scheduler = scheduleArchival(services.archiver, config.archivalSchedule, logger);
}
