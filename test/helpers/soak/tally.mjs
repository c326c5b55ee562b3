// Counts of the soak's operations by kind, with their answers and latencies.

/**
 * @typedef {object} KindFigures
 * @property {string} kind
 * @property {number} count
 * @property {number} perSecond
 * @property {number} p50Ms
 * @property {number} p95Ms
 * @property {Record<string, number>} answers every answer, by label ("200", "409 concurrent_modification")
 */

export class Tally {
  /** @type {Map<string, { answers: Map<string, number>, ms: number[] }>} */
  #kinds = new Map();

  /**
   * @param {string} kind
   * @param {string} answer
   * @param {number} ms
   */
  add(kind, answer, ms) {
    let figures = this.#kinds.get(kind);
    if (!figures) {
      figures = { answers: new Map(), ms: [] };
      this.#kinds.set(kind, figures);
    }
    figures.answers.set(answer, (figures.answers.get(answer) ?? 0) + 1);
    figures.ms.push(ms);
  }

  /**
   * How many answers of `kind` were `answer` (any answer when absent).
   * @param {string} kind
   * @param {string} [answer]
   */
  count(kind, answer) {
    const figures = this.#kinds.get(kind);
    if (!figures) return 0;
    if (answer !== undefined) return figures.answers.get(answer) ?? 0;
    return figures.ms.length;
  }

  /**
   * @param {number} seconds how long the phase ran
   * @returns {KindFigures[]}
   */
  figures(seconds) {
    return [...this.#kinds].map(([kind, { answers, ms }]) => {
      const sorted = [...ms].sort((a, b) => a - b);
      return {
        kind,
        count: ms.length,
        perSecond: ms.length / seconds,
        p50Ms: percentile(sorted, 50),
        p95Ms: percentile(sorted, 95),
        answers: Object.fromEntries(answers),
      };
    });
  }
}

/**
 * @param {number[]} sorted
 * @param {number} p
 */
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}
