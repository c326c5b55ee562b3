import { printable } from './printable.js';

/**
 * RFC 3339 date-time: `T` or `t` (or the space RFC 3339 allows for readability), any fraction of a
 * second, `Z`, `z` or a ±hh:mm offset. Nothing looser: a time without an offset, or a number of
 * seconds or milliseconds since 1970, could only be read by guessing.
 */
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

const TIMESTAMP_FIELDS = ['created_at', 'updated_at', 'restored_at'] as const;

/** How a record's timestamps read as instants (docs/ARCHITECTURE.md §3, "Age for archival"). */
export type RecordTimes =
  | { readable: true; createdMs: number; lastTouchMs: number }
  | {
      readable: false;
      /** Why, one sentence per unreadable field. */
      problem: string;
      /** The latest timestamp that did read, if any: a record touched since a cutoff is not due. */
      lastTouchMs: number | undefined;
    };

/**
 * The instant an RFC 3339 date-time names, in milliseconds since 1970 (finer fractions dropped,
 * which keeps every comparison with a whole millisecond right); undefined for anything else,
 * including a leap second, which a JavaScript instant cannot hold.
 */
export function instantMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = DATE_TIME.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [, , , , , , , fraction, sign, offsetHours, offsetMinutes] = match;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const offset = sign === undefined ? 0 : Number(offsetHours) * 60 + Number(offsetMinutes);
  if (sign !== undefined && (Number(offsetHours) > 23 || Number(offsetMinutes) > 59)) return undefined;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not read years 0–99 as 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number((fraction ?? '').padEnd(3, '0').slice(0, 3)));
  return date.getTime() - (sign === '-' ? -offset : offset) * 60_000;
}

/**
 * Reads `created_at`, `updated_at` and `restored_at`. `created_at` must be a date-time;
 * `updated_at` and `restored_at` may be absent or null (never updated, never restored), else must be
 * one too. The last touch is the latest of them.
 */
export function recordTimes(doc: Readonly<Record<string, unknown>>): RecordTimes {
  const problems: string[] = [];
  let createdMs: number | undefined;
  let lastTouchMs: number | undefined;
  for (const field of TIMESTAMP_FIELDS) {
    const value = doc[field];
    if (field !== 'created_at' && (value === undefined || value === null)) continue;
    const ms = instantMs(value);
    if (ms === undefined) {
      problems.push(timestampProblem(field, value));
      continue;
    }
    if (field === 'created_at') createdMs = ms;
    if (lastTouchMs === undefined || ms > lastTouchMs) lastTouchMs = ms;
  }
  if (problems.length > 0 || createdMs === undefined || lastTouchMs === undefined)
    return { readable: false, problem: problems.join('; '), lastTouchMs };
  return { readable: true, createdMs, lastTouchMs };
}

/** `created_at` as UTC text (`2024-01-01T10:00:00.000Z`) when it reads as an instant; else as stored. */
export function utcCreatedAt(createdAt: unknown): string {
  const ms = instantMs(createdAt);
  return ms === undefined ? String(createdAt) : new Date(ms).toISOString();
}

function timestampProblem(field: string, value: unknown): string {
  if (value === undefined) return `${field} is missing`;
  if (typeof value === 'number')
    return `${field} is the number ${String(value)}, not an RFC 3339 date-time: reading it as seconds or milliseconds since 1970 would be a guess`;
  if (typeof value === 'string') {
    const shown = `${printable(value, 40)}${value.length > 40 ? '…' : ''}`;
    return `${field} ${JSON.stringify(shown)} is not an RFC 3339 date-time such as 2024-02-15T00:00:00Z`;
  }
  const kind =
    value === null
      ? 'null'
      : Array.isArray(value)
        ? 'an array'
        : typeof value === 'object'
          ? 'an object'
          : `a ${typeof value}`;
  return `${field} is ${kind}, not an RFC 3339 date-time`;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
