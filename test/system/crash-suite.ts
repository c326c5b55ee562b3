import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LayoutName } from '../../src/services/layouts/archive-layout.js';
import type { VerifyReport } from '../../src/services/verifier.js';
import { finished, runCli, spawnCli } from '../helpers/cli.js';
import {
  BACKENDS,
  daysAgo,
  recordBody,
  startHarness,
  type BackendKind,
  type Harness,
} from '../helpers/harness.js';
import {
  addImportedDocuments,
  emptyModel,
  KillTimer,
  readsBackIntact,
  storedIds,
  untilLogged,
  untilSeen,
  updateEach,
  scaledRounds,
} from './crash-kit.js';

type Workload = Record<BackendKind, { rounds: number; perRound: number }>;

/**
 * Rounds and fresh records per round: the Azure stand-ins write far fewer records a second. Sized
 * for `npm test` (nearly every round's kill lands mid-run: 17 of 20, 6 of 6 in CI); `bench/crash.mjs`
 * multiplies the rounds by CRASH_SCALE for a long matrix.
 */
const WORKLOAD: Workload = { embedded: { rounds: 10, perRound: 400 }, azure: { rounds: 4, perRound: 60 } };

/** Past the default RETENTION_DAYS (2555): such records are swept by the run that archives them. */
const EXPIRED_AGE_DAYS = 3000;

/**
 * Kills the real CLI with SIGKILL at random instants of archival runs, again and again, with
 * restores and updates of archived records between rounds, then checks that every record reads
 * back exactly once with its latest content, byte for byte. Some records are past retention, and
 * some of those under legal hold: kills must neither bring an expired record back nor lose a held one.
 */
/**
 * The crash suite for one layout on every backend, on the backend's own index or (`archiveIndex:
 * 'blob'`) the blob-native one, with a workload of its own when given.
 */
