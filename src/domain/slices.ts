import { createHash } from 'node:crypto';

/** One of `count` disjoint parts of the record id space; every id belongs to exactly one. */
export interface Slice {
  index: number;
  count: number;
}

/** The slice an id belongs to: its SHA-256 read as a number, modulo the slice count. */
export function sliceIndexOf(id: string, count: number): number {
  return createHash('sha256').update(id, 'utf8').digest().readUInt32BE(0) % count;
}

export function inSlice(id: string, slice: Slice | undefined): boolean {
  return slice === undefined || sliceIndexOf(id, slice.count) === slice.index;
}

/** "K/N" as in `archive --slice 2/8`; throws a message naming the problem. */
export function parseSlice(text: string): Slice {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index >= count) {
    throw new Error(`a slice is K/N with 0 ≤ K < N (got '${text}')`);
  }
  return { index, count };
}

export function sliceLabel(slice: Slice | undefined): string {
  return slice === undefined ? 'all' : `${slice.index}/${slice.count}`;
}
