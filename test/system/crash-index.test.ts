import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobArchiveStore } from '../../src/adapters/azure-blob/blob-archive-store.js';
import {
  BlobArchiveIndex,
  DEFAULT_ROOT_RETENTION_MS,
} from '../../src/adapters/blob-index/blob-archive-index.js';
import { FilesystemArchiveStore } from '../../src/adapters/filesystem/filesystem-archive-store.js';
import {
  filesOf,
  generationOfFileName,
  generationOfRootName,
  INDEX_ROOT_PREFIX,
  parseIndexRoot,
} from '../../src/domain/index-root.js';
import type { ArchiveStore } from '../../src/ports/archive-store.js';
import { freshContainer, localAzure } from '../helpers/azure.js';
import { finished } from '../helpers/cli.js';
import { BACKENDS } from '../helpers/harness.js';
import { tempDir } from '../helpers/temp-dir.js';
import { untilSeen } from './crash-kit.js';

const WRITER = fileURLToPath(new URL('../helpers/index-writer.mjs', import.meta.url));
const ROUNDS = { embedded: 12, azure: 6 } as const;
const BATCH_SIZE = 10;

/**
 * SIGKILLs a process writing the blob-native index at random instants of its commits and folds,
 * again and again, then reads the index back: every acknowledged change is there, a batch in
 * flight is there whole or not at all, and the newest root names no file that is missing; then
 * removes what the kills left and prunes the old roots, and reads the index back again.
 */
