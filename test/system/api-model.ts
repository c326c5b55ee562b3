import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { RawAnswer } from '../helpers/raw-http.js';
import {
  LEAP_SECOND,
  MALFORMED_CREATED_AT,
  STATUSES,
  VALID_CURRENCIES,
  VALID_DUE_DATES,
  type Body,
  type Command,
  type IfMatch,
  type Who,
} from './api-commands.js';

/**
 * What the API must answer, written from docs/API.md rather than from the code: the model of the
 * records the property test keeps, and for each command, given the model, which answers are right
 * and what the model becomes.
 */

/** A record as the model keeps it: its bytes as the API answered them, where it lives, its ETag. */
export interface Kept {
  json: string;
  where: 'live' | 'archive';
  etag: string;
}

/** Everything the model knows about one id. */
export interface IdState {
  record: Kept | undefined;
  held: boolean;
  /** A hold was ever placed: its history keeps the id known to GET …/legal-hold. */
  everHeld: boolean;
}

export const NOTHING: IdState = { record: undefined, held: false, everHeld: false };

export type Outcome = { ok: true; next: IdState } | { ok: false; why: string };

export type Single = Exclude<Command, { op: 'together' | 'list' | 'listArchived' | 'hostile' | 'archive' }>;

/** What the server must make of a body: refuse it with one of `statuses`, or read it as `input`. */
export type BodyVerdict = { refused: number[] } | { input: unknown };

/** Facts of one request as sent, which the model needs to judge its answer. */
export interface Sent {
  verdict?: BodyVerdict;
  ifMatch?: { kind: IfMatch; header: string | undefined };
  /** The test's clock when the request left. */
  now: number;
  /** Sent beside other commands: losing a race (409 concurrent_modification) is a right answer too. */
  racing: boolean;
}

const MAX_AMOUNT = 999_999_999_999.99;
const RECORD_ID = /^(?!\.+$)[A-Za-z0-9._:-]{1,128}$/;
const LIMITS = { depth: 32, values: 10_000, metadataBytes: 64 * 1024 };
const RECORD_FIELDS = [
  'id',
  'customer_id',
  'amount',
  'currency',
  'status',
  'description',
  'due_date',
  'created_at',
  'updated_at',
  'restored_at',
  'metadata',
];
const ROLES: Record<Who, string[]> = {
  root: ['reader', 'writer', 'operator', 'admin', 'legal'],
  operator: ['reader', 'writer', 'operator'],
  writer: ['reader', 'writer'],
  reader: ['reader'],
  none: [],
  bad: [],
};

/** The role each command needs. */
export type Role = 'reader' | 'writer' | 'operator' | 'admin' | 'legal';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');
}

/** Length in code points, as JSON Schema counts it (a lone surrogate is one). */
export function codePoints(text: string): number {
  let count = 0;
  for (const _codePoint of text) count += 1;
  return count;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCanonicalTime(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const ms = Date.parse(value);
  return !Number.isNaN(ms) && new Date(ms).toISOString() === value;
}

/** Whether Content-Type `type` is application/json, and whether it names a charset other than UTF-8. */
function jsonType(type: string | undefined): { json: boolean; utf8: boolean } {
  const [essence = '', ...parameters] = (type ?? '').split(';').map((part) => part.trim().toLowerCase());
  return {
    json: essence === 'application/json',
    utf8: parameters.every(
      (parameter) => !parameter.startsWith('charset=') || /^charset="?utf-?8"?$/.test(parameter),
    ),
  };
}

/** `__proto__`, or a `constructor` holding `prototype`, anywhere: refused as prototype poisoning. */
function poisons(value: unknown): boolean {
  const pending = [value];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Object.hasOwn(node, '__proto__')) return true;
    const ctor: unknown = (node as Record<string, unknown>).constructor;
    if (
      Object.hasOwn(node, 'constructor') &&
      typeof ctor === 'object' &&
      ctor !== null &&
      Object.hasOwn(ctor, 'prototype')
    )
      return true;
    for (const child of Object.values(node) as unknown[]) pending.push(child);
  }
  return false;
}

