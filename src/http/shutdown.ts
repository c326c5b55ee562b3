import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Services } from '../composition-root.js';
import type { ArchivalScheduler } from '../scheduler/archival-scheduler.js';

/**
 * How long shutdown waits for requests and archival runs in flight. Kubernetes and Azure Container
 * Apps send SIGKILL 30 s after SIGTERM unless told otherwise: this leaves time to close the stores
 * first. A run cut off is safe: its steps are the crash-safe ones of docs/ARCHITECTURE.md §4.
 */
export const SHUTDOWN_DEADLINE_MS = 25_000;

/** What a serving process has running, for drainAndClose to stop. */
export interface Running {
  app: FastifyInstance;
  services: Pick<Services, 'archiver' | 'bulkRestore' | 'close'>;
  scheduler?: ArchivalScheduler | undefined;
}

/**
 * Stops the schedule and the listener, lets the requests and archival runs in flight finish for up
 * to `deadlineMs` (restore jobs stop at their next page and are handed back for a restart to take),
 * then closes the stores, under whatever still runs.
 */
export async function drainAndClose(
  { app, services, scheduler }: Running,
  deadlineMs: number,
  logger: Logger,
): Promise<void> {
  scheduler?.stop();
  try {
    // Requests start runs too: once each is answered, every run the process will have is tracked.
    const drained = Promise.all([
      app.close().then(() => services.archiver.settled()),
      services.bulkRestore.stop(),
    ]);
    if (!(await within(deadlineMs, drained))) {
      logger.warn(
        { deadlineMs, runIds: services.archiver.running(), restoreJobIds: services.bulkRestore.running() },
        'shutdown deadline passed: closing the stores under the requests and archival runs still in flight; a run cut off is left as if killed, which is safe, and the next run marks it crashed',
      );
    }
  } finally {
    await services.close();
  }
}

/** Whether `work` ends within `ms`; it fails if `work` does. */
async function within(ms: number, work: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false);
  });
  try {
    return await Promise.race([work.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}