describe.each(BACKENDS)(
  'crash safety of the blob-native index: SIGKILL mid-commit or mid-fold (%s)',
  (backend) => {
    let store: ArchiveStore;
    let env: Record<string, string>;
    let remove: () => Promise<void>;

    beforeAll(async () => {
      if (backend === 'embedded') {
        const dir = await tempDir();
        const archiveDir = join(dir.path, 'archive');
        store = new FilesystemArchiveStore(archiveDir);
        env = { ARCHIVE_DIR: archiveDir };
        remove = dir.remove;
      } else {
        const fresh = freshContainer();
        store = new BlobArchiveStore(fresh.container, { uploadTier: 'Hot', rehydratePriority: 'Standard' });
        env = {
          BLOB_CONNECTION_STRING: localAzure().blobConnectionString,
          BLOB_CONTAINER: fresh.container.containerName,
        };
        remove = fresh.remove;
      }
      await store.init();
    });

    afterAll(async () => {
      await store.close();
      await remove();
    });

    it(
      'keeps every acknowledged change, and each batch whole or not at all',
      { timeout: 120_000 },
      async () => {
        const acked = { puts: new Map<string, number>(), withdrawn: new Set<string>() };
        const inFlight: string[][] = [];
        /** Withdrawals a kill may have interrupted: the entry may be there or not. */
        const uncertain = new Set<string>();
        let kills = 0;
        for (let round = 0; round < ROUNDS[backend]; round++) {
          const prefix = `r${round}`;
          const child = spawn(process.execPath, [WRITER, prefix, '1000', String(BATCH_SIZE)], {
            env: { ...process.env, ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          const outcome = finished(child);
          let stdout = '';
          child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
          // Once the writer has committed something, at a random instant of its later commits and folds.
          await untilSeen(() => Promise.resolve(stdout.includes('put 0\n')), child);
          await new Promise((resolve) => setTimeout(resolve, randomInt(0, 1_500)));
          child.kill('SIGKILL');
          const result = await outcome;
          expect(result.signal, result.stderr).toBe('SIGKILL');
          kills += 1;
          let lastPut = -1;
          for (const line of result.stdout.split('\n')) {
            const [what, value = ''] = line.split(' ');
            if (what === 'put') lastPut = Number(value);
            if (what === 'withdrawn') acked.withdrawn.add(value);
          }
          for (let batch = 0; batch <= lastPut; batch++)
            for (let i = 0; i < BATCH_SIZE; i++) acked.puts.set(`${prefix}-${batch}-${i}`, batch);
          inFlight.push(Array.from({ length: BATCH_SIZE }, (_, i) => `${prefix}-${lastPut + 1}-${i}`));
          const lastFirst = `${prefix}-${lastPut}-0`;
          if (lastPut % 3 === 2 && !acked.withdrawn.has(lastFirst)) uncertain.add(lastFirst);
        }
        console.log(`crash matrix: ${kills} kills of an index writer (${backend})`);

        const index = new BlobArchiveIndex(store, { shards: 4, cacheBytes: 1 << 20 });
        await index.init();
        const listed = new Set<string>();
        let listedBytes = 0;
        for (let afterId: string | undefined; ;) {
          const page = await index.list({ limit: 500, afterId });
          for (const entry of page) {
            listed.add(entry.id);
            listedBytes += entry.size;
          }
          if (page.length < 500) break;
          afterId = page.at(-1)?.id;
        }
        // The counts every root carries agree with a scan, whatever the kills interrupted.
        expect(await index.summary()).toEqual({ count: listed.size, bytes: listedBytes });
        const kept = [...acked.puts].filter(([id]) => !acked.withdrawn.has(id) && !uncertain.has(id));
        const found = await index.getMany(kept.map(([id]) => id));
        expect(found.map((entry) => entry?.size)).toEqual(kept.map(([, batch]) => 100 + batch));
        expect(kept.filter(([id]) => !listed.has(id))).toEqual([]);
        const withdrawn = [...acked.withdrawn];
        expect(await index.getMany(withdrawn)).toEqual(withdrawn.map(() => undefined));
        // A batch the kill interrupted is one commit: all of it, or none.
        for (const batch of inFlight) {
          const found = (await index.getMany(batch)).filter((entry) => entry !== undefined);
          expect([0, BATCH_SIZE], batch[0]).toContain(found.length);
        }
        // Only acknowledged or in-flight ids are listed.
        const known = new Set([...acked.puts.keys(), ...inFlight.flat()]);
        expect([...listed].filter((id) => !known.has(id))).toEqual([]);

        // The newest root names only files that exist; what kills left unnamed is only orphans.
        const roots: string[] = [];
        for await (const blob of store.list(INDEX_ROOT_PREFIX)) roots.push(blob.name);
        const newest = roots.at(-1) ?? '';
        const named = filesOf(parseIndexRoot(await store.get(newest), newest)).map((file) => file.name);
        const stored = new Set<string>();
        for await (const blob of store.list('index/files/')) stored.add(blob.name);
        expect(named.filter((name) => !stored.has(name))).toEqual([]);
        console.log(`${stored.size - named.length} orphaned index files after ${kills} kills (${backend})`);

        // Upkeep finds what the kills left: the files of generations the newest root reached. The
        // last kill's commit, written for the generation after, may still be in flight as far as
        // anyone can tell, until the next commit takes that generation; then it is an orphan too.
        const unnamed = [...stored].filter((name) => !named.includes(name)).sort();
        const newestGeneration = generationOfRootName(newest) ?? 0;
        const past = (name: string) => (generationOfFileName(name) ?? 0) <= newestGeneration;
        const orphans = async () => (await index.upkeep.orphans()).map((blob) => blob.name).sort();
        expect(await orphans()).toEqual(unnamed.filter(past));
        expect(unnamed.filter((name) => !past(name)).map(generationOfFileName)).toEqual(
          unnamed.filter((name) => !past(name)).map(() => newestGeneration + 1),
        );
        for (const name of await orphans()) await index.upkeep.removeOrphan(name);
        await index.putMany([
          {
            id: 'after-the-kills',
            customer_id: 'c-0',
            created_at: '2024-01-01T00:00:00.000Z',
            location: { layout: 'record', blob: 'records/2024/after-the-kills.json', offset: 0, length: 1 },
            sha256: 'ab'.repeat(32),
            size: 1,
            archived_at: '2026-11-30T00:00:00.000Z',
            run_id: 'run-after',
          },
        ]);
        for (const name of await orphans()) await index.upkeep.removeOrphan(name);
        const pruner = new BlobArchiveIndex(store, {
          shards: 4,
          cacheBytes: 1 << 20,
          now: () => new Date(Date.now() + 2 * DEFAULT_ROOT_RETENTION_MS),
        });
        await pruner.init();
        const rootsNow = [];
        for await (const blob of store.list(INDEX_ROOT_PREFIX)) rootsNow.push(blob.name);
        expect(await pruner.upkeep.pruneRoots()).toBe(rootsNow.length - 1);
        const newestNow = rootsNow.at(-1) ?? '';
        const namedNow = filesOf(parseIndexRoot(await store.get(newestNow), newestNow)).map((f) => f.name);
        const left = [];
        for await (const blob of store.list('index/')) left.push(blob.name);
        expect(left.sort()).toEqual([...namedNow, newestNow].sort());
        const reopened = new BlobArchiveIndex(store, { shards: 4, cacheBytes: 1 << 20 });
        await reopened.init();
        const again = await reopened.getMany(kept.map(([id]) => id));
        expect(again.map((entry) => entry?.size)).toEqual(kept.map(([, batch]) => 100 + batch));
      },
    );
  },
);
