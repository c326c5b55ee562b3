/**
 * Listings across the live store and the archive go in creation order: by `created_at` as the
 * record keeps it, then by id. Records this API writes keep UTC times of one spelling
 * (`2026-01-31T10:00:00.000Z`), so their text order is their time order; a document another system
 * wrote with another spelling sorts by its text. Only records whose `created_at` is text are listed
 * so. Every store compares the text by code point (SQLite's BINARY, UTF-8 bytes), and so does
 * `compareCreation`, so the stores' pages and the merge of them agree on one order.
 */
export interface CreationKey {
  createdAt: string;
  id: string;
}

/** A listing in creation order, from strictly after `after` when given. */
export interface CreationOrder {
  after?: CreationKey | undefined;
}

/** Orders two texts by code point, as UTF-8 bytes sort (UTF-16 code units differ from it above U+D7FF). */
export function compareText(a: string, b: string): number {
  const shorter = Math.min(a.length, b.length);
  for (let i = 0; i < shorter; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Surrogates stand for code points above U+FFFF: they rank after U+E000–U+FFFF. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  return unit >= 0xe000 ? unit - 0x800 : unit;
}

export function compareCreation(a: CreationKey, b: CreationKey): number {
  return compareText(a.createdAt, b.createdAt) || compareText(a.id, b.id);
}

/** The key of a record or an entry, or undefined when its `created_at` is not text (never listed in creation order). */
export function creationKeyOf(item: { id: string; created_at?: unknown }): CreationKey | undefined {
  return typeof item.created_at === 'string' ? { createdAt: item.created_at, id: item.id } : undefined;
}
