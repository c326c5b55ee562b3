import type { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { canonicalBytes, type RecordDocument } from '../../src/domain/billing-record.js';
import { LockHeldError } from '../../src/domain/errors.js';
import type { VerifyReport } from '../../src/services/verifier.js';
import { daysAgo, recordBody, type Harness } from '../helpers/harness.js';

/**
 * What the crash tests share: the model of what every record must read back as, the checks after
 * each kill, and the choice of kill instants.
 */

export interface CrashModel {
  /** Each record's exact JSON, as every read must give it back. */
  expected: Map<string, string>;
  /** Records deleted for good: every read must say not found. */
  gone: Set<string>;
}

export function emptyModel(): CrashModel {
  return { expected: new Map(), gone: new Set() };
}

/** The ids in the live store and in the index. */
export async function storedIds(harness: Harness): Promise<{ live: Set<string>; archived: Set<string> }> {
  const live = new Set((await harness.adapters.live.list({ limit: 1_000_000 })).map((r) => r.doc.id));
  const archived = new Set((await harness.adapters.index.list({ limit: 1_000_000 })).map((e) => e.id));
  return { live, archived };
}

/** Records only the archive holds: what a restore or an update brings back. */
export async function archivedOnly(harness: Harness): Promise<string[]> {
  const { live, archived } = await storedIds(harness);
  return [...archived].filter((id) => !live.has(id));
}

/** `count` of `items` (all, if fewer), in random order. */
export function pickAtRandom<T>(items: readonly T[], count: number): T[] {
  const shuffled = [...items];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j] as T, shuffled[i] as T];
  }
  return shuffled.slice(0, count);
}

/** Reads every record through the service, compares it byte for byte; returns how many came from the archive. */
export async function readsBackIntact(harness: Harness, expected: Map<string, string>): Promise<number> {
  let fromArchive = 0;
  for (const [id, json] of expected) {
    const view = await harness.services.records.get(id);
    expect(JSON.stringify(view.doc), id).toBe(json);
    if (view.source === 'archive') fromArchive += 1;
  }
  return fromArchive;
}

/** Runs a step that takes the archival locks once a killed holder's lease lapses (Azure: up to 15 s). */
export async function whenLockFree<T>(step: () => Promise<T>): Promise<T> {
  for (let waited = 0; ; waited += 1_000) {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof LockHeldError) || waited >= 30_000) throw error;
    }
    await sleep(1_000);
  }
}

/**
 * Creates `count` documents as another system would have written them into the live store, with
 * fields the API does not know and an old creation time; the model learns them.
 */
export async function addImportedDocuments(
  harness: Harness,
  model: CrashModel,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const doc: RecordDocument = {
      id: `imported-${i}`,
      customer_id: `legacy-${i % 7}`,
      amount: i * 1.25,
      currency: 'EUR',
      status: 'paid',
      description: `Ünïcødé ✓ invoice ${i}`,
      due_date: null,
      created_at: daysAgo(400 + i),
      updated_at: daysAgo(399 + i),
      legacy_ref: { system: 'erp-7', lines: [i, 'x', null, { deep: true }] },
    };
    await harness.adapters.live.create(doc);
    model.expected.set(doc.id, canonicalBytes(doc).toString());
  }
}

/** Updates each record, through the service, and the model learns the result. */
export async function updateEach(harness: Harness, model: CrashModel, ids: Iterable<string>): Promise<void> {
  const { records } = harness.services;
  for (const id of ids) {
    const { doc } = await records.get(id);
    const view = await records.replace(id, { ...doc, status: 'refunded' }, undefined);
    model.expected.set(id, JSON.stringify(view.doc));
  }
}

/** Creates old records (eligible at once) and archives them in this process; the model learns them. */
export async function addArchivedRecords(
  harness: Harness,
  model: CrashModel,
  prefix: string,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const view = await harness.services.records.create(
      recordBody({
        id: `${prefix}-${i}`,
        amount: randomInt(0, 1_000_000) / 100,
        created_at: daysAgo(100 + randomInt(0, 300)),
        ...(i % 3 === 0 && { metadata: { lines: [i, 'Ünïcødé ✓', { nested: [null, true] }] } }),
      }),
    );
    model.expected.set(view.doc.id, JSON.stringify(view.doc));
  }
  const run = await whenLockFree(() => harness.services.archiver.runOnce({ olderThanDays: 90 }));
  expect(run).toMatchObject({ status: 'succeeded', failed: 0 });
}

/**
 * The full check after a kill: every record reads back as the model says and every deleted one
 * stays gone; each record is live or indexed, and both only where `mayBeBoth` allows (a change
 * killed between writing the live copy and withdrawing the entry, which reads handle); `verify
 * --repair` finds nothing missing, corrupt or unindexed, and leaves a clean archive.
 * Returns the records found both live and indexed.
 */