/** The verdict on a body sent as `text` (bytes for a refused body) with `type`. */
export function bodyVerdict(body: Body, text: string | undefined, type: string | undefined): BodyVerdict {
  const { json, utf8 } = jsonType(type);
  // No bytes is no body, whatever its type claims: refused for want of an object.
  if (body.form === 'refused' && body.bytes.length === 0)
    return { refused: json && utf8 ? [400] : [400, 415] };
  if (!json) return { refused: [415] };
  // The charset is looked at once the body is read, within its size limit.
  const tooLarge = body.form === 'refused' && body.status === 413;
  if (!utf8) return { refused: [tooLarge ? 413 : 415] };
  if (body.form === 'refused') return { refused: [body.status] };
  const input: unknown = JSON.parse(text ?? '');
  return poisons(input) ? { refused: [400] } : { input };
}

function withinLimits(input: Record<string, unknown>): boolean {
  let values = 0;
  let deepest = 0;
  const pending: [unknown, number][] = [[input, 0]];
  while (pending.length > 0) {
    const [value, depth] = pending.pop() ?? [undefined, 0];
    values += 1;
    deepest = Math.max(deepest, depth);
    if (typeof value === 'object' && value !== null)
      for (const child of Object.values(value)) pending.push([child, depth + 1]);
  }
  if (deepest > LIMITS.depth || values > LIMITS.values) return false;
  if (!('metadata' in input)) return true;
  return Buffer.byteLength(JSON.stringify(input.metadata ?? null)) <= LIMITS.metadataBytes;
}

function validAmount(amount: unknown): boolean {
  return (
    typeof amount === 'number' &&
    Number.isFinite(amount) &&
    !Object.is(amount, -0) &&
    amount >= 0 &&
    amount <= MAX_AMOUNT &&
    Number(amount.toFixed(2)) === amount
  );
}

/** Field rules both a create and an update must meet. */
function fieldsValid(input: Record<string, unknown>): boolean {
  const { customer_id: customerId, amount, currency, status, description, due_date: dueDate } = input;
  const optional = (value: unknown, valid: (value: unknown) => boolean) =>
    value === undefined || valid(value);
  return (
    withinLimits(input) &&
    typeof customerId === 'string' &&
    codePoints(customerId) >= 1 &&
    codePoints(customerId) <= 128 &&
    !/\p{Cs}/u.test(customerId) &&
    validAmount(amount) &&
    optional(currency, (value) => VALID_CURRENCIES.includes(value as string)) &&
    optional(status, (value) => STATUSES.includes(value as string)) &&
    optional(description, (value) => typeof value === 'string' && codePoints(value) <= 4096) &&
    optional(dueDate, (value) => value === null || VALID_DUE_DATES.includes(value as string)) &&
    optional(input.updated_at, (value) => typeof value === 'string') &&
    optional(input.restored_at, (value) => typeof value === 'string') &&
    optional(input.metadata, isObject)
  );
}

/** An RFC 3339 date-time (what an update checks of a created_at it then ignores). */
function isDateTime(value: unknown): boolean {
  return typeof value === 'string' && !MALFORMED_CREATED_AT.includes(value);
}

/** created_at a create stores: an instant, not in the future; undefined when refused. */
function storableCreatedAt(value: unknown, now: number): string | undefined {
  if (!isDateTime(value) || value === LEAP_SECOND) return undefined;
  const ms = Date.parse(value as string);
  return ms <= now ? new Date(ms).toISOString() : undefined;
}

/** The document a valid create stores, without the timestamps and id the server picks; undefined when refused. */
export function createdDocument(input: unknown, now: number): Record<string, unknown> | undefined {
  if (!isObject(input) || !Object.keys(input).every((key) => RECORD_FIELDS.includes(key))) return undefined;
  if (!fieldsValid(input)) return undefined;
  if (input.id !== undefined && !(typeof input.id === 'string' && RECORD_ID.test(input.id))) return undefined;
  const createdAt = input.created_at === undefined ? undefined : storableCreatedAt(input.created_at, now);
  if (input.created_at !== undefined && createdAt === undefined) return undefined;
  return {
    ...(input.id !== undefined && { id: input.id }),
    ...knownFields(input),
    ...(createdAt !== undefined && { created_at: createdAt, updated_at: createdAt }),
  };
}

