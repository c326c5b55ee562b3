import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordDocument } from '../../src/domain/billing-record.js';
import { finished, runCli, spawnCli } from '../helpers/cli.js';
import { SETUPS, startHarness, type Harness } from '../helpers/harness.js';
import {
  addArchivedRecords,
  archivedOnly,
  emptyModel,
  expectIntactAfterKill,
  killAfter,
  pickAtRandom,
  settleUnanswered,
  type UnansweredChange,
  untilSeen,
  updateEach,
} from './crash-kit.js';

/** Kills per backend and layout: each costs a CLI start. */
const ROUNDS = { embedded: 3, azure: 2 } as const;

/** Where a kill left the record its restore was moving. */
type Landing = 'before its first write' | 'between the live copy and the withdrawal' | 'after its last write';

/**
 * Kills the real CLI's `restore <id>` (one record a process; the bulk form: crash-bulk-restore) with SIGKILL at
 * random instants, mostly once its live copy shows, then checks that every record reads back
 * exactly once, as before the restore or exactly as the restore makes it.
 */
describe.each(SETUPS)(
  'crash safety: SIGKILL at any instant of a CLI restore loses nothing ($backend, $layout layout)',
  ({ backend, layout }) => {
    let harness: Harness;
    let env: Record<string, string>;
    const model = emptyModel();
    /** Restores killed after the live copy was written and before the entry was withdrawn. */
    const between = new Set<string>();
    /** How long a whole `restore` takes, start-up included: learnt from those that finish. */
    let lifeMs = 0;

    beforeAll(async () => {
      harness = await startHarness({ backend, layout });
      env = { ...harness.env, LOG_LEVEL: 'warn' };
      await addArchivedRecords(harness, model, 'restore', 30);
      // One restore left to finish: it prints the record exactly as it now reads back.
      const [id] = await archivedOnly(harness);
      if (id === undefined) throw new Error('nothing was archived');
      const startedAt = Date.now();
      const result = await runCli(['--json', 'restore', id], env);
      lifeMs = Date.now() - startedAt;
      expect(result.code, result.stderr).toBe(0);
      const { doc, source } = await harness.services.records.get(id);
      expect(source).toBe('live');
      expect(JSON.stringify(JSON.parse(result.stdout))).toBe(JSON.stringify(doc));
      model.expected.set(id, JSON.stringify(doc));
    });

    afterAll(async () => {
      await harness.destroy();
    });

    /** Restores `id` in a CLI SIGKILLed at a random instant; returns where the kill left the record, if it came first. */
    async function killRestoreAtRandom(id: string, round: number): Promise<Landing | undefined> {
      const old = JSON.parse(model.expected.get(id) ?? '') as RecordDocument;
      const change: UnansweredChange = {
        id,
        stamp: 'restored_at',
        landed: (stamp) => ({ ...old, restored_at: stamp }),
      };
      const startedAt = Date.now();
      const child = spawnCli(['--json', 'restore', id], env);
      const outcome = finished(child);
      await killAfter(child, async () => {
        if (round % 3 === 2) {
          // Now and then anywhere in the process's life, start-up included.
          await sleep(randomInt(0, lifeMs));
        } else {
          // Otherwise as soon as its live copy shows: the withdrawal may or may not have followed.
          await untilSeen(async () => (await harness.adapters.live.get(id)) !== undefined, child);
        }
      });
      const result = await outcome;
      const landed = await settleUnanswered(harness, model, change);
      if (result.signal !== 'SIGKILL') {
        lifeMs = Date.now() - startedAt;
        expect(result.code, result.stderr).toBe(0);
        expect(landed).toBe(true);
        expect(JSON.stringify(JSON.parse(result.stdout))).toBe(model.expected.get(id));
        return undefined;
      }
      const [live, entry] = [await harness.adapters.live.get(id), await harness.adapters.index.get(id)];
      // Landed means live; the entry goes only after the live copy is written.
      expect(live !== undefined, id).toBe(landed);
      if (!live) {
        expect(entry, id).toBeDefined();
        return 'before its first write';
      }
      if (entry) {
        between.add(id);
        return 'between the live copy and the withdrawal';
      }
      return 'after its last write';
    }

    it('leaves every record as it was or restored, exactly once, after each kill', async () => {
      const landings: Landing[] = [];
      const rounds = ROUNDS[backend];
      for (let round = 0; round < rounds; round++) {
        const [id] = pickAtRandom(await archivedOnly(harness), 1);
        if (id === undefined) throw new Error('nothing left to restore');
        const landing = await killRestoreAtRandom(id, round);
        if (landing) landings.push(landing);
        await expectIntactAfterKill(harness, model, between);
      }
      const count = (landing: Landing): number => landings.filter((l) => l === landing).length;
      console.log(
        `crash matrix: ${landings.length} kills during restore (${backend}, ${layout}): ` +
          `${count('before its first write')} before its first write, ${between.size} between the live copy and the withdrawal, ` +
          `${count('after its last write')} after its last write`,
      );
      expect(landings.length).toBeGreaterThan(rounds / 2);
      // Most kills came once the restore had written: the live copy, or the live copy and the withdrawal.
      expect(landings.length - count('before its first write')).toBeGreaterThanOrEqual(rounds / 2);

      // A record a kill left both live and indexed heals on its next update, as reads already assumed.
      await updateEach(harness, model, between);
      await expectIntactAfterKill(harness, model);
    }, 240_000);
  },
);