export async function expectIntactAfterKill(
  harness: Harness,
  model: CrashModel,
  mayBeBoth: ReadonlySet<string> = new Set(),
): Promise<Set<string>> {
  await readsBackIntact(harness, model.expected);
  for (const id of model.gone) {
    await expect(harness.services.records.get(id), id).rejects.toMatchObject({ code: 'not_found' });
  }
  const { live, archived } = await storedIds(harness);
  expect([...new Set([...live, ...archived])].sort()).toEqual([...model.expected.keys()].sort());
  const both = new Set([...live].filter((id) => archived.has(id)));
  expect([...both].filter((id) => !mayBeBoth.has(id))).toEqual([]);

  const clean = {
    ok: true,
    missing: { count: 0 },
    corrupt: { count: 0 },
    unindexed: { count: 0 },
    live_and_archived: { count: both.size },
  };
  const { verifier } = harness.services;
  const repaired: VerifyReport = await whenLockFree(() => verifier.verify({ repair: true, graceMs: 0 }));
  expect(repaired).toMatchObject(clean);
  // A kill may leave orphans to remove, never an index entry to rebuild.
  expect(repaired.repaired.entries_rebuilt).toBe(0);
  const again = await whenLockFree(() => verifier.verify());
  expect(again).toMatchObject({ ...clean, orphans: { count: 0 } });
  expect(again.checked.entries).toBe(archived.size);
  await readsBackIntact(harness, model.expected);
  return both;
}

/** A change sent to a process killed before it answered: it may or may not have landed. */
export interface UnansweredChange {
  id: string;
  /** The server time the change stamps the record with: `updated_at` for an update, `restored_at` for a restore. */
  stamp: 'updated_at' | 'restored_at';
  /** The record as the change leaves it, given the stamp it got. */
  landed: (stamp: string) => RecordDocument;
}

/**
 * Reads the record of an unanswered change: it must be exactly as before or exactly as the change
 * makes it, never lost or anything else. The model learns which; returns whether it landed.
 */
export async function settleUnanswered(
  harness: Harness,
  model: CrashModel,
  change: UnansweredChange,
): Promise<boolean> {
  const { doc } = await harness.services.records.get(change.id);
  const actual = JSON.stringify(doc);
  if (actual === model.expected.get(change.id)) return false;
  const stamp = doc[change.stamp];
  expect(typeof stamp === 'string' && new Date(stamp).toISOString() === stamp, change.id).toBe(true);
  expect(actual, change.id).toBe(JSON.stringify(change.landed(stamp as string)));
  model.expected.set(change.id, actual);
  return true;
}

/**
 * Picks kill instants within how long the work is seen to take: learnt from work that finished
 * before its kill, and stretched after each kill, so that on a loaded machine the kills do not all
 * land before the work's first durable step.
 */
export class KillTimer {
  /** Kills land within this many milliseconds of the work's start. */
  constructor(private workMs: number) {}

  /** A random delay before the next kill, counted from when the work started, within `share` of the work. */
  next(share = 1): number {
    return randomInt(0, Math.max(1, Math.round(this.workMs * share)));
  }

  /** The kill came first: the work may take longer than thought. */
  killed(): void {
    this.workMs = Math.min(this.workMs * 1.5, 10_000);
  }

  /** The work finished first, taking `ms`. */
  finished(ms: number): void {
    this.workMs = Math.max(20, ms * 0.8);
  }
}

/** Waits as `wait` says, then SIGKILLs the child: even when waiting fails, so no process outlives its test. */
export async function killAfter(child: ChildProcess, wait: () => Promise<unknown>): Promise<void> {
  try {
    await wait();
  } finally {
    child.kill('SIGKILL');
  }
}

/** Resolves once `seen` says yes, or once the child exits; looks again and again meanwhile. */
export async function untilSeen(seen: () => Promise<boolean>, child: ChildProcess): Promise<void> {
  while (child.exitCode === null && child.signalCode === null) {
    if (await seen()) return;
    // Let the child's exit event and timers run between looks.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Resolves once the child logs `line` on stderr, or once it exits. */
export async function untilLogged(child: ChildProcess, line: string): Promise<void> {
  let log = '';
  const seen = new Promise<void>((resolve) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes(line)) resolve();
    });
  });
  await Promise.race([seen, once(child, 'exit')]);
}

/** CRASH_SCALE: how many times each suite's rounds to run (bench/crash.mjs); 1 in `npm test`. */
export function scaledRounds(rounds: number): number {
  return Math.max(1, Math.round(rounds * crashScale()));
}

function crashScale(): number {
  const given = process.env.CRASH_SCALE ?? '1';
  const scale = Number(given);
  // Fewer rounds than `npm test` runs prove less than the suites' checks ask for.
  if (!Number.isFinite(scale) || scale < 1)
    throw new Error(`CRASH_SCALE must be a number ≥ 1, got '${given}'`);
  return scale;
}
