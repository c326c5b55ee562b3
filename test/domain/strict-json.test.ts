import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, strictJsonProblems } from '../../src/domain/strict-json.js';

describe('strictJsonProblems', () => {
  it.each([
    ['{"amount": 299.99, "currency": "USD"}'],
    ['{"a": 1.50, "b": 15e-1, "c": 1e21, "d": -12, "e": 0, "f": 0.0, "g": [1, 2.5]}'],
    ['{"a": {"x": 1}, "b": {"x": 1}}'],
    ['{"text": "a \\"quoted\\" { [ brace"}'],
    [`{"max": ${Number.MAX_SAFE_INTEGER}}`],
  ])('finds nothing wrong with %s', (text) => {
    expect(strictJsonProblems(text)).toEqual([]);
  });

  it.each([
    ['{"a": 1, "a": 2}', "the body has the field 'a' twice"],
    ['{"m": {"x": [{"k": 1, "k": 1}]}}', "m.x.0 has the field 'k' twice"],
    [
      '{"amount": 0.1000000000000000001}',
      'amount 0.1000000000000000001 cannot be stored exactly: it would become 0.1',
    ],
    ['{"amount": -0}', 'amount -0 cannot be stored exactly: it would become 0'],
    ['{"n": -0.0e5}', 'n -0.0e5 cannot be stored exactly: it would become 0'],
    [
      '{"n": 9007199254740993}',
      'n 9007199254740993 cannot be stored exactly: it would become 9007199254740992',
    ],
    ['{"n": 1e400}', 'n 1e400 cannot be stored exactly: it would become null'],
  ])('names what parsing %s would change', (text, problem) => {
    expect(strictJsonProblems(text)).toEqual([problem]);
  });

  it('lists at most 20 problems and says how many more there were', () => {
    const text = `{${Array.from({ length: 25 }, () => '"a": 1').join(', ')}}`;
    const problems = strictJsonProblems(text);
    expect(problems).toHaveLength(21);
    expect(problems.at(-1)).toBe('and 4 more problems of the same kind');
  });

  it('refuses nesting past its limit without recursing, and leaves malformed text to the parser', () => {
    const deep = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;
    expect(strictJsonProblems(deep(MAX_JSON_DEPTH))).toEqual([]);
    expect(strictJsonProblems(deep(MAX_JSON_DEPTH + 1))).toEqual([
      `the body nests more than ${MAX_JSON_DEPTH} levels deep`,
    ]);
    expect(strictJsonProblems(deep(1_000_000))).toHaveLength(1);
    expect(strictJsonProblems('{"a": 1, "a": ')).toEqual([]);
    expect(strictJsonProblems('{"a": 1,}')).toEqual([]);
  });
});
