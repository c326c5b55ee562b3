/**
 * Text a caller chose (a token's name, a field name echoed in an error) as a log or audit entry may
 * show it: no control or format characters (no bidi overrides, no line breaks), at most `max` long.
 */
export function printable(text: string, max: number): string {
  return text.replace(/\p{Cc}|\p{Cf}/gu, '').slice(0, max);
}