/** The document a valid update of `existing` stores, but for updated_at; undefined when refused. */
export function replacedDocument(
  existing: Record<string, unknown>,
  input: unknown,
  pathId: string,
): Record<string, unknown> | undefined {
  if (!isObject(input) || !Object.keys(input).every((key) => RECORD_FIELDS.includes(key))) return undefined;
  if (!fieldsValid(input)) return undefined;
  if (input.id !== undefined && input.id !== pathId) return undefined;
  if (input.created_at !== undefined && !isDateTime(input.created_at)) return undefined;
  const { metadata: _old, updated_at: _updated, ...kept } = existing;
  return { ...kept, ...knownFields(input) };
}

function knownFields(input: Record<string, unknown>): Record<string, unknown> {
  return {
    customer_id: input.customer_id,
    amount: input.amount,
    currency: input.currency ?? 'USD',
    status: input.status ?? 'pending',
    description: input.description ?? '',
    due_date: input.due_date ?? null,
    ...(input.metadata !== undefined && { metadata: input.metadata }),
  };
}

/** The latest of a document's created_at, updated_at and restored_at. */
export function lastTouch(json: string): number {
  const doc = JSON.parse(json) as Record<string, unknown>;
  return Math.max(
    ...[doc.created_at, doc.updated_at, doc.restored_at].map((value) =>
      typeof value === 'string' ? Date.parse(value) : Number.NEGATIVE_INFINITY,
    ),
  );
}

export function createdMs(json: string): number {
  return Date.parse((JSON.parse(json) as { created_at: string }).created_at);
}

/** The archival run's effect on one record: moved to the archive once last touched before `cutoff`. */
export function archiveStep(state: IdState, cutoff: number): IdState {
  const { record } = state;
  if (record?.where !== 'live' || lastTouch(record.json) >= cutoff) return state;
  return {
    ...state,
    record: { json: record.json, where: 'archive', etag: `"sha256-${sha256Hex(record.json)}"` },
  };
}

/** The retention sweep's effect: an archived record created before `cutoff` and not held is removed. */
export function sweepStep(state: IdState, cutoff: number): IdState {
  const { record } = state;
  if (record?.where !== 'archive' || state.held || createdMs(record.json) >= cutoff) return state;
  return { ...state, record: undefined };
}

const ok = (next: IdState): Outcome => ({ ok: true, next });
const wrong = (why: string): Outcome => ({ ok: false, why });

function errorCode(answer: RawAnswer): string | undefined {
  try {
    return (JSON.parse(answer.body) as { error?: string }).error;
  } catch {
    return undefined;
  }
}

/** 409s that say "another request had the record": right answers, changing nothing, while racing. */
const LOST_RACE_CODES = ['concurrent_modification', 'deletion_in_progress'];

/**
 * A refusal: one of `statuses` (with `code`, when given), and nothing changed. While racing, a
 * lost race (LOST_RACE_CODES) is right too.
 */
function refused(answer: RawAnswer, state: IdState, statuses: number[], code?: string, sent?: Sent): Outcome {
  if (sent?.racing && answer.status === 409 && LOST_RACE_CODES.includes(errorCode(answer) ?? ''))
    return ok(state);
  if (!statuses.includes(answer.status))
    return wrong(`expected ${statuses.join(' or ')}, got ${answer.status}`);
  if (code !== undefined && errorCode(answer) !== code)
    return wrong(`expected error ${code}, got ${answer.body}`);
  return ok(state);
}

function accessRefusal(who: Who, role: Role): { status: number; code: string } | undefined {
  if (who === 'none' || who === 'bad') return { status: 401, code: 'unauthenticated' };
  return ROLES[who].includes(role) ? undefined : { status: 403, code: 'forbidden' };
}

