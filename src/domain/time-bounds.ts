import { instantMs } from './record-times.js';

/**
 * A creation-time bound as the UTC text stored times are compared with, or undefined with the
 * problem noted (`name` as the caller wrote it: a query parameter, a body field, a CLI option).
 * Stored times keep milliseconds: a bound finer than that would be rounded into another meaning,
 * so it is refused.
 */
export function timeBound(name: string, value: string | undefined, problems: string[]): string | undefined {
  if (value === undefined) return undefined;
  const ms = instantMs(value);
  if (ms === undefined) {
    problems.push(`${name} must be an RFC 3339 date-time such as 2025-01-01T00:00:00Z`);
    return undefined;
  }
  if (/\.\d{3}\d*[1-9]/.test(value)) {
    problems.push(`${name} is finer than a millisecond, which stored times do not keep`);
    return undefined;
  }
  return new Date(ms).toISOString();
}
