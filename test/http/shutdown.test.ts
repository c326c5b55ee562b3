import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { apiClient } from '../helpers/api.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { heldReads } from '../helpers/held-reads.js';

interface LogLine {
  level: number;
  msg: string;
  runIds?: string[];
}

/** A logger whose warnings the test can read. */
function capturingLogger(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'warn' },
    { write: (line: string) => lines.push(JSON.parse(line) as LogLine) },
  );
  return { logger, lines };
}

describe.each(BACKENDS)('shutting the server down (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  /** Starts a run over HTTP that waits inside its first read until `release`. */
  async function heldRunOverHttp(options: { logger?: pino.Logger } = {}) {
    const held = heldReads();
    const h = await startHarness({ backend, wrap: held.wrap, ...options });
    harness = h;
    await h.services.records.create(recordBody({ id: 'in-flight', created_at: daysAgo(100) }));
    const started = await apiClient(h.app).post('/archive');
    expect(started.statusCode).toBe(202);
    return { h, runId: started.json<{ run_id: string }>().run_id, release: held.release };
  }

  it('closes the listener first, then waits for a run started over HTTP before closing the stores', async () => {
    const { h, runId, release } = await heldRunOverHttp();
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = h.app.server.address() as AddressInfo;
    let closed = false;
    const closing = h.close().then(() => {
      closed = true;
    });
    await vi.waitFor(async () => {
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    });
    // Refusing connections while the run goes on, over stores still open.
    expect(closed).toBe(false);
    expect(h.services.archiver.running()).toEqual([runId]);
    expect(await h.services.archiver.run(runId)).toMatchObject({ status: 'running' });
    release();
    await closing;
    harness = await startHarness({ reuse: h });
    expect(await harness.services.archiver.run(runId)).toMatchObject({ status: 'succeeded', archived: 1 });
  });

  it('waits no longer than its deadline, names the run it cut off, and the next run heals it', async () => {
    const { logger, lines } = capturingLogger();
    // Never released: the run is still reading when the stores close under it.
    const { h, runId } = await heldRunOverHttp({ logger });
    const begun = Date.now();
    await h.close(300);
    expect(Date.now() - begun).toBeLessThan(5_000);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        runIds: [runId],
        msg: expect.stringMatching(/^shutdown deadline passed/) as unknown,
      }),
    );
    harness = await startHarness({ reuse: h });
    const { archiver } = harness.services;
    // On Azure the cut-off run's lease lapses within 15 s; until then the next run is refused.
    await vi.waitFor(
      async () => {
        expect(await archiver.runOnce()).toMatchObject({ status: 'succeeded', archived: 1 });
      },
      { timeout: 30_000, interval: 1_000 },
    );
    expect(await archiver.run(runId)).toMatchObject({ status: 'crashed' });
  }, 60_000);
});
