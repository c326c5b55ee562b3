// The soak's HTTP client: one key per role, every answer reduced to what the model and the tallies
// need. Never throws for an answer: a failed connection or a timeout is an answer too (status 0).
import { parseJson } from './json.mjs';

/**
 * @typedef {object} Answer
 * @property {number} status HTTP status; 0 when no answer came
 * @property {string} label "200", "409 concurrent_modification", "timeout", "network error"
 * @property {string} text the body
 * @property {string | undefined} etag the ETag header
 * @property {number} ms
 */

/** @typedef {'reader' | 'writer' | 'operator' | 'admin'} Role */

export class Api {
  /**
   * @param {string} base
   * @param {Record<Role, string>} keys
   */
  constructor(base, keys) {
    this.base = base;
    this.keys = keys;
  }

  /**
   * @param {Role} role
   * @param {'GET' | 'POST' | 'PUT' | 'DELETE'} method
   * @param {string} path
   * @param {{ body?: unknown, ifMatch?: string, timeoutMs?: number }} [options]
   * @returns {Promise<Answer>}
   */
  async request(role, method, path, options = {}) {
    /** @type {Record<string, string>} */
    const headers = { authorization: `Bearer ${this.keys[role]}` };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
    const started = performance.now();
    try {
      const response = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
      });
      const text = await response.text();
      return {
        status: response.status,
        label: statusLabel(response.status, text),
        text,
        etag: response.headers.get('etag') ?? undefined,
        ms: performance.now() - started,
      };
    } catch (error) {
      const timedOut = error instanceof Error && error.name === 'TimeoutError';
      return {
        status: 0,
        label: timedOut ? 'timeout' : 'network error',
        text: error instanceof Error ? error.message : String(error),
        etag: undefined,
        ms: performance.now() - started,
      };
    }
  }
}

/**
 * @param {number} status
 * @param {string} text
 */
function statusLabel(status, text) {
  if (status < 400) return String(status);
  try {
    const body = /** @type {{ error?: unknown }} */ (parseJson(text));
    return typeof body.error === 'string' ? `${status} ${body.error}` : String(status);
  } catch {
    return String(status);
  }
}
