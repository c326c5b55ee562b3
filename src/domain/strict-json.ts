import { visit, type JSONPath } from 'jsonc-parser';

/** Problems past this many are not listed: one bad body must not make a huge answer. */
const LISTED = 20;
/**
 * Deeper text is refused before it is walked (the walk recurses, as JSON.stringify does later);
 * records have a far lower limit of their own (RECORD_LIMITS), which names the field.
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * What JSON.parse would silently change in a request body: a field given twice (the last would
 * win) and a number it cannot hold exactly (`0.1000000000000000001` would become 0.1, `-0` would be
 * stored as 0). Billing records are evidence: such a body is refused rather than altered. Text
 * that is not JSON gives no problems here; the parser that follows says what is wrong with it.
 */
export function strictJsonProblems(text: string): string[] {
  if (depthOf(text) > MAX_JSON_DEPTH) return [`the body nests more than ${MAX_JSON_DEPTH} levels deep`];
  const problems: string[] = [];
  const keysOf: Set<string>[] = [];
  const seen = { malformed: false };
  visit(
    text,
    {
      onObjectBegin: () => {
        keysOf.push(new Set());
      },
      onObjectEnd: () => {
        keysOf.pop();
      },
      onObjectProperty: (property, _offset, _length, _line, _character, pathSupplier) => {
        const keys = keysOf.at(-1);
        if (keys?.has(property))
          problems.push(`${placeOf(pathSupplier())} has the field '${property}' twice`);
        keys?.add(property);
      },
      onLiteralValue: (value: unknown, offset, length, _line, _character, pathSupplier) => {
        if (typeof value !== 'number') return;
        const literal = text.slice(offset, offset + length);
        const stored = JSON.stringify(value);
        if (decimalOf(literal) !== decimalOf(stored))
          problems.push(
            `${placeOf(pathSupplier())} ${literal} cannot be stored exactly: it would become ${stored}`,
          );
      },
      onError: () => {
        seen.malformed = true;
      },
    },
    { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
  );
  if (seen.malformed) return [];
  return problems.length > LISTED
    ? [...problems.slice(0, LISTED), `and ${problems.length - LISTED} more problems of the same kind`]
    : problems;
}

/** How deep the text's arrays and objects nest, counted in one pass without recursion. */
function depthOf(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i += 1;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{' || char === '[') deepest = Math.max(deepest, ++depth);
    else if (char === '}' || char === ']') depth -= 1;
  }
  return deepest;
}

function placeOf(path: JSONPath): string {
  return path.length === 0 ? 'the body' : path.join('.');
}

/**
 * A number's exact decimal value, written one way: sign, significant digits, exponent. `1.50` and
 * `15e-1` are the same; `-0` and `0` are not (JSON writes -0 as 0). Not a number: `null`.
 */
function decimalOf(literal: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!match) return 'null';
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  let digits = `${whole}${fraction}`.replace(/^0+/, '');
  let scale = Number(exponent) - fraction.length;
  if (digits === '') return `${sign}0`;
  while (digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    scale += 1;
  }
  return `${sign}${digits}e${scale}`;
}