export function describeCrashSafety(
  layout: LayoutName,
  options: { archiveIndex?: 'blob'; workload?: Workload } = {},
): void {
  const indexEnv: Record<string, string> = options.archiveIndex
    ? { ARCHIVE_INDEX: options.archiveIndex }
    : {};
  const indexNote = options.archiveIndex ? `, ARCHIVE_INDEX=${options.archiveIndex}` : '';
  describe.each(BACKENDS)(
    `crash safety: SIGKILL at any instant of an archival run loses nothing (%s, ${layout} layout${indexNote})`,
    (backend) => {
      const { rounds, perRound: RECORDS_PER_ROUND } = (options.workload ?? WORKLOAD)[backend];
      const ROUNDS = scaledRounds(rounds);
      let harness: Harness;
      const model = emptyModel();
      const { expected } = model;
      /** Past retention and not held: gone once a run finishes, unless restored or updated meanwhile. */
      const expiring = new Set<string>();
      /** Past retention and under legal hold: kept, in a copy under held/. */
      const held = new Set<string>();
      let env: Record<string, string>;

      beforeAll(async () => {
        harness = await startHarness({ backend, layout, env: indexEnv });
        // Small segments, so kills land between the seals of a run's many segments too.
        env = { ...harness.env, BATCH_SIZE: '20', SEGMENT_MAX_RECORDS: '50', LOG_LEVEL: 'info' };
        // Documents imported from elsewhere carry fields the API does not know: they must survive too.
        await addImportedDocuments(harness, model, 50);
      });

      afterAll(async () => {
        await harness.destroy();
      });

      async function addOldRecords(round: number): Promise<void> {
        for (let i = 0; i < RECORDS_PER_ROUND; i++) {
          const id = `r${round}-${i}`;
          const expired = i % 20 === 0;
          const view = await harness.services.records.create(
            recordBody({
              id,
              amount: randomInt(0, 1_000_000) / 100,
              created_at: daysAgo(expired ? EXPIRED_AGE_DAYS : 100 + randomInt(0, 300)),
            }),
          );
          expected.set(id, JSON.stringify(view.doc));
          if (expired && i % 40 === 0) {
            await harness.services.records.setLegalHold(id, { held: true, by: 'crash test', reason: 'kept' });
            held.add(id);
          } else if (expired) expiring.add(id);
        }
      }

      /** Restores one archived record and updates another, so runs also have garbage to collect. */
      async function mutateArchived(): Promise<void> {
        // A crash between indexing and deleting leaves records both indexed and live: pick ones read from the archive.
        const archived = [];
        for (const entry of await harness.adapters.index.list({ limit: 100 })) {
          if ((await harness.services.records.get(entry.id)).source === 'archive') archived.push(entry);
        }
        if (archived.length < 2) return;
        const [toRestore, toUpdate] = [archived[0], archived[archived.length - 1]];
        if (toRestore) {
          const view = await harness.services.records.restore(toRestore.id);
          expected.set(toRestore.id, JSON.stringify(view.doc));
          // Live again, and retention only sweeps the archive.
          expiring.delete(toRestore.id);
        }
        if (toUpdate) {
          await updateEach(harness, model, [toUpdate.id]);
          expiring.delete(toUpdate.id);
        }
      }

      const runTimer = new KillTimer(300);
      /** Rounds whose kill lands during start-up, before or while the lock is taken. */
      const startsUp = (round: number) => round % 5 === 0;
      const PROGRESS_ROUND = 1;

      /** Starts an archival run and SIGKILLs it at a random instant; returns whether it was killed. */
      async function killRunAtRandom(round: number): Promise<boolean> {
        const child = spawnCli(['--json', 'archive', '--older-than', '90'], env);
        const outcome = finished(child);
        if (startsUp(round)) {
          // Now and then during start-up: before and while the lock is taken.
          await new Promise((resolve) => setTimeout(resolve, randomInt(0, 400)));
        } else if (round === PROGRESS_ROUND) {
          // Once right after a batch reached the index, so one kill surely lands mid-work, however
          // slow the machine is: random delays alone may all land before the first batch.
          const indexed = (await harness.adapters.index.summary()).count;
          await untilSeen(async () => (await harness.adapters.index.summary()).count > indexed, child);
        } else {
          // Otherwise once the run has started, somewhere inside its work.
          await untilLogged(child, 'archival run started');
          await new Promise((resolve) => setTimeout(resolve, runTimer.next()));
        }
        child.kill('SIGKILL');
        const result = await outcome;
        if (result.signal === 'SIGKILL') {
          runTimer.killed();
          return true;
        }
        if (result.code === 3) {
          // A killed holder's blob lease lasts up to 15 s: this run found it held. Wait, then go again.
          expect(result.stderr).toContain('archival is already running');
          await new Promise((resolve) => setTimeout(resolve, 2_000));
          return killRunAtRandom(round);
        }
        expect(result.code, result.stderr).toBe(0);
        const summary = JSON.parse(result.stdout) as { duration_ms: number };
        runTimer.finished(summary.duration_ms);
        return false;
      }

      it('finishes the work after repeated kills and every record reads back byte-identical, exactly once', async () => {
        let killed = 0;
        /** Kills once the run had started its work, whose run record then says crashed or running. */
        let killedMidRun = 0;
        for (let round = 0; round < ROUNDS; round++) {
          await addOldRecords(round);
          if (round > 0) await mutateArchived();
          if (await killRunAtRandom(round)) {
            killed += 1;
            if (!startsUp(round)) killedMidRun += 1;
          }
        }

        console.log(`crash matrix: ${killed} kills during archival runs (${backend}, ${layout}${indexNote})`);
        const before = await harness.services.stats.stats();
        // The kills interrupted real work: runs died mid-way, and work was left for the final run.
        expect(killed).toBeGreaterThan(ROUNDS / 2);
        // A kill during start-up may land before the run is recorded, and one as a run ends after
        // it recorded its outcome; the progress round's kill lands mid-work, after a batch was indexed.
        expect(killedMidRun).toBeGreaterThan(0);
        expect(before.runs.crashed + before.runs.running).toBeGreaterThan(0);
        expect(before.archived_records).toBeGreaterThan(0);

        // The last killed run may still hold a blob lease (up to 15 s): wait for it like an operator would.
        let final = await runCli(['--json', 'archive', '--older-than', '90'], { ...env, LOG_LEVEL: 'warn' });
        for (let waited = 0; final.code === 3 && waited < 30_000; waited += 2_000) {
          await new Promise((resolve) => setTimeout(resolve, 2_000));
          final = await runCli(['--json', 'archive', '--older-than', '90'], { ...env, LOG_LEVEL: 'warn' });
        }
        expect(final.code, final.stderr).toBe(0);
        const summary = JSON.parse(final.stdout) as { status: string; failed: number };
        expect(summary).toMatchObject({ status: 'succeeded', failed: 0 });

        // Retention removed exactly the expired records nobody held or brought back.
        expect(expiring.size).toBeGreaterThan(0);
        for (const id of expiring) {
          await expect(harness.services.records.get(id), id).rejects.toMatchObject({ code: 'not_found' });
          expected.delete(id);
        }
        expect(held.size).toBeGreaterThan(0);
        for (const id of held) {
          const entry = await harness.adapters.index.get(id);
          if (entry) expect(entry.location.blob, id).toMatch(/^held\//);
          else expect(await harness.adapters.live.get(id), id).toBeDefined();
        }

        const { live: liveIds, archived: archivedIds } = await storedIds(harness);
        expect([...liveIds].filter((id) => archivedIds.has(id))).toEqual([]);
        expect(liveIds.size + archivedIds.size).toBe(expected.size);

        expect(await readsBackIntact(harness, expected)).toBe(archivedIds.size);
        // Only restored and updated records (touched today) stay live.
        expect(liveIds.size).toBeLessThanOrEqual(2 * ROUNDS);

        // verify finds nothing missing or corrupt; the orphans the kills left, --repair removes.
        const quiet = { ...env, LOG_LEVEL: 'warn' };
        const verified = await runCli(['--json', 'verify'], quiet);
        const report = JSON.parse(verified.stdout) as VerifyReport;
        // The findings themselves, so a failure here says which record and why.
        const findings = JSON.stringify({
          missing: report.missing,
          corrupt: report.corrupt,
          unindexed: report.unindexed,
        });
        expect(verified.code, `${verified.stderr}\n${findings}`).toBe(0);
        expect(report).toMatchObject({
          ok: true,
          missing: { count: 0 },
          corrupt: { count: 0 },
          unindexed: { count: 0 },
          live_and_archived: { count: 0 },
        });
        expect(report.checked.entries).toBe(archivedIds.size);
        const repaired = await runCli(['--json', 'verify', '--repair', '--grace-hours', '0'], quiet);
        expect(repaired.code, repaired.stderr).toBe(0);
        // No root is an hour old yet: none is pruned.
        expect((JSON.parse(repaired.stdout) as VerifyReport).repaired).toEqual({
          entries_rebuilt: 0,
          orphans_removed: report.orphans.count,
          index_roots_pruned: 0,
          index_counts_recounted: false,
          index_files_discarded: 0,
          index_rebuild_finished: false,
        });
        const again = JSON.parse((await runCli(['--json', 'verify'], quiet)).stdout) as VerifyReport;
        expect(again).toMatchObject({ ok: true, orphans: { count: 0 } });
        expect(await readsBackIntact(harness, expected)).toBe(archivedIds.size);

        const after = await harness.services.stats.stats();
        expect(after.runs.running).toBe(0);
      }, 240_000);
    },
  );
}
