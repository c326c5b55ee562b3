import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SqliteDeletionNotes } from '../../src/adapters/sqlite/sqlite-deletion-notes.js';
import { SqliteRunLog } from '../../src/adapters/sqlite/sqlite-run-log.js';
import type { StoredEntry } from '../../src/ports/archive-index.js';
import { deletedDuringRunChecks } from '../../src/services/deleted-during-run.js';
import { tempDir } from '../helpers/temp-dir.js';
import { recordedRun } from '../helpers/runs.js';

const run = (runId: string, status: 'running' | 'succeeded') =>
  recordedRun(runId, { started_at: '2026-11-01T00:00:00.000Z', status });

const entry = (id: string, runId: string): StoredEntry => ({
  id,
  customer_id: 'c-1',
  created_at: '2026-01-01T00:00:00.000Z',
  location: { layout: 'record', blob: `records/${id}.json`, offset: 0, length: 10 },
  sha256: 'ab'.repeat(32),
  size: 10,
  archived_at: '2026-11-01T00:00:00.000Z',
  run_id: runId,
  etag: 'e',
});

describe('whether an entry is a running run’s copy of a record deleted during it', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let runs: SqliteRunLog;
  let deletions: SqliteDeletionNotes;
  beforeEach(async () => {
    dir = await tempDir();
    runs = new SqliteRunLog(join(dir.path, 'runs.sqlite'));
    deletions = new SqliteDeletionNotes(join(dir.path, 'index.sqlite'));
    await Promise.all([runs.init(), deletions.init()]);
    await runs.save(run('ended', 'succeeded'));
    await runs.save(run('going', 'running'));
    await deletions.note('deleted', '2026-11-01T00:05:00.000Z');
    await deletions.confirm('deleted', '2026-11-01T00:05:01.000Z');
  });
  afterEach(async () => {
    await Promise.all([runs.close(), deletions.close()]);
    await dir.remove();
  });

  it('hides the copy of a record deleted during its running run, and no other', async () => {
    const { one } = deletedDuringRunChecks(deletions, runs);
    expect(await one(entry('deleted', 'going'))).toBe(true);
    expect(await one(entry('deleted', 'ended'))).toBe(false);
    expect(await one(entry('kept', 'going'))).toBe(false);
  });

  it('learns that a run ended, so later reads of its entries ask no store', async () => {
    const { one } = deletedDuringRunChecks(deletions, runs);
    const confirmedAt = vi.spyOn(deletions, 'confirmedAt');
    const get = vi.spyOn(runs, 'get');
    expect(await one(entry('a', 'ended'))).toBe(false);
    await vi.waitFor(() => {
      expect(get).toHaveBeenCalledTimes(1);
    });
    await new Promise((resolve) => setImmediate(resolve));
    confirmedAt.mockClear();
    get.mockClear();
    for (const id of ['b', 'c', 'deleted']) expect(await one(entry(id, 'ended'))).toBe(false);
    expect(confirmedAt).not.toHaveBeenCalled();
    expect(get).not.toHaveBeenCalled();
    // A running run is never taken for ended: its entries are asked about each time.
    expect(await one(entry('x', 'going'))).toBe(false);
    expect(await one(entry('y', 'going'))).toBe(false);
    expect(confirmedAt).toHaveBeenCalledTimes(2);
  });

  it('asks each run of many entries once, and the deletions of running runs’ entries only', async () => {
    const { among } = deletedDuringRunChecks(deletions, runs);
    const confirmedAt = vi.spyOn(deletions, 'confirmedAt');
    const get = vi.spyOn(runs, 'get');
    const hidden = await among([
      entry('deleted', 'going'),
      entry('kept', 'going'),
      entry('p', 'ended'),
      entry('q', 'ended'),
    ]);
    expect([...hidden]).toEqual(['deleted']);
    expect(get).toHaveBeenCalledTimes(2);
    expect(confirmedAt.mock.calls.map(([id]) => id).sort()).toEqual(['deleted', 'kept']);
  });
});
