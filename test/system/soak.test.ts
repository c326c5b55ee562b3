import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GONE, RecordModel } from '../helpers/soak/model.mjs';
import { formatSoakReport } from '../helpers/soak/report.mjs';
import { runSoak, type SoakResult } from '../helpers/soak/workload.mjs';
import { BACKENDS, startHarness } from '../helpers/harness.js';

const SERVER = fileURLToPath(new URL('../../dist/server.js', import.meta.url));
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/**
 * How long everything runs at once, and with how many clients: the Azure stand-ins answer several
 * times slower on 2 cores, so fewer clients leave archival runs and compaction their share.
 */
const SETTINGS = {
  embedded: { durationMs: 25_000 },
  azure: { durationMs: 24_000, compactEveryMs: 4_000, writers: 2, readers: 1, restorers: 1 },
} as const;

/** How many answers of `kind` during the soak were `answer` (any answer when absent). */
function answered(result: SoakResult, kind: string, answer?: string): number {
  const figures = result.phases.find((phase) => phase.name === 'soak')?.kinds.find((k) => k.kind === kind);
  if (!figures) return 0;
  return answer === undefined ? figures.count : (figures.answers[answer] ?? 0);
}

describe.each(BACKENDS)('the concurrency soak (%s)', (backend) => {
  it('keeps every acknowledged write through writers, readers, restores, archival runs, compaction and verify at once', async () => {
    // The harness makes fresh stores; the soak drives them through the built server and CLI.
    const harness = await startHarness({ backend });
    await harness.close();
    try {
      const result = await runSoak({
        env: harness.env,
        serverPath: SERVER,
        cliPath: CLI,
        ...SETTINGS[backend],
        verifyEveryMs: 5_000,
      });
      const report = formatSoakReport(result);
      expect(result.check, report).toMatchObject({ ok: true, problems: [], violationCount: 0 });

      // Every kind of operation ran often enough to have raced the others (minimums from the
      // slower backend, the Azure stand-ins, on 2 cores).
      const minimums: [string, number, number][] = [
        ['creates', answered(result, 'create', '201'), 20],
        ['re-creates of deleted ids', answered(result, 'recreate', '201'), 3],
        ['updates', answered(result, 'update', '200') + answered(result, 'update if-match', '200'), 20],
        ['deletes', answered(result, 'delete', '204') + answered(result, 'delete if-match', '204'), 5],
        ['racing pairs with one winner', answered(result, 'race pair', '1 of 2 succeeded'), 5],
        ['restores', answered(result, 'restore', '200'), 20],
        ['gets', answered(result, 'get', '200'), 50],
        ['lists', answered(result, 'list', '200'), 10],
        ['archival runs', result.background.runs, 2],
        ['records archived', result.background.archived, 20],
        ['compactions that moved records', result.background.compactionsThatMoved, 1],
        ['verifies under load', result.background.verifies, 1],
      ];
      for (const [what, count, minimum] of minimums)
        expect(count, `${what}\n${report}`).toBeGreaterThanOrEqual(minimum);
      expect(result.final.archived, report).toBeGreaterThan(0);
    } finally {
      await harness.destroy();
    }
  }, 180_000);
});

