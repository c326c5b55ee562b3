import { describe, expect, it } from 'vitest';
import { printable } from '../../src/domain/printable.js';

describe('printable', () => {
  it('drops control and format characters (line breaks, bidi overrides) and bounds the length', () => {
    expect(printable('Ada\u202e nimda\n{"actor":"x"}\u0000', 100)).toBe('Ada nimda{"actor":"x"}');
    expect(printable('é✓ invoice', 100)).toBe('é✓ invoice');
    expect(printable('x'.repeat(600), 500)).toHaveLength(500);
  });
});