function parse(answer: RawAnswer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(answer.body);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A record answer: `status`, a live JSON document with an ETag, equal to `expected` but for the
 * `serverSet` times, which must be UTC RFC 3339 times.
 */
function recordAnswer(
  answer: RawAnswer,
  status: number,
  expected: Record<string, unknown>,
  serverSet: string[],
  state: IdState,
): Outcome {
  if (answer.status !== status) return wrong(`expected ${status}, got ${answer.status}`);
  const doc = parse(answer);
  if (!doc) return wrong('the answer is not a JSON object');
  if (answer.headers['x-record-source'] !== 'live') return wrong('the record is not live after the change');
  const etag = answer.headers.etag;
  if (typeof etag !== 'string' || !/^"[^"]+"$/.test(etag))
    return wrong(`ETag ${String(etag)} is not an entity tag`);
  const filled = { ...expected };
  for (const field of serverSet) {
    if (!isCanonicalTime(doc[field]))
      return wrong(`${field} ${String(doc[field])} is not a UTC RFC 3339 time`);
    filled[field] = doc[field];
  }
  if (Date.parse(String(doc.updated_at)) < Date.parse(String(doc.created_at)))
    return wrong('updated_at precedes created_at');
  if (!isDeepStrictEqual(doc, filled))
    return wrong(
      `the stored document differs from the request:\n  expected ${show(filled)}\n  got      ${answer.body}`,
    );
  return ok({ ...state, record: { json: answer.body, where: 'live', etag } });
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

/** The entity tag an If-Match or ETag names, without W/ and quotes. */
function tagOf(header: string): string {
  return header.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** Whether an If-Match was sent that names another version than the record's. */
function ifMatchFails(sent: Sent, record: Kept): boolean {
  const header = sent.ifMatch?.header;
  if (header === undefined || header === '*') return false;
  return tagOf(header) !== tagOf(record.etag);
}

function malformedIfMatch(sent: Sent): boolean {
  return sent.ifMatch?.kind === 'malformed';
}

/** The role a command needs. */
export function roleOf(command: Single): Role {
  switch (command.op) {
    case 'read':
    case 'readHold':
      return 'reader';
    case 'create':
    case 'update':
    case 'delete':
      return 'writer';
    case 'restore':
      return 'operator';
    case 'hold':
      return 'legal';
  }
}

/**
 * Judges `answer` to `command` sent as `sent` to a server in `state`: whether it is right, and
 * what the id's state is afterwards.
 */
export function judge(command: Single, state: IdState, answer: RawAnswer, sent: Sent): Outcome {
  const denied = accessRefusal(command.who, roleOf(command));
  if (denied) return refused(answer, state, [denied.status], denied.code);
  const { verdict } = sent;
  if (verdict && 'refused' in verdict) return refused(answer, state, verdict.refused);
  const input = verdict && 'input' in verdict ? verdict.input : undefined;
  const { record } = state;
  switch (command.op) {
    case 'read': {
      if (!record) return refused(answer, state, [404], 'not_found', sent);
      if (answer.status !== 200) return refused(answer, state, [200], undefined, sent);
      if (answer.body !== record.json)
        return wrong(`read back differs:\n  kept ${record.json}\n  read ${answer.body}`);
      if (answer.headers['x-record-source'] !== record.where)
        return wrong(`read from ${String(answer.headers['x-record-source'])}, expected ${record.where}`);
      if (answer.headers.etag !== record.etag)
        return wrong(`ETag ${String(answer.headers.etag)}, expected ${record.etag}`);
      return ok(state);
    }
    case 'create': {
      const expected = createdDocument(input, sent.now);
      if (!expected) return refused(answer, state, [400], 'validation_error');
      if (record) return refused(answer, state, [409], 'duplicate_id', sent);
      const given = 'created_at' in expected;
      const outcome = recordAnswer(
        answer,
        201,
        { id: parse(answer)?.id, ...expected },
        given ? [] : ['created_at', 'updated_at'],
        state,
      );
      if (!outcome.ok) return outcome;
      const answered = parse(answer);
      if (answered?.updated_at !== answered?.created_at) return wrong('updated_at differs from created_at');
      const id = answered?.id;
      if (typeof id !== 'string' || (expected.id === undefined && !/^[0-9a-f-]{36}$/.test(id)))
        return wrong(`id ${String(id)} is neither the one sent nor a UUID`);
      if (answer.headers.location !== `/billing/${encodeURIComponent(id)}`)
        return wrong(`Location ${String(answer.headers.location)}`);
      return outcome;
    }
    case 'update': {
      if (malformedIfMatch(sent)) return refused(answer, state, [400]);
      // The body's schema is checked first; its other rules only once the record is found.
      if (!record)
        return refused(
          answer,
          state,
          replacedDocument({}, input, command.id) ? [404] : [400, 404],
          undefined,
          sent,
        );
      const expected = replacedDocument(
        JSON.parse(record.json) as Record<string, unknown>,
        input,
        command.id,
      );
      if (ifMatchFails(sent, record))
        return refused(answer, state, expected ? [412] : [400, 412], undefined, sent);
      if (!expected) return refused(answer, state, [400], 'validation_error');
      return recordAnswer(answer, 200, expected, ['updated_at'], state);
    }
    case 'delete': {
      if (malformedIfMatch(sent)) return refused(answer, state, [400]);
      if (state.held) return refused(answer, state, [409], 'legal_hold', sent);
      if (!record) return refused(answer, state, [404], 'not_found', sent);
      if (ifMatchFails(sent, record)) return refused(answer, state, [412], 'precondition_failed', sent);
      if (answer.status !== 204) return refused(answer, state, [204], undefined, sent);
      return ok({ ...state, record: undefined });
    }
    case 'restore': {
      if (!record) return refused(answer, state, [404], 'not_found', sent);
      if (record.where === 'live') return refused(answer, state, [409], 'already_live', sent);
      return recordAnswer(
        answer,
        200,
        JSON.parse(record.json) as Record<string, unknown>,
        ['restored_at'],
        state,
      );
    }
    case 'hold':
      return judgeHold(input, state, answer, sent);
    case 'readHold': {
      if (!state.held && !state.everHeld && !record) return refused(answer, state, [404], 'not_found', sent);
      if (answer.status !== 200) return refused(answer, state, [200], undefined, sent);
      return parse(answer)?.legal_hold === state.held
        ? ok(state)
        : wrong(`legal_hold is not ${String(state.held)}`);
    }
  }
}

function judgeHold(input: unknown, state: IdState, answer: RawAnswer, sent: Sent): Outcome {
  const valid =
    isObject(input) &&
    Object.keys(input).every((key) => key === 'held' || key === 'reason') &&
    typeof input.held === 'boolean' &&
    typeof input.reason === 'string' &&
    codePoints(input.reason) >= 1 &&
    codePoints(input.reason) <= 2048;
  if (!valid) return refused(answer, state, [400], 'validation_error');
  const held = input.held === true;
  const known = state.held || state.everHeld || state.record !== undefined;
  if (held && !state.record) {
    // A delete that ended while the hold was placed: the hold went on and came off, both audited.
    if (
      sent.racing &&
      answer.status === 404 &&
      answer.body.includes('deleted while the hold was being placed')
    )
      return ok({ ...state, everHeld: true });
    return refused(answer, state, [404], 'not_found', sent);
  }
  if (!held && !known) return refused(answer, state, [404], 'not_found', sent);
  if (answer.status !== 200) return refused(answer, state, [200], undefined, sent);
  if (parse(answer)?.legal_hold !== held) return wrong(`legal_hold is not ${String(held)} after the change`);
  return ok({ ...state, held, everHeld: state.everHeld || held });
}

/** One step of a race: a command with its answer, or the archival run's effect on the id. */
export interface RaceStep {
  label: string;
  apply(state: IdState): Outcome;
  /** Labels of steps that must come before this one. */
  after?: string;
}

/**
 * Every order of `steps` (respecting `after`) in which each answer is right, and the state each
 * leaves; empty when no order explains the answers.
 */
export function linearizations(initial: IdState, steps: RaceStep[]): IdState[] {
  const finals: IdState[] = [];
  // The same state with the same steps left leads to the same ends: walk it once.
  const walked = new Set<string>();
  const walk = (state: IdState, left: RaceStep[], done: Set<string>): void => {
    const key = `${JSON.stringify(state)}|${left.map((step) => step.label).join(',')}`;
    if (walked.has(key)) return;
    walked.add(key);
    if (left.length === 0) {
      finals.push(state);
      return;
    }
    for (const [i, step] of left.entries()) {
      if (step.after !== undefined && !done.has(step.after)) continue;
      const outcome = step.apply(state);
      if (!outcome.ok) continue;
      walk(outcome.next, [...left.slice(0, i), ...left.slice(i + 1)], new Set([...done, step.label]));
    }
  };
  walk(initial, steps, new Set());
  return finals;
}

/** The id a command acts on, when it acts on one record. */
export function idOf(command: Single): string | undefined {
  if (command.op !== 'create') return command.id;
  if (command.body.form !== 'json' || !isObject(command.body.value)) return undefined;
  const id = command.body.value.id;
  return typeof id === 'string' && RECORD_ID.test(id) ? id : undefined;
}
