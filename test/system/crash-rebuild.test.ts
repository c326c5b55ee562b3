import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerifyReport } from '../../src/services/verifier.js';
import { finished, runCli, spawnCli, type CliResult } from '../helpers/cli.js';
import { BACKENDS, startHarness, type Harness } from '../helpers/harness.js';
import {
  addArchivedRecords,
  archivedOnly,
  emptyModel,
  expectIntactAfterKill,
  killAfter,
  KillTimer,
  untilLogged,
  updateEach,
  whenLockFree,
  type CrashModel,
  scaledRounds,
} from './crash-kit.js';

const WORKLOAD = { embedded: { rounds: 5, perRound: 60 }, azure: { rounds: 2, perRound: 30 } } as const;

const REBUILD = ['--json', 'verify', '--rebuild-index'];

/**
 * Kills the real CLI with SIGKILL at random instants of `verify --rebuild-index` on the blob-native
 * index, over an archive whose records were restored, updated (archived twice) and deleted, and
 * checks after each kill that no read answers "not found" for an archived record nor finds a
 * deleted one, then that a plain `verify --repair` finishes the rebuild with every record back,
 * byte for byte and exactly once.
 */
describe.each(BACKENDS)(
  'crash safety: SIGKILL at any instant of an index rebuild loses nothing (%s, ARCHIVE_INDEX=blob)',
  (backend) => {
    const { rounds, perRound: RECORDS_PER_ROUND } = WORKLOAD[backend];
    const ROUNDS = scaledRounds(rounds);
    let harness: Harness;
    let env: Record<string, string>;
    const model: CrashModel = emptyModel();
    let timer: KillTimer;

    beforeAll(async () => {
      harness = await startHarness({
        backend,
        layout: 'segment',
        env: {
          ARCHIVE_INDEX: 'blob',
          ARCHIVE_INDEX_SHARDS: '4',
          BATCH_SIZE: '20',
          SEGMENT_MAX_RECORDS: '20',
        },
      });
      env = { ...harness.env, LOG_LEVEL: 'info' };
      await addArchivedRecords(harness, model, 'first', RECORDS_PER_ROUND);
      await changeSome();
      // One rebuild left to finish: how long it takes, so that the kills land inside it.
      const started = performance.now();
      expectRebuilt(await runCli(REBUILD, env));
      timer = new KillTimer(300);
      timer.finished(performance.now() - started);
    });

    afterAll(async () => {
      await harness.destroy();
    });

    /** Restores, updates (the next run archives them again) and deletes some archived records. */
    async function changeSome(): Promise<void> {
      const { records } = harness.services;
      for (const [i, id] of (await archivedOnly(harness)).entries()) {
        if (i % 7 === 0) model.expected.set(id, JSON.stringify((await records.restore(id)).doc));
        else if (i % 7 === 1) await updateEach(harness, model, [id]);
        else if (i % 7 === 2) {
          await records.delete(id, undefined);
          model.expected.delete(id);
          model.gone.add(id);
        }
      }
    }

    function expectRebuilt(result: CliResult): void {
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as VerifyReport;
      expect(report.repaired.index_rebuild_finished).toBe(true);
    }

    /** Every read answers the record, or that the index is being rebuilt: never "not found" for one archived. */
    async function expectNoFalseAnswer(): Promise<number> {
      let refused = 0;
      for (const [id, json] of model.expected) {
        try {
          expect(JSON.stringify((await harness.services.records.get(id)).doc), id).toBe(json);
        } catch (error) {
          expect(error, id).toMatchObject({ code: 'index_rebuilding' });
          refused += 1;
        }
      }
      for (const id of model.gone)
        await expect(harness.services.records.get(id), id).rejects.toMatchObject({
          code: expect.stringMatching(/^(not_found|index_rebuilding)$/) as unknown,
        });
      return refused;
    }

    it('answers no read wrongly after each kill, and a plain repair finishes the rebuild with every record intact', async () => {
      let killed = 0;
      let refusedAfterKill = 0;
      /** Kills that left a rebuild begun and unfinished. */
      let standing = 0;
      for (let round = 0; round < ROUNDS; round++) {
        await addArchivedRecords(harness, model, `r${round}`, RECORDS_PER_ROUND);
        await changeSome();
        // Restored and updated records move again: their first copies stay behind, dead, in older segments.
        await whenLockFree(() => harness.services.archiver.runOnce({ olderThanDays: 0 }));
        const child = spawnCli(REBUILD, env);
        const outcome = finished(child);
        const started = performance.now();
        await killAfter(child, async () => {
          if (round % 2 === 0) {
            // Anywhere, starting up included.
            await sleep(timer.next());
          } else {
            // Every other time once the index is empty, early in what is left.
            await untilLogged(child, 'archive index emptied for a rebuild');
            await sleep(timer.next(0.05));
          }
        });
        const result = await outcome;
        if (result.signal === 'SIGKILL') {
          killed += 1;
          timer.killed();
          const unfinished = (await harness.adapters.index.upkeep?.rebuildUnderWay()) !== undefined;
          if (unfinished) standing += 1;
          refusedAfterKill += await expectNoFalseAnswer();
          // Once the killed process's lock lapses (on Azure a blob lease outlives it by seconds).
          const finishing = await whenLockFree(() => harness.services.verifier.verify({ repair: true }));
          expect(finishing, JSON.stringify(finishing)).toMatchObject({
            ok: true,
            repaired: { index_rebuild_finished: unfinished },
          });
        } else {
          expectRebuilt(result);
          timer.finished(performance.now() - started);
        }
        expect(await harness.adapters.index.upkeep?.rebuildUnderWay()).toBeUndefined();
        await expectIntactAfterKill(harness, model);
      }
      console.log(
        `${backend}: ${killed} of ${ROUNDS} rebuilds killed, ${standing} left unfinished; ${refusedAfterKill} reads refused meanwhile`,
      );
      expect(standing).toBeGreaterThan(0);
    });
  },
);
