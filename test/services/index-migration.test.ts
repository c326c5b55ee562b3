import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobArchiveIndex } from '../../src/adapters/blob-index/blob-archive-index.js';
import { ConfigError } from '../../src/config.js';
import { sha256Hex } from '../../src/domain/billing-record.js';
import { ValidationError } from '../../src/domain/errors.js';
import { INDEX_MIGRATION_PREFIX } from '../../src/domain/index-migration.js';
import type { ArchiveEntry, ArchiveIndex } from '../../src/ports/archive-index.js';
import { IndexMigration, type IndexMigrationDeps } from '../../src/services/index-migration.js';
import { RETIREMENT_RECHECK_MS } from '../../src/services/retired-index-guard.js';
import { apiClient, type ApiClient } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';
import {
  BACKENDS,
  blobNames,
  daysAgo,
  recordBody,
  silentLogger,
  startHarness,
  type Harness,
} from '../helpers/harness.js';

/**
 * `index migrate` (issue 15): the backend's own index copied into the blob-native one while the
 * service runs, resumed after a kill, kept in step by further sync passes, and finished after the
 * switch without undoing what the blob index did meanwhile.
 */
/** A finish or abandon pass waits for processes on the side it leaves to notice; tests need not. */
const noWait = () => Promise.resolve();

/** `target` with some of its methods replaced: a fault a test injects on purpose. */
function overriding<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(inner, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof T];
      const value: unknown = Reflect.get(inner, property, inner);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(inner) : value;
    },
  });
}

/**
 * `index`, whose first look-up of `id` runs `late` right after it answered: a request of another
 * process landing just after a pass read that id.
 */
function landingAfterLookUp(
  index: ArchiveIndex,
  id: string,
  late: () => Promise<void>,
): { index: ArchiveIndex; landed: () => boolean } {
  let pending: (() => Promise<void>) | undefined = late;
  return {
    index: overriding(index, {
      getMany: async (ids: readonly string[]) => {
        const found = await index.getMany(ids);
        const run = ids.includes(id) ? pending : undefined;
        if (run) {
          pending = undefined;
          await run();
        }
        return found;
      },
    }),
    landed: () => pending === undefined,
  };
}

