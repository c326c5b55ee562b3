import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RecordDocument } from '../../src/domain/billing-record.js';
import { finished, spawnCli } from '../helpers/cli.js';
import { BACKENDS, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { killAfter, untilSeen } from './crash-kit.js';

/** Records a round restores: three pages of a job. */
const RECORDS = 250;
const ROUNDS = 2;

/**
 * Kills the real CLI's bulk restore (`restore --customer`) with SIGKILL part way, at a random
 * record, then lets a server process (minutes later, as the job went stale) take the job over:
 * every record of the customer must end live exactly once, byte for byte as archived plus
 * `restored_at`, nothing left archived, and the job's counts must say so.
 */
describe.each(BACKENDS)(
  'crash safety: SIGKILL part way through a bulk restore in the CLI (%s)',
  (backend) => {
    let harness: Harness;
    let env: Record<string, string>;

    beforeAll(async () => {
      harness = await startHarness({ backend, layout: 'segment' });
      env = { ...harness.env, LOG_LEVEL: 'warn' };
    });
    afterAll(async () => {
      await harness.destroy();
    });

    /** RECORDS records of `customer`, archived; their documents as archived. */
    async function archivedCustomer(customer: string): Promise<Map<string, RecordDocument>> {
      const docs = new Map<string, RecordDocument>();
      for (let i = 0; i < RECORDS; i++) {
        const created_at = `2025-${String(1 + (i % 12)).padStart(2, '0')}-01T00:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(3, '0')}Z`;
        const view = await harness.services.records.create(
          recordBody({ id: `${customer}-${i}`, customer_id: customer, amount: i + 0.01, created_at }),
        );
        docs.set(view.doc.id, view.doc);
      }
      // Thirty days: the records an earlier round restored today stay live.
      expect((await harness.services.archiver.runOnce({ olderThanDays: 30 })).archived).toBe(RECORDS);
      return docs;
    }

    const liveOf = async (customer: string) =>
      (await harness.adapters.live.list({ limit: 1000, customerId: customer })).length;

    for (let round = 0; round < ROUNDS; round++)
      it(`round ${round + 1}: killed at a random record, taken over, every record restored once`, async () => {
        const customer = `crash${round}`;
        const docs = await archivedCustomer(customer);
        const killAt = randomInt(1, RECORDS - 20);
        const child = spawnCli(['--json', 'restore', '--customer', customer], env);
        const outcome = finished(child);
        await killAfter(child, () => untilSeen(async () => (await liveOf(customer)) >= killAt, child));
        const ended = await outcome;
        expect(ended.signal, `the CLI ended before the kill: ${ended.stderr}`).toBe('SIGKILL');

        // A server, more than ten minutes later: the job went stale, and it takes it over.
        const server = await startHarness({
          reuse: harness,
          clock: () => new Date(Date.now() + 11 * 60_000),
        });
        try {
          const claimed = await server.services.bulkRestore.resumeAbandoned();
          expect(claimed).toHaveLength(1);
          const jobId = claimed[0] ?? '';
          await vi.waitFor(
            async () => {
              expect((await server.services.bulkRestore.job(jobId))?.status).toBe('succeeded');
            },
            { timeout: 60_000, interval: 100 },
          );
          const job = await server.services.bulkRestore.job(jobId);
          expect(job?.counts).toEqual({
            restored: RECORDS,
            already_live: 0,
            rehydrating: 0,
            failed: 0,
            not_found: 0,
          });
        } finally {
          await server.close();
        }
        for (const [id, archivedDoc] of docs) {
          const live = await harness.adapters.live.get(id);
          const { restored_at, ...rest } = live?.doc ?? ({} as RecordDocument);
          expect(rest, id).toEqual(archivedDoc);
          expect(restored_at, id).toEqual(expect.any(String));
        }
        expect(await liveOf(customer)).toBe(RECORDS);
        const stillIndexed = (await harness.adapters.index.getMany([...docs.keys()])).filter(Boolean);
        expect(stillIndexed).toEqual([]);
      });
  },
);
