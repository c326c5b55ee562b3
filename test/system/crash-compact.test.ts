import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompactReport } from '../../src/services/compactor.js';
import { finished, runCli, spawnCli, type CliResult } from '../helpers/cli.js';
import { BACKENDS, blobNames, startHarness, type Harness } from '../helpers/harness.js';
import {
  addArchivedRecords,
  archivedOnly,
  emptyModel,
  expectIntactAfterKill,
  killAfter,
  KillTimer,
  untilLogged,
  untilSeen,
  updateEach,
  scaledRounds,
} from './crash-kit.js';

/**
 * Kills per backend, and old records archived before each. On Azure a killed compaction keeps its
 * blob lease for up to 15 s, which the check after it waits out: fewer, slower rounds.
 */
const WORKLOAD = { embedded: { rounds: 6, perRound: 40 }, azure: { rounds: 2, perRound: 30 } } as const;

const COMPACT = ['--json', 'compact', '--min-dead-share', '0.3'];

/**
 * Kills the real CLI with SIGKILL at random instants of `compact`, over segments of which restores,
 * updates and deletes have just killed about half the records, then checks after each kill that
 * every record reads back byte for byte, exactly once, and that deleted records stay deleted.
 */
describe.each(BACKENDS)(
  'crash safety: SIGKILL at any instant of a compaction loses nothing (%s, segment layout)',
  (backend) => {
    const { rounds, perRound: RECORDS_PER_ROUND } = WORKLOAD[backend];
    const ROUNDS = scaledRounds(rounds);
    let harness: Harness;
    let env: Record<string, string>;
    const model = emptyModel();
    let compactTimer: KillTimer;

    beforeAll(async () => {
      // Small segments: each run leaves many, so compaction has many to rewrite and merge.
      harness = await startHarness({
        backend,
        layout: 'segment',
        env: { BATCH_SIZE: '20', SEGMENT_MAX_RECORDS: '20' },
      });
      env = { ...harness.env, LOG_LEVEL: 'info' };
      // One compaction left to finish: how long its work takes, so that the kills land inside it.
      await addArchivedRecords(harness, model, 'first', RECORDS_PER_ROUND);
      await leaveDeadRecords();
      const result = await runCli(COMPACT, env);
      expectCompacted(result);
      compactTimer = new KillTimer(300);
      compactTimer.finished(workMs(result.stderr));
    });

    afterAll(async () => {
      await harness.destroy();
    });

    /** Restores, updates or deletes about half the archived records, leaving their copies dead. */
    async function leaveDeadRecords(): Promise<void> {
      const { records } = harness.services;
      for (const id of await archivedOnly(harness)) {
        switch (randomInt(0, 6)) {
          case 0:
            model.expected.set(id, JSON.stringify((await records.restore(id)).doc));
            break;
          case 1:
            await updateEach(harness, model, [id]);
            break;
          case 2:
            await records.delete(id, undefined);
            model.expected.delete(id);
            model.gone.add(id);
            break;
        }
      }
    }

    /** Starts `compact` and SIGKILLs it at a random instant of its work. */
    async function killCompactionAtRandom(
      round: number,
    ): Promise<{ killed: boolean; afterFirstWrite: boolean }> {
      const segmentsBefore = new Set(await blobNames(harness, 'segments/'));
      const segmentsChanged = async (): Promise<boolean> => {
        let segmentsNow: string[];
        try {
          segmentsNow = await blobNames(harness, 'segments/');
        } catch (error) {
          // A directory listed while the compaction deletes what it rewrote: it has written already.
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
          throw error;
        }
        return (
          segmentsNow.length !== segmentsBefore.size || segmentsNow.some((name) => !segmentsBefore.has(name))
        );
      };
      const child = spawnCli(COMPACT, env);
      const outcome = finished(child);
      await killAfter(child, async () => {
        await untilLogged(child, 'compaction started');
        if (round % 2 === 0) {
          // Anywhere in its work, reading included.
          await sleep(compactTimer.next());
        } else {
          // Every other time once it has written (its reads take long on Azure), early in what is left.
          await untilSeen(segmentsChanged, child);
          await sleep(compactTimer.next(0.3));
        }
      });
      const result = await outcome;
      if (result.signal === 'SIGKILL') {
        compactTimer.killed();
        return { killed: true, afterFirstWrite: await segmentsChanged() };
      }
      expectCompacted(result);
      compactTimer.finished(workMs(result.stderr));
      return { killed: false, afterFirstWrite: true };
    }

    /** How long a finished compaction worked: from its start line to its end line, by their log times. */
    function workMs(log: string): number {
      const lines = log.split('\n').filter((line) => line.startsWith('{'));
      const timeOf = (msg: string): number =>
        lines.map((line) => JSON.parse(line) as { msg: string; time: number }).find((l) => l.msg === msg)
          ?.time ?? Number.NaN;
      return timeOf('compaction finished') - timeOf('compaction started');
    }

    function expectCompacted(result: CliResult): void {
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as CompactReport;
      expect(report.skipped).toEqual([]);
      expect(report.segments_compacted).toBeGreaterThan(0);
    }

    it('leaves every record byte-identical and exactly once after each kill, and deleted records deleted', async () => {
      let killed = 0;
      let afterFirstWrite = 0;
      for (let round = 0; round < ROUNDS; round++) {
        await addArchivedRecords(harness, model, `r${round}`, RECORDS_PER_ROUND);
        await leaveDeadRecords();
        const kill = await killCompactionAtRandom(round);
        if (kill.killed) killed += 1;
        if (kill.killed && kill.afterFirstWrite) afterFirstWrite += 1;
        await expectIntactAfterKill(harness, model);
      }
      console.log(
        `crash matrix: ${killed} kills during compact (${backend}, segment), ${afterFirstWrite} after its first write`,
      );
      // The kills interrupted real work: most came before the compaction ended, some after it wrote.
      expect(killed).toBeGreaterThanOrEqual(ROUNDS / 2);
      expect(afterFirstWrite).toBeGreaterThan(0);
      expect(model.gone.size).toBeGreaterThan(0);
    }, 240_000);
  },
);
