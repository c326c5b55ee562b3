/**
 * JSON.parse typed as what it is: anything, to be narrowed by the caller.
 * @param {string} text
 * @returns {unknown}
 */
export function parseJson(text) {
  /** @type {unknown} */
  const value = JSON.parse(text);
  return value;
}
