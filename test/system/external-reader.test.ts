import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKENDS, blobNames, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { tempDir } from '../helpers/temp-dir.js';

interface CustomerTotal {
  customer_id: string;
  records: number;
  /** Sum of amounts in cents: exact, unlike a sum of floating-point amounts. */
  cents: number;
}

/** DuckDB, which nobody here wrote, reading the segment files the way an analyst would. */
async function totalsByDuckDb(root: string): Promise<{ totals: CustomerTotal[]; months: string[] }> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const source = `read_ndjson('${join(root, 'segments', '**', '*.ndjson.gz')}', hive_partitioning = true)`;
    const totals = await connection.runAndReadAll(
      `SELECT customer_id, count(*)::INTEGER AS records,
              sum(CAST(round(amount * 100) AS BIGINT))::BIGINT AS cents
       FROM ${source} GROUP BY customer_id ORDER BY customer_id`,
    );
    const months = await connection.runAndReadAll(`SELECT DISTINCT created FROM ${source} ORDER BY created`);
    return {
      totals: totals.getRowObjectsJson().map((row) => ({
        customer_id: text(row.customer_id),
        records: Number(row.records),
        cents: Number(row.cents),
      })),
      months: months.getRowObjectsJson().map((row) => text(row.created)),
    };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function text(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`expected text from DuckDB, got ${JSON.stringify(value)}`);
  return value;
}

describe.each(BACKENDS)('an external reader (DuckDB) reads the segment archive (%s)', (backend) => {
  let harness: Harness | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('counts and sums amounts per customer exactly as archived', async () => {
    harness = await startHarness({ backend, layout: 'segment', env: { SEGMENT_MAX_RECORDS: '40' } });
    const expected = new Map<string, CustomerTotal>();
    for (let i = 0; i < 150; i++) {
      const customer = `cust-${i % 7}`;
      const cents = (i * 7919) % 100_000;
      const month = (1 + (i % 4)).toString().padStart(2, '0');
      await harness.services.records.create(
        recordBody({
          customer_id: customer,
          amount: cents / 100,
          created_at: `2025-${month}-15T12:00:00.000Z`,
        }),
      );
      const total = expected.get(customer) ?? { customer_id: customer, records: 0, cents: 0 };
      total.records += 1;
      total.cents += cents;
      expected.set(customer, total);
    }
    expect(await harness.services.archiver.runOnce()).toMatchObject({ status: 'succeeded', archived: 150 });

    let root: string;
    if (harness.config.backend.kind === 'embedded') {
      // The embedded archive is plain files of the blobs' names: point the reader straight at them.
      root = join(harness.config.backend.dataDir, 'archive');
    } else {
      // From Blob Storage, as an operator would with azcopy: download the segments under their names.
      const dir = await tempDir();
      cleanups.push(dir.remove);
      root = dir.path;
      for (const name of await blobNames(harness, 'segments/')) {
        if (!name.endsWith('.ndjson.gz')) continue;
        const path = join(root, ...name.split('/'));
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, await harness.adapters.store.get(name));
      }
    }
    const { totals, months } = await totalsByDuckDb(root);
    expect(totals).toEqual([...expected.values()].sort((a, b) => a.customer_id.localeCompare(b.customer_id)));
    // Hive-style folders give the reader the creation month to prune by.
    expect(months).toEqual(['2025-01', '2025-02', '2025-03', '2025-04']);
  });
});
