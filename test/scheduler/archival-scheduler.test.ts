import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { scheduleArchival, type ArchivalScheduler } from '../../src/scheduler/archival-scheduler.js';
import { daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { heldReads } from '../helpers/held-reads.js';

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: pino.Logger; messages: string[] } {
  const messages: string[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => messages.push((JSON.parse(line) as { msg: string }).msg) },
  );
  return { logger, messages };
}

describe('the in-process archival scheduler', () => {
  let harness: Harness | undefined;
  let scheduler: ArchivalScheduler | undefined;
  afterEach(async () => {
    scheduler?.stop();
    scheduler = undefined;
    await harness?.destroy();
    harness = undefined;
  });

  it('fires on its cron schedule and archives', async () => {
    harness = await startHarness();
    for (const id of ['s1', 's2', 's3'])
      await harness.services.records.create(recordBody({ id, created_at: daysAgo(100) }));
    const { logger, messages } = capturingLogger();
    const h = harness;
    scheduler = scheduleArchival(h.services.archiver, '* * * * * *', logger);
    expect(scheduler.nextRun()).toBeInstanceOf(Date);
    await vi.waitFor(
      async () => {
        expect((await h.services.archiver.history(10)).map((run) => run.status)).toContain('succeeded');
      },
      { timeout: 10_000, interval: 50 },
    );
    scheduler.stop();
    await h.services.archiver.settled();
    const [run] = await h.services.archiver.history(10);
    expect(run).toMatchObject({ archived: 3, status: 'succeeded' });
    expect(messages).toContain('scheduled archival run started');
    expect(messages).toContain('scheduled archival run finished');
  });

  it('skips ticks while a run is in progress; after stop() the archiver waits for the run it started', async () => {
    // The first run waits inside its first read, so the next ticks find it running.
    const held = heldReads();
    harness = await startHarness({ wrap: held.wrap });
    await harness.services.records.create(recordBody({ id: 'o1', created_at: daysAgo(100) }));
    const { logger, messages } = capturingLogger();
    scheduler = scheduleArchival(harness.services.archiver, '* * * * * *', logger);
    await vi.waitFor(
      () => {
        expect(
          messages.filter((m) => m.startsWith('scheduled archival skipped')).length,
        ).toBeGreaterThanOrEqual(2);
      },
      { timeout: 10_000, interval: 50 },
    );
    scheduler.stop();
    scheduler = undefined;
    const settling = harness.services.archiver.settled();
    held.release();
    await settling;
    const runs = await harness.services.archiver.history(10);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'succeeded', archived: 1 });
  });
});
