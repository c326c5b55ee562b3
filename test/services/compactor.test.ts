import { afterEach, describe, expect, it } from 'vitest';
import type { ArchiveIndex } from '../../src/ports/archive-index.js';
import type { RecordService } from '../../src/services/record-service.js';
import { runCli } from '../helpers/cli.js';
import { BACKENDS, blobNames, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { intercept } from '../helpers/intercept.js';

describe.each(BACKENDS)('compact (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  /** Archives `count` records of `month` in one run; returns their ids and archived JSON. */
  async function archive(
    h: Harness,
    prefix: string,
    month: string,
    count: number,
  ): Promise<Map<string, string>> {
    const docs = new Map<string, string>();
    for (let i = 0; i < count; i++) {
      const id = `${prefix}-${i}`;
      const view = await h.services.records.create(
        recordBody({ id, amount: i, created_at: `${month}-0${1 + (i % 9)}T08:00:00.000Z` }),
      );
      docs.set(id, JSON.stringify(view.doc));
    }
    await h.services.archiver.runOnce();
    return docs;
  }

  async function segments(h: Harness): Promise<string[]> {
    return (await blobNames(h, 'segments/')).filter((name) => name.endsWith('.ndjson.gz'));
  }

  async function expectArchived(h: Harness, docs: Map<string, string>): Promise<void> {
    for (const [id, json] of docs) {
      const view = await h.services.records.get(id);
      expect(view.source, id).toBe('archive');
      expect(JSON.stringify(view.doc)).toBe(json);
    }
  }

  it('rewrites a mostly dead segment: survivors move, byte for byte, and the old segment goes', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    const docs = await archive(harness, 'a', '2025-01', 10);
    const [old] = await segments(harness);
    for (const id of ['a-0', 'a-1', 'a-2', 'a-3', 'a-4', 'a-5']) {
      await harness.services.records.restore(id);
      docs.delete(id);
    }
    const report = await harness.services.compactor.compact();
    expect(report).toMatchObject({
      segments_compacted: 1,
      segments_written: 1,
      records_moved: 4,
      skipped: [],
    });
    expect(report.bytes_after).toBeLessThan(report.bytes_before);
    const now = await segments(harness);
    expect(now).toHaveLength(1);
    expect(now).not.toContain(old);
    expect(now[0]).toMatch(/^segments\/created=2025-01\/compact-/);
    await expectArchived(harness, docs);
    // Entries keep their original run and archive time.
    const entry = await harness.adapters.index.get('a-9');
    expect(entry?.run_id).not.toMatch(/^compact-/);
    expect(await harness.services.verifier.verify()).toMatchObject({
      ok: true,
      orphans: { count: 0 },
      dead_records: 0,
    });
  });

  it('leaves segments under the threshold alone, and a dry run changes nothing', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    await archive(harness, 'b', '2025-02', 10);
    await harness.services.records.restore('b-0');
    const before = await segments(harness);
    expect(await harness.services.compactor.compact()).toMatchObject({
      segments_examined: 1,
      segments_compacted: 0,
    });
    const seen: number[][] = [];
    const dry = await harness.services.compactor.compact({
      minDeadShare: 0.1,
      dryRun: true,
      onProgress: (so) => seen.push([so.segments_examined, so.segments_compacted]),
    });
    expect(dry).toMatchObject({ dry_run: true, segments_compacted: 1, records_moved: 0 });
    // Once per segment examined, with the report so far.
    expect(seen).toEqual([[1, 1]]);
    expect(await segments(harness)).toEqual(before);
  });

  it('merges sparse segments of one month into one, keeping months apart', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    const docs = new Map([
      ...(await archive(harness, 'm1', '2025-03', 4)),
      ...(await archive(harness, 'm2', '2025-03', 4)),
      ...(await archive(harness, 'm3', '2025-05', 4)),
    ]);
    for (const prefix of ['m1', 'm2', 'm3'])
      for (const i of [0, 1, 2]) {
        await harness.services.records.restore(`${prefix}-${i}`);
        docs.delete(`${prefix}-${i}`);
      }
    expect(await segments(harness)).toHaveLength(3);
    const report = await harness.services.compactor.compact();
    expect(report).toMatchObject({ segments_compacted: 3, segments_written: 2, records_moved: 3 });
    const now = await segments(harness);
    expect(now.map((name) => name.split('/')[1])).toEqual(['created=2025-03', 'created=2025-05']);
    await expectArchived(harness, docs);
  });

  it('never brings back a record restored or deleted while it was being copied', async () => {
    const late: { records?: RecordService } = {};
    let landed: Promise<void> | undefined;
    harness = await startHarness({
      backend,
      layout: 'segment',
      wrap: (adapters) => ({
        ...adapters,
        index: intercept<ArchiveIndex>(adapters.index, {
          repoint: async (from, to) => {
            // Requests land between compaction's copy and its re-pointing of the entries.
            if (late.records) {
              const { records } = late;
              late.records = undefined;
              landed = (async () => {
                await records.restore('r-8');
                await records.delete('r-9', undefined);
              })();
            }
            await landed;
            return adapters.index.repoint(from, to);
          },
        }),
      }),
    });
    await archive(harness, 'r', '2025-06', 10);
    for (const i of [0, 1, 2, 3, 4, 5]) await harness.services.records.restore(`r-${i}`);
    late.records = harness.services.records;
    await harness.services.compactor.compact();
    expect(late.records).toBeUndefined();
    expect((await harness.services.records.get('r-8')).source).toBe('live');
    expect(await harness.adapters.index.get('r-8')).toBeUndefined();
    await expect(harness.services.records.get('r-9')).rejects.toMatchObject({ code: 'not_found' });
    expect((await harness.services.records.get('r-7')).source).toBe('archive');
    expect(await harness.services.verifier.verify()).toMatchObject({ ok: true });
  });

  it('keeps a record whose delete was noted but never happened (a DELETE that lost its races)', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    const docs = await archive(harness, 'n', '2025-07', 10);
    for (const i of [0, 1, 2, 3, 4, 5]) {
      await harness.services.records.restore(`n-${i}`);
      docs.delete(`n-${i}`);
    }
    // A DELETE notes first, then withdraws; when every withdrawal loses a race it answers 409 and the note stays.
    await harness.adapters.deletions.note('n-7', new Date(Date.now() + 60_000).toISOString());
    expect(await harness.services.compactor.compact()).toMatchObject({
      segments_compacted: 1,
      records_moved: 4,
    });
    await expectArchived(harness, docs);
    expect(await harness.services.verifier.verify()).toMatchObject({ ok: true });
  });

  it('skips a segment that does not verify, and says why', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    await archive(harness, 'x', '2025-07', 4);
    for (const i of [0, 1, 2]) await harness.services.records.restore(`x-${i}`);
    const [segment] = await segments(harness);
    const bytes = await harness.adapters.store.get(segment ?? '');
    bytes[5] = (bytes[5] ?? 0) ^ 0xff;
    await harness.overwriteBlob(segment ?? '', bytes);
    const report = await harness.services.compactor.compact();
    expect(report).toMatchObject({ segments_compacted: 0, records_moved: 0 });
    expect(report.skipped).toEqual([{ blob: segment, reason: 'does not match its manifest; run `verify`' }]);
    expect(await segments(harness)).toEqual([segment]);
  });

  it('through the CLI: prints the report, and refuses a share outside (0, 1]', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    await archive(harness, 'c', '2025-08', 4);
    for (const i of [0, 1, 2]) await harness.services.records.restore(`c-${i}`);
    const env = { ...harness.env, LOG_LEVEL: 'warn' };
    const bad = await runCli(['--json', 'compact', '--min-dead-share', '1.5'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected a share above 0 and at most 1');
    const done = await runCli(['--json', 'compact', '--min-dead-share', '0.7'], env);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ segments_compacted: 1, records_moved: 1 });
  });
});
