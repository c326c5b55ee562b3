import type { AuditEntry, AuditPage, AuditQuery } from '../ports/audit-trail.js';
import { ValidationError } from './errors.js';

/**
 * What both audit trail adapters share: the stored line, the day an entry is filed under, and the
 * query over day files (filters, paging, the cursor). The adapters only enumerate and read files.
 */

/** Every field, in the order lines store them; the type makes a field added to AuditEntry a compile error here. */
const FIELD_ORDER: { [K in keyof Required<AuditEntry>]: K } = {
  at: 'at',
  actor: 'actor',
  actor_name: 'actor_name',
  action: 'action',
  outcome: 'outcome',
  status: 'status',
  record_id: 'record_id',
  run_id: 'run_id',
  request_id: 'request_id',
  client: 'client',
  detail: 'detail',
};
const FIELDS: string[] = Object.values(FIELD_ORDER);

const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * One NDJSON line, newline included. Only the port's fields are written (a wider object passed in
 * cannot leak anything else), in a fixed order; undefined fields are left out.
 */
export function auditLine(entry: AuditEntry): string {
  return `${JSON.stringify(entry, FIELDS)}\n`;
}

/**
 * The UTC day (YYYY-MM-DD) an entry is filed under. `at` must be exactly what toISOString gives,
 * since queries compare times as text.
 */
export function auditDay(at: string): string {
  if (!ISO_UTC_MS.test(at) || new Date(at).toISOString() !== at)
    throw new ValidationError(`audit time '${at}' is not an ISO 8601 UTC time with milliseconds`);
  return at.slice(0, 10);
}

/** One stored file of a day: the embedded backend has one per day, Azure one per append-blob part. */
export interface AuditDayFile {
  /** YYYY-MM-DD */
  day: string;
  part: number;
  read(): Promise<string>;
}

/**
 * The day files from `firstDay` to `lastDay` (YYYY-MM-DD, inclusive; undefined: unbounded), by day
 * then part. Consumed lazily: a full page stops the enumeration.
 */
export type AuditDayFiles = (
  firstDay: string | undefined,
  lastDay: string | undefined,
) => AsyncIterable<AuditDayFile>;

interface Position {
  day: string;
  part: number;
  line: number;
}

/** One page of the entries matching `query`, reading the files `files` yields. */
export async function queryAuditFiles(query: AuditQuery, files: AuditDayFiles): Promise<AuditPage> {
  if (!Number.isSafeInteger(query.limit) || query.limit < 1)
    throw new ValidationError('limit must be a positive whole number');
  const from = normaliseBound('from', query.from);
  const to = normaliseBound('to', query.to);
  const resume = query.cursor === undefined ? undefined : decodeCursor(query.cursor);

  const fromDay = from?.slice(0, 10);
  const firstDay = resume && (fromDay === undefined || resume.day > fromDay) ? resume.day : fromDay;
  // `to` is exclusive: when it is midnight, its own day holds nothing to return.
  const lastDay = to === undefined ? undefined : new Date(Date.parse(to) - 1).toISOString().slice(0, 10);
  if ((from !== undefined && to !== undefined && from >= to) || (firstDay && lastDay && firstDay > lastDay))
    return { items: [], nextCursor: undefined };
  const matches = (entry: AuditEntry): boolean =>
    (from === undefined || entry.at >= from) &&
    (to === undefined || entry.at < to) &&
    (query.recordId === undefined || entry.record_id === query.recordId) &&
    (query.actor === undefined || entry.actor === query.actor);

  const items: AuditEntry[] = [];
  for await (const file of files(firstDay, lastDay)) {
    if (resume?.day === file.day && file.part < resume.part) continue;
    const start = resume?.day === file.day && resume.part === file.part ? resume.line : 0;
    // A whole file is read at once: a day (or part) is at most some megabytes of short lines.
    const lines = (await file.read()).split('\n');
    for (let line = start; line < lines.length; line += 1) {
      const entry = parseLine(lines[line] ?? '');
      if (!entry || !matches(entry)) continue;
      // One match beyond the page: the cursor points at it, and a page that ends the results says so.
      if (items.length === query.limit)
        return { items, nextCursor: encodeCursor({ day: file.day, part: file.part, line }) };
      items.push(entry);
    }
  }
  return { items, nextCursor: undefined };
}

function normaliseBound(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new ValidationError(`'${name}' is not an ISO 8601 time`);
  return new Date(time).toISOString();
}

/**
 * An entry, or undefined for a line that is not one: the empty string after the last newline, or a
 * line torn by a crash. Files only grow, so line numbers (in cursors) never shift.
 */
function parseLine(line: string): AuditEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const entry = value as Partial<Record<keyof AuditEntry, unknown>>;
  const complete = (['at', 'actor', 'action', 'outcome'] as const).every(
    (key) => typeof entry[key] === 'string',
  );
  return complete ? (value as AuditEntry) : undefined;
}

function encodeCursor({ day, part, line }: Position): string {
  return Buffer.from(`${day}/${part}/${line}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): Position {
  const match = /^(\d{4}-\d{2}-\d{2})\/(\d{1,9})\/(\d{1,9})$/.exec(
    Buffer.from(cursor, 'base64url').toString('utf8'),
  );
  const position = match && { day: match[1] ?? '', part: Number(match[2]), line: Number(match[3]) };
  // Re-encoding must give the cursor back: base64url decoding skips characters it does not know.
  if (!position || encodeCursor(position) !== cursor)
    throw new ValidationError('the cursor is not one this server gave out');
  return position;
}