describe.each(BACKENDS)('index migrate (%s)', (backend) => {
  const shards = { ARCHIVE_INDEX_SHARDS: '4', BATCH_SIZE: '5' };
  let old: Harness;
  let oldApi: ApiClient;

  beforeEach(async () => {
    old = await startHarness({ backend, layout: 'segment', env: shards, sleep: noWait });
    oldApi = apiClient(old.app);
  });
  afterEach(async () => {
    await old.destroy();
  });

  async function archiveOld(api: ApiClient, prefix: string, count: number): Promise<Map<string, unknown>> {
    const created = new Map<string, unknown>();
    for (let i = 0; i < count; i++) {
      const response = await api.post(
        '/billing',
        recordBody({ id: `${prefix}-${i}`, created_at: daysAgo(200) }),
      );
      expect(response.statusCode).toBe(201);
      created.set(`${prefix}-${i}`, response.json());
    }
    expect((await api.post('/archive/sync')).json()).toMatchObject({ archived: count });
    return created;
  }

  /** A migration over the old process's stores, as the CLI makes one, with some parts replaced. */
  function migrationWith(parts: Partial<IndexMigrationDeps> & { target: ArchiveIndex }): IndexMigration {
    return new IndexMigration({
      source: old.adapters.index,
      sourceKind: backend === 'azure' ? 'cosmos' : 'sqlite',
      store: old.adapters.store,
      live: old.adapters.live,
      deletions: old.adapters.deletions,
      lock: old.adapters.lock,
      slices: 1,
      clock: () => new Date(),
      sleep: noWait,
      logger: silentLogger,
      ...parts,
    });
  }

  /** A delete of `id` as the API makes one: noted, withdrawn through `index`, confirmed. */
  function deleteThrough(index: ArchiveIndex, id: string): () => Promise<void> {
    return async () => {
      const at = new Date().toISOString();
      await old.adapters.deletions.note(id, at);
      await index.withdraw(id);
      await old.adapters.deletions.confirm(id, at);
    };
  }

  it('syncs the index into blob files, catches what the API withdrew meanwhile, and finishes after the switch', async () => {
    const archived = await archiveOld(oldApi, 'old', 12);

    const first = await old.services.migrateIndex({ pass: 'sync', pageSize: 5 });
    expect(first).toMatchObject({
      pass: 'sync',
      resumed: false,
      tally: { examined: 24, copied: 12, withdrawn: 0, kept: 0 },
      counts_match: true,
    });
    expect(first.counts.target).toEqual(first.counts.source);
    expect(first.synced_from).toBe(first.pass_started_at);

    // The API keeps running on the old index: a restore between passes is caught by the next.
    expect((await oldApi.post('/restore/old-0')).statusCode).toBe(200);
    const second = await old.services.migrateIndex({ pass: 'sync' });
    expect(second.tally).toEqual({ examined: 11 + 12, copied: 0, withdrawn: 1, kept: 0 });
    expect(second.counts_match).toBe(true);
    // One checkpoint stays: the newest.
    expect(await blobNames(old, INDEX_MIGRATION_PREFIX)).toHaveLength(1);

    // Until the finish, nothing may move or delete archived bytes: two indexes point at them.
    const refused = await oldApi.post('/archive/sync');
    expect(refused.statusCode).toBe(409);
    const problem = refused.json<{ error: string; message: string }>();
    expect(problem.error).toBe('archival_running');
    expect(problem.message).toContain('an archival run waits while the archive index migrates');
    await expect(old.services.compactor.compact({ minDeadShare: 0.01 })).rejects.toThrow(
      /compaction waits while the archive index migrates/,
    );
    await expect(old.services.verifier.verify({ repair: true })).rejects.toThrow(
      /a repair waits while the archive index migrates/,
    );
    expect((await old.services.archiver.runOnce({ dryRun: true })).status).toBe('succeeded');
    expect((await old.services.verifier.verify()).ok).toBe(true);

    // The switch: a process on the blob index reads every archived record as it was.
    const blob = await startHarness({ reuse: old, env: { ...shards, ARCHIVE_INDEX: 'blob' }, sleep: noWait });
    const blobApi = apiClient(blob.app);
    try {
      expect(blob.adapters.index).toBeInstanceOf(BlobArchiveIndex);
      for (const [id, body] of archived) {
        if (id === 'old-0') continue;
        const response = await blobApi.get(`/billing/${id}`);
        expect(response.statusCode, id).toBe(200);
        expect(response.headers['x-record-source']).toBe('archive');
        expect(response.json()).toEqual(body);
      }
      expect((await blobApi.post('/archive/sync')).statusCode).toBe(409);

      // While the switch rolls out, a process still on the old index deletes one record and
      // restores another; the blob index's process restores a third.
      expect((await oldApi.delete('/billing/old-1')).statusCode).toBe(204);
      expect((await oldApi.post('/restore/old-2')).statusCode).toBe(200);
      expect((await blobApi.post('/restore/old-3')).statusCode).toBe(200);
      // Someone syncing again from the old side now would undo that restore: refused.
      await expect(old.services.migrateIndex({ pass: 'sync' })).rejects.toThrow(
        /the blob index changed since the migration last wrote it/,
      );
      // The blob index has not heard of the old process's delete yet.
      expect((await blobApi.get('/billing/old-1')).statusCode).toBe(200);

      await expect(old.services.migrateIndex({ pass: 'finish' })).rejects.toThrow(ValidationError);
      await expect(blob.services.migrateIndex({ pass: 'sync' })).rejects.toThrow(ValidationError);
      const finish = await blob.services.migrateIndex({ pass: 'finish', pageSize: 4 });
      expect(finish.synced_from).toBe(second.pass_started_at);
      // Withdrew old-1 (deleted) and old-2 (live); kept old-3, restored through the blob index
      // and still on the source: copying it back would archive a live record twice.
      expect(finish.tally).toMatchObject({ copied: 0, withdrawn: 2, kept: 1 });
      // Once finished, no pass may run again: a sync would undo the blob index's own changes.
      await expect(blob.services.migrateIndex({ pass: 'finish' })).rejects.toThrow(/the migration finished/);
      await expect(old.services.migrateIndex({ pass: 'sync' })).rejects.toThrow(/the migration finished/);
      // A process left on the old index may not archive into it, nor start again on it.
      const stray = await oldApi.post('/archive/sync');
      expect(stray.statusCode).toBe(409);
      expect(stray.json<{ message: string }>().message).toContain(
        'an archival run cannot run on the old archive index: the archive index moved into the archive',
      );
      await expect(startHarness({ reuse: old, env: shards })).rejects.toThrow(ConfigError);

      expect((await blobApi.get('/billing/old-1')).statusCode).toBe(404);
      const index = blob.adapters.index;
      expect(await index.getMany(['old-1', 'old-2', 'old-3'])).toEqual([undefined, undefined, undefined]);
      // 12 archived; old-0 to old-3 came back or went.
      expect((await blob.services.stats.stats()).archived_records).toBe(8);

      // Archival resumes on the blob index.
      const fresh = await archiveOld(blobApi, 'new', 1);
      for (const [id, body] of fresh) {
        const response = await blobApi.get(`/billing/${id}`);
        expect(response.headers['x-record-source'], id).toBe('archive');
        expect(response.json()).toEqual(body);
      }
      const report = await blob.services.verifier.verify();
      expect(report.ok, JSON.stringify(report)).toBe(true);
    } finally {
      await blob.close();
    }
  });

  it('a process left on the old index stops answering within seconds of the finish, so it can neither serve nor change a record', async () => {
    await archiveOld(oldApi, 'old', 3);
    expect((await old.services.migrateIndex({ pass: 'sync' })).counts_match).toBe(true);
    // A process started before the finish, on the old setting, that nobody switched.
    let ahead = 0;
    const stale = await startHarness({ reuse: old, env: shards, clock: () => new Date(Date.now() + ahead) });
    const staleApi = apiClient(stale.app);
    const blob = await startHarness({ reuse: old, env: { ...shards, ARCHIVE_INDEX: 'blob' }, sleep: noWait });
    const blobApi = apiClient(blob.app);
    try {
      expect((await staleApi.get('/billing/old-0')).statusCode).toBe(200);
      expect((await staleApi.get('/ready')).statusCode).toBe(200);
      await blob.services.migrateIndex({ pass: 'finish' });

      ahead += RETIREMENT_RECHECK_MS;
      expect((await staleApi.get('/billing/old-0')).statusCode).toBe(503);
      // Out of a load balancer's rotation, saying why to an admin.
      const ready = await staleApi.get('/ready');
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({
        ready: false,
        stores: { index: { ok: false, error: expect.stringContaining('set ARCHIVE_INDEX=blob') as unknown } },
      });
      expect((await staleApi.post('/restore/old-1')).statusCode).toBe(503);
      expect((await staleApi.delete('/billing/old-2')).statusCode).toBe(503);
      // Nothing changed: both records are still archived, as the blob index says.
      for (const id of ['old-1', 'old-2']) {
        const response = await blobApi.get(`/billing/${id}`);
        expect(response.statusCode, id).toBe(200);
        expect(response.headers['x-record-source'], id).toBe('archive');
      }
      expect((await blob.services.verifier.verify()).ok).toBe(true);
    } finally {
      await blob.close();
      await stale.close();
    }
  });

  it('abandons a migration before its finish: the old index takes back what the blob index withdrew, the blob index goes, and archival resumes', async () => {
    const archived = await archiveOld(oldApi, 'old', 6);
    await expect(old.services.migrateIndex({ pass: 'abandon' })).rejects.toThrow(
      'no index migration has begun: there is nothing to abandon',
    );
    expect((await old.services.migrateIndex({ pass: 'sync' })).counts_match).toBe(true);
    let ahead = 0;
    const blob = await startHarness({
      reuse: old,
      env: { ...shards, ARCHIVE_INDEX: 'blob' },
      clock: () => new Date(Date.now() + ahead),
    });
    const blobApi = apiClient(blob.app);
    try {
      // Switched processes restore one record and delete another; an old one restores a third.
      expect((await blobApi.post('/restore/old-0')).statusCode).toBe(200);
      expect((await blobApi.delete('/billing/old-1')).statusCode).toBe(204);
      expect((await oldApi.post('/restore/old-2')).statusCode).toBe(200);
      await expect(blob.services.migrateIndex({ pass: 'abandon' })).rejects.toThrow(
        'an abandon pass runs on the old index, which the archive goes back to: set ARCHIVE_INDEX=',
      );

      const report = await old.services.migrateIndex({ pass: 'abandon', pageSize: 2 });
      // old-0 and old-1 taken back; old-2 the old index had withdrawn itself.
      expect(report).toMatchObject({ pass: 'abandon', tally: { withdrawn: 2, kept: 0 } });
      expect(report.tally.removed).toBeGreaterThan(0);
      expect(await blobNames(old, 'index/roots/')).toEqual([]);
      expect(await blobNames(old, 'index/files/')).toEqual([]);
      await expect(old.services.migrateIndex({ pass: 'abandon' })).rejects.toThrow('abandoned already');
      await expect(old.services.migrateIndex({ pass: 'finish' })).rejects.toThrow(ValidationError);

      // The old index serves every record as the switched processes left it.
      expect((await oldApi.get('/billing/old-1')).statusCode).toBe(404);
      for (const id of ['old-0', 'old-2']) {
        const response = await oldApi.get(`/billing/${id}`);
        expect(response.headers['x-record-source'], id).toBe('live');
      }
      for (const id of ['old-3', 'old-4', 'old-5']) {
        const response = await oldApi.get(`/billing/${id}`);
        expect(response.headers['x-record-source'], id).toBe('archive');
        expect(response.json(), id).toEqual(archived.get(id));
      }
      // The blob index is gone: a process still on it stops (the pass waited for it to notice),
      // and none may start on it.
      ahead += RETIREMENT_RECHECK_MS;
      await expect(blob.services.records.get('old-3')).rejects.toThrow('the index migration was abandoned');
      await expect(startHarness({ reuse: old, env: { ...shards, ARCHIVE_INDEX: 'blob' } })).rejects.toThrow(
        ConfigError,
      );
    } finally {
      await blob.close();
    }
    // Archival resumes on the old index, and the archive verifies whole.
    expect((await oldApi.post('/archive/sync')).statusCode).toBe(200);
    const verified = await old.services.verifier.verify();
    expect(verified.ok, JSON.stringify(verified)).toBe(true);
    expect((await old.services.stats.stats()).archived_records).toBe(3);

    // A migration may begin again, from scratch.
    const again = await old.services.migrateIndex({ pass: 'sync' });
    expect(again).toMatchObject({ resumed: false, tally: { copied: 3 }, counts_match: true });
  });

  it('resumes a killed pass from its checkpoint instead of starting over', async () => {
    await archiveOld(oldApi, 'old', 12);
    const target = new BlobArchiveIndex(old.adapters.store, { shards: 4, cacheBytes: 1 << 20 });
    await target.init();
    const put: string[] = [];
    let putsLeft = 1;
    const failing = overriding(target, {
      putMany: async (entries: readonly ArchiveEntry[]) => {
        if (putsLeft-- <= 0) throw new Error('injected: the store went away');
        put.push(...entries.map((entry) => entry.id));
        return target.putMany(entries);
      },
    });
    const migration = (into: ArchiveIndex) => migrationWith({ target: into });

    await expect(migration(failing).migrate({ pass: 'sync', pageSize: 5 })).rejects.toThrow('injected');
    expect(put).toHaveLength(5);
    putsLeft = Infinity;
    const resumed = await migration(failing).migrate({ pass: 'sync', pageSize: 5 });
    // Only the pages after the checkpoint were put again.
    expect(put).toHaveLength(12);
    expect(new Set(put).size).toBe(12);
    expect(resumed).toMatchObject({
      resumed: true,
      tally: { examined: 24, copied: 12, withdrawn: 0 },
      counts_match: true,
    });
    expect((await target.getMany(['old-0', 'old-11'])).map((entry) => entry?.id)).toEqual([
      'old-0',
      'old-11',
    ]);

    const restarted = await migration(target).migrate({ pass: 'sync', restart: true });
    expect(restarted).toMatchObject({ resumed: false, tally: { examined: 24, copied: 0 } });
  });

  it('an abandon catches a withdrawal a late blob index process committed after its page, and a killed one resumes while archival waits', async () => {
    await archiveOld(oldApi, 'old', 6);
    expect((await old.services.migrateIndex({ pass: 'sync' })).counts_match).toBe(true);
    const target = new BlobArchiveIndex(old.adapters.store, { shards: 4, cacheBytes: 1 << 20 });
    await target.init();
    // A process on the blob index whose delete of old-5 passed its check before it noticed the
    // abandon, and commits only after the pass read old-5's page.
    const late = new BlobArchiveIndex(old.adapters.store, { shards: 4, cacheBytes: 1 << 20 });
    await late.init();
    const lagging = landingAfterLookUp(target, 'old-5', deleteThrough(late, 'old-5'));
    // The store goes away once the removal of the blob index's files has begun.
    let filesDeletable = 0;
    const store = overriding(old.adapters.store, {
      delete: async (name: string) => {
        if (name.startsWith('index/files/') && filesDeletable-- <= 0)
          throw new Error('injected: the store went away');
        return old.adapters.store.delete(name);
      },
    });
    const waited: number[] = [];
    const abandon = (restart = false) =>
      migrationWith({
        target: lagging.index,
        store,
        sleep: (ms) => {
          waited.push(ms);
          return Promise.resolve();
        },
      }).migrate({ pass: 'abandon', restart, pageSize: 4 });

    await expect(abandon()).rejects.toThrow('injected');
    // It waited for processes on the blob index to notice before it read anything.
    expect(waited).toEqual([2 * RETIREMENT_RECHECK_MS]);
    const refused = await oldApi.post('/archive/sync');
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ message: string }>().message).toContain(
      'waits while an index migration is abandoned',
    );
    await expect(abandon(true)).rejects.toThrow('an abandon pass always resumes where it stopped');

    filesDeletable = Infinity;
    const report = await abandon();
    expect(report).toMatchObject({ pass: 'abandon', resumed: true, tally: { withdrawn: 1 } });
    expect(await blobNames(old, 'index/')).toEqual(
      (await blobNames(old, INDEX_MIGRATION_PREFIX)).map((name) => name),
    );
    // The late delete reached the old index; the rest stayed archived.
    expect((await oldApi.get('/billing/old-5')).statusCode).toBe(404);
    expect((await oldApi.get('/billing/old-4')).headers['x-record-source']).toBe('archive');
    expect((await oldApi.post('/archive/sync')).statusCode).toBe(200);
  });

  it('an abandon before any sync finished takes back only confirmed deletes: a blob index a sync had not reached lacks entries for no reason', async () => {
    await archiveOld(oldApi, 'old', 6);
    const target = new BlobArchiveIndex(old.adapters.store, { shards: 4, cacheBytes: 1 << 20 });
    await target.init();
    const migration = (into: ArchiveIndex) => migrationWith({ target: into });
    // A first sync killed after its first page: old-2 to old-5 are not in the blob index yet.
    let puts = 0;
    const failing = overriding(target, {
      putMany: (entries: readonly ArchiveEntry[]) =>
        puts++ > 0 ? Promise.reject(new Error('injected')) : target.putMany(entries),
    });
    await expect(migration(failing).migrate({ pass: 'sync', pageSize: 2 })).rejects.toThrow('injected');
    // A delete of old-3 that failed after its note; one of old-4 that went through.
    const at = new Date().toISOString();
    await old.adapters.deletions.note('old-3', at);
    await old.adapters.deletions.note('old-4', at);
    await old.adapters.deletions.confirm('old-4', at);
    const report = await migration(target).migrate({ pass: 'abandon', pageSize: 2 });
    expect(report.tally).toMatchObject({ withdrawn: 1, kept: 3 });
    expect((await oldApi.get('/billing/old-3')).headers['x-record-source']).toBe('archive');
    expect((await oldApi.get('/billing/old-4')).statusCode).toBe(404);
  });

  it('a finish catches a withdrawal a late process on the old index made after its first sweep read that id', async () => {
    await archiveOld(oldApi, 'old', 6);
    expect((await old.services.migrateIndex({ pass: 'sync' })).counts_match).toBe(true);
    const target = new BlobArchiveIndex(old.adapters.store, { shards: 4, cacheBytes: 1 << 20 });
    await target.init();
    // The old index's process deletes old-5 just after the finish's first sweep looked it up there.
    const source = old.adapters.index;
    const lagging = landingAfterLookUp(source, 'old-5', deleteThrough(source, 'old-5'));
    const report = await migrationWith({ source: lagging.index, target }).migrate({
      pass: 'finish',
      pageSize: 4,
    });
    expect(lagging.landed()).toBe(true);
    expect(report.tally).toMatchObject({ withdrawn: 1, kept: 0 });
    expect(await target.get('old-5')).toBeUndefined();
    expect(await target.get('old-4')).toBeDefined();
  });

  it('runs from the CLI, which says what to do next and refuses the wrong pass for the process', async () => {
    await archiveOld(oldApi, 'old', 3);
    const env = { ...old.env, LOG_LEVEL: 'warn' };
    const early = await runCli(['--json', 'index', 'migrate', '--finish'], env);
    expect(early.code).not.toBe(0);
    expect(early.stderr).toContain('a finish pass runs once every process reads the blob index');
    const copied = await runCli(['--json', 'index', 'migrate'], env);
    expect(copied.code, copied.stderr).toBe(1);
    expect(JSON.parse(copied.stdout)).toMatchObject({
      pass: 'sync',
      tally: { copied: 3 },
      counts_match: true,
    });
    expect(copied.stderr).toContain('index migrate: not yet in step (source 3 entries, blob index 3');
    const synced = await runCli(['--json', 'index', 'migrate'], env);
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stderr).toContain('index migrate: in step (3 entries)');
    const finished = await runCli(['--json', 'index', 'migrate', '--finish'], {
      ...env,
      ARCHIVE_INDEX: 'blob',
    });
    expect(finished.code, finished.stderr).toBe(0);
    expect(JSON.parse(finished.stdout)).toMatchObject({ pass: 'finish', tally: { copied: 0, withdrawn: 0 } });
    const audit = await old.services.audit.query({ limit: 10 });
    expect(audit.items.filter((item) => item.action === 'index.migrate')).toHaveLength(4);
  });

  it("refuses ARCHIVE_INDEX=blob over an archive whose entries are in the backend's own index, even to repair", async () => {
    await archiveOld(oldApi, 'old', 2);
    const blobEnv = { ...shards, ARCHIVE_INDEX: 'blob' };
    await expect(startHarness({ reuse: old, env: blobEnv })).rejects.toThrow(
      /ARCHIVE_INDEX=blob, but this archive's entries are in the backend's own index/,
    );
    const env = { ...old.env, ...blobEnv, LOG_LEVEL: 'warn' };
    for (const args of [['verify'], ['verify', '--repair'], ['archive']]) {
      const refused = await runCli(args, env);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.stderr).toContain('move them with `billing-archive index migrate`');
    }
    expect(await blobNames(old, 'index/')).toEqual([]);
  });

  it("refuses the backend's own index over an archive indexed in the archive, and rebuilds a lost blob index on repair", async () => {
    const blobEnv = { ...shards, ARCHIVE_INDEX: 'blob' };
    const blob = await startHarness({ backend, layout: 'record', env: blobEnv });
    try {
      const blobApi = apiClient(blob.app);
      const archived = await archiveOld(blobApi, 'b', 3);
      await expect(startHarness({ reuse: blob, env: { ...shards, ARCHIVE_INDEX: '' } })).rejects.toThrow(
        /but this archive is indexed in the archive itself \(ARCHIVE_INDEX=blob\)/,
      );
      await blob.close();

      // The blob index is lost whole: the archive alone rebuilds it.
      for (const name of await blobNames(blob, 'index/')) await blob.adapters.store.delete(name);
      const again = await startHarness({ reuse: blob, env: blobEnv });
      try {
        const againApi = apiClient(again.app);
        expect((await againApi.get('/billing/b-0')).statusCode).toBe(404);
        const repaired = await again.services.verifier.verify({ repair: true });
        expect(repaired).toMatchObject({ ok: true, repaired: { entries_rebuilt: 3 } });
        for (const [id, body] of archived)
          expect((await againApi.get(`/billing/${id}`)).json()).toEqual(body);
      } finally {
        await again.destroy();
      }
    } finally {
      await blob.close();
    }
  });

  it('holds runs back, without stopping the service, while a migration checkpoint cannot be read', async () => {
    await archiveOld(oldApi, 'old', 1);
    const bytes = Buffer.from('{"not": "a checkpoint"}');
    await old.adapters.store.putIfAbsent(`${INDEX_MIGRATION_PREFIX}000000000007.json`, bytes, {
      sha256: sha256Hex(bytes),
    });
    const restarted = await startHarness({ reuse: old, env: shards });
    try {
      const refused = await apiClient(restarted.app).post('/archive/sync');
      expect(refused.statusCode).toBe(409);
      expect(refused.json<{ message: string }>().message).toMatch(
        /an archival run waits: index migration checkpoint .*000000000007.json is not one/,
      );
      expect((await apiClient(restarted.app).get('/billing/old-0')).statusCode).toBe(200);
    } finally {
      await restarted.close();
    }
  });

  it('will not finish before a sync pass has finished', async () => {
    const blob = await startHarness({ reuse: old, env: { ...shards, ARCHIVE_INDEX: 'blob' }, sleep: noWait });
    try {
      await expect(blob.services.migrateIndex({ pass: 'finish' })).rejects.toThrow(
        /no sync pass has finished/,
      );
    } finally {
      await blob.close();
    }
  });
});
