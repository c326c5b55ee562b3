import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { emptyUsage } from '../../src/domain/usage.js';
import { UsageTally } from '../../src/services/usage-tally.js';

describe('UsageTally', () => {
  it('counts a request into the work it was made for, however the calls interleave', async () => {
    const tally = new UsageTally();
    const write = () => {
      tally.count({ store: 'archive_store', kind: 'write' });
    };
    const read = () => {
      tally.count({ store: 'archive_store', kind: 'read' });
    };
    const first = emptyUsage();
    const second = emptyUsage();
    await Promise.all([
      tally.measure(first, async () => {
        for (let i = 0; i < 5; i++) {
          write();
          await sleep(1);
        }
      }),
      tally.measure(second, async () => {
        for (let i = 0; i < 3; i++) {
          await sleep(1);
          read();
        }
      }),
    ]);
    read(); // made outside both: the process's totals only
    expect(first.archive_store.by_kind).toEqual({ write: 5 });
    expect(second.archive_store.by_kind).toEqual({ read: 3 });
    expect(tally.totals().archive_store.by_kind).toEqual({ write: 5, read: 4 });
  });

  it('counts work nested in a measurement into both, and work started from it after it returned', async () => {
    const tally = new UsageTally();
    const outer = emptyUsage();
    const inner = emptyUsage();
    let later: Promise<void> | undefined;
    await tally.measure(outer, async () => {
      tally.count({ store: 'cosmos', kind: 'runs/upsert', requestUnits: 10 });
      await tally.measure(inner, () => {
        tally.count({ store: 'cosmos', kind: 'billing/batch', requestUnits: 500 });
        return Promise.resolve();
      });
      // An archival run's promise outlives the call that started it.
      later = sleep(5).then(() => {
        tally.count({ store: 'cosmos', kind: 'runs/upsert', requestUnits: 10 });
      });
    });
    await later;
    expect(inner.cosmos).toMatchObject({ requests: 1, request_units: 500 });
    expect(outer.cosmos).toMatchObject({ requests: 3, request_units: 520 });
    expect(tally.totals().cosmos.requests).toBe(3);
  });

  it('gives copies of its totals, which later counting does not change', () => {
    const tally = new UsageTally();
    const before = tally.totals();
    tally.count({ store: 'archive_store', kind: 'delete' });
    expect(before.archive_store.operations).toBe(0);
    expect(tally.totals().archive_store.operations).toBe(1);
  });
});
