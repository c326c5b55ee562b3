import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  archiveIndexIndexingPolicy,
  recordsIndexingPolicy,
} from '../../src/adapters/cosmos/cosmos-container.js';
import { listingFilter } from '../../src/adapters/cosmos/cosmos-listing.js';

/** The adapters whose documents share the archive index's container. */
const SHARING = [
  'cosmos-archive-index.ts',
  'cosmos-garbage-queue.ts',
  'cosmos-deletion-notes.ts',
  // The listing filter the index shares with the live store.
  'cosmos-listing.ts',
];

/**
 * Every `c.<path>` a query of these adapters filters or orders on, read from their string literals
 * (what a query selects or sums, before `FROM c`, needs no index).
 */
async function queriedPaths(): Promise<Set<string>> {
  const paths = new Set<string>();
  for (const file of SHARING) {
    const source = await readFile(new URL(`../../src/adapters/cosmos/${file}`, import.meta.url), 'utf8');
    for (const [literal] of source.matchAll(/"[^"\n]*"|'[^'\n]*'|`[^`]*`/g)) {
      const filtered = literal.includes('FROM c') ? literal.slice(literal.indexOf('FROM c') + 6) : literal;
      for (const [, path] of filtered.matchAll(/\bc\.([a-z_]+(?:\.[a-z_]+)*)/g)) if (path) paths.add(path);
    }
  }
  return paths;
}

describe('the archive index container indexing policy', () => {
  it('indexes every path the queries on its container filter or order on, and nothing else', async () => {
    const policy = await archiveIndexIndexingPolicy();
    expect(policy.excludedPaths).toEqual([{ path: '/*' }]);
    const included = new Set(policy.includedPaths?.map(({ path }) => path));
    const queried = await queriedPaths();
    // `id` is always indexed, whatever the policy says.
    queried.delete('id');
    expect([...queried].map((path) => `/${path.replaceAll('.', '/')}/?`).sort()).toEqual(
      [...included].sort(),
    );
  });
});

describe('the composite index listing in creation order sorts on', () => {
  const compositeOf = (orderBy: string) =>
    orderBy.split(', ').map((term) => ({ path: `/${term.replace(/^c\./, '')}`, order: 'ascending' }));

  it('is in the archive index container policy and in the live container policy, with a customer or without', async () => {
    const orders = [
      listingFilter({ byCreation: {} }),
      listingFilter({ byCreation: {}, customerId: 'c' }),
    ].map(({ orderBy }) => orderBy);
    expect(orders).toEqual(['c.created_at, c.id', 'c.customer_id, c.created_at, c.id']);
    for (const policy of [await archiveIndexIndexingPolicy(), await recordsIndexingPolicy()])
      for (const orderBy of orders) expect(policy.compositeIndexes).toContainEqual(compositeOf(orderBy));
  });
});