describe('the soak model', () => {
  const fields = (amount: number, updatedAt = '2026-01-01T00:00:00.000Z') => ({
    id: 'a',
    amount,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: updatedAt,
  });
  const doc = (amount: number, updatedAt?: string) => JSON.stringify(fields(amount, updatedAt));

  it('holds a record to its last acknowledged write', () => {
    const model = new RecordModel();
    const created = model.beginWrite('a', 'create', { kind: 'like', doc: fields(1), free: [] });
    model.acknowledge(created, { kind: 'exact', text: doc(1) }, '201');
    const updated = model.beginWrite('a', 'update', { kind: 'like', doc: fields(2), free: ['updated_at'] });
    model.acknowledge(updated, { kind: 'exact', text: doc(2) }, '200');

    expect(model.checkFinal('a', { kind: 'doc', text: doc(2) })).toBe(true);
    expect(model.checkFinal('a', { kind: 'doc', text: doc(1) })).toBe(false); // the update lost
    expect(model.checkFinal('a', GONE)).toBe(false); // the record lost
    expect(model.checkFinal('a', { kind: 'doc', text: doc(3) })).toBe(false); // altered
    expect(model.violations.map((v) => v.what)).toEqual(
      Array(3).fill('the final read differs from the last acknowledged write'),
    );
  });

  it('refuses a deleted record that reads again, and content a refused write proposed', () => {
    const model = new RecordModel();
    const created = model.beginWrite('a', 'create', { kind: 'like', doc: fields(1), free: [] });
    model.acknowledge(created, { kind: 'exact', text: doc(1) }, '201');
    const refused = model.beginWrite('a', 'update', { kind: 'like', doc: fields(2), free: ['updated_at'] });
    model.refuse(refused, '412 precondition_failed');
    expect(model.checkFinal('a', { kind: 'doc', text: doc(2) })).toBe(false);
    const deleted = model.beginWrite('a', 'delete', GONE);
    model.acknowledge(deleted, GONE, '204');

    expect(model.checkRead('a', model.beginRead(), { kind: 'doc', text: doc(1) }, 'get')).toBe(false);
    expect(model.checkFinal('a', GONE)).toBe(true);
    expect(model.mustExist('a')).toBe(false);
  });

  it('accepts either side of an unanswered write, and nothing else', () => {
    const model = new RecordModel();
    const created = model.beginWrite('a', 'create', { kind: 'like', doc: fields(1), free: [] });
    model.acknowledge(created, { kind: 'exact', text: doc(1) }, '201');
    expect(model.claim('a')).toBe(true);
    const timedOut = model.beginWrite('a', 'update', {
      kind: 'like',
      doc: fields(2),
      free: ['updated_at'],
    });
    model.leaveOpen(timedOut, 'timeout');
    model.release('a');

    const landed = doc(2, '2026-11-29T10:00:00.000Z');
    expect(model.checkFinal('a', { kind: 'doc', text: doc(1) })).toBe(true);
    expect(model.checkFinal('a', { kind: 'doc', text: landed })).toBe(true);
    expect(model.checkFinal('a', { kind: 'doc', text: doc(3) })).toBe(false);
    expect(model.mustExist('a')).toBe(true);
    // No further writes: its outcome stays one of the two.
    expect(model.claim('a')).toBe(false);
  });

  it('lets a read see a write in flight, but not content older than what was acknowledged before it began', () => {
    const model = new RecordModel();
    const created = model.beginWrite('a', 'create', { kind: 'like', doc: fields(1), free: [] });
    model.acknowledge(created, { kind: 'exact', text: doc(1) }, '201');
    const during = model.beginRead();
    const updated = model.beginWrite('a', 'update', { kind: 'like', doc: fields(2), free: ['updated_at'] });
    const inFlight = doc(2, '2026-11-29T10:00:00.000Z');
    expect(model.checkRead('a', during, { kind: 'doc', text: doc(1) }, 'get')).toBe(true);
    expect(model.checkRead('a', during, { kind: 'doc', text: inFlight }, 'get')).toBe(true);
    model.acknowledge(updated, { kind: 'exact', text: inFlight }, '200');
    expect(model.checkRead('a', model.beginRead(), { kind: 'doc', text: doc(1) }, 'get')).toBe(false);
    expect(model.violations).toHaveLength(1);
  });

  it('calls an acknowledgement that differs from what was written a violation', () => {
    const model = new RecordModel();
    const created = model.beginWrite('a', 'create', { kind: 'like', doc: fields(1), free: [] });
    model.acknowledge(created, { kind: 'exact', text: doc(5) }, '201');
    expect(model.violations[0]?.what).toBe('create was acknowledged (201) with other content than it wrote');
  });
});
