import { describe, expect, it } from 'vitest';
import { inSlice, parseSlice, sliceIndexOf, sliceLabel } from '../../src/domain/slices.js';

describe('slices', () => {
  it('puts every id in exactly one slice, spread evenly', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      const id = `inv-${i}`;
      const owners = [0, 1, 2, 3].filter((index) => inSlice(id, { index, count: 4 }));
      expect(owners).toEqual([sliceIndexOf(id, 4)]);
      counts[sliceIndexOf(id, 4)] = (counts[sliceIndexOf(id, 4)] ?? 0) + 1;
    }
    for (const count of counts) expect(count).toBeGreaterThan(850);
  });

  it('is stable: the same id always lands in the same slice', () => {
    expect(sliceIndexOf('inv:2026-0001', 8)).toBe(sliceIndexOf('inv:2026-0001', 8));
    expect(inSlice('anything', undefined)).toBe(true);
  });

  it('parses K/N and refuses anything else', () => {
    expect(parseSlice('2/8')).toEqual({ index: 2, count: 8 });
    for (const bad of ['8/8', '1/0', '-1/2', 'a/b', '1', '1/2/3'])
      expect(() => parseSlice(bad)).toThrow(/K\/N/);
    expect(sliceLabel({ index: 2, count: 8 })).toBe('2/8');
    expect(sliceLabel(undefined)).toBe('all');
  });
});
