// Command-line flags the benches share.

/**
 * A flag's value as a whole number of at least 1, or an error naming the flag.
 * @param {string} text
 * @param {string} flag
 */
export function wholeNumber(text, flag) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${flag} takes a whole number ≥ 1 (got ${text})`);
  return value;
}
