import { createHash, randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { Type, type Static } from 'typebox';
import { ValidationError } from './errors.js';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { compileAssert, PROBLEM } from './schema-validator.js';

/**
 * docs/ARCHITECTURE.md: 1–128 characters of [A-Za-z0-9._:-], not dots alone (`.` and `..` name
 * directories and blob paths, not records).
 */
const RECORD_ID_PATTERN = '^(?!\\.+$)[A-Za-z0-9._:-]{1,128}$';
const RECORD_ID_RULE = '1–128 characters of A–Z a–z 0–9 . _ : -, not dots alone';
const DUE_DATE_RULE =
  'must be a date such as 2024-02-15, an RFC 3339 date-time such as 2024-02-15T00:00:00Z, or null';
const RECORD_ID_REGEX = new RegExp(RECORD_ID_PATTERN);

/** Largest amount accepted; far above any real invoice, low enough to keep cents exact in a double. */
const MAX_AMOUNT = 999_999_999_999.99;

const ISO_CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/**
 * How far a record may nest and how much it may hold (docs/API.md). Past a few thousand levels
 * serialising overflows the stack, and no billing system nests that deep: the limits are far below.
 */
export const RECORD_LIMITS = { depth: 32, values: 10_000, metadataBytes: 64 * 1024 } as const;

export const RecordIdSchema = Type.String({ pattern: RECORD_ID_PATTERN, description: RECORD_ID_RULE });

export const StatusSchema = Type.Union([
  Type.Literal('pending'),
  Type.Literal('paid'),
  Type.Literal('overdue'),
  Type.Literal('cancelled'),
  Type.Literal('refunded'),
]);
export type RecordStatus = Static<typeof StatusSchema>;
/** A billing record's statuses, as the schema lists them. */
export const RECORD_STATUSES: readonly RecordStatus[] = StatusSchema.anyOf.map((literal) => literal.const);

const recordFieldSchemas = {
  customer_id: Type.String({ minLength: 1, maxLength: 128 }),
  amount: Type.Number({ minimum: 0, maximum: MAX_AMOUNT, description: 'At most 2 decimal places' }),
  currency: Type.Optional(
    Type.String({
      pattern: '^[A-Z]{3}$',
      description: 'ISO 4217 code; default USD',
      [PROBLEM]: 'must be a three-letter ISO 4217 code such as USD',
    }),
  ),
  status: Type.Optional(StatusSchema),
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  // Either form, kept exactly as sent (see dueDateProblem).
  due_date: Type.Optional(
    Type.Union([
      Type.String({ description: 'YYYY-MM-DD or an RFC 3339 date-time', [PROBLEM]: DUE_DATE_RULE }),
      Type.Null(),
    ]),
  ),
  created_at: Type.Optional(
    Type.String({ format: 'date-time', description: 'Server time unless given; never in the future' }),
  ),
  updated_at: Type.Optional(Type.String({ description: 'Server-managed: accepted and ignored' })),
  restored_at: Type.Optional(Type.String({ description: 'Server-managed: accepted and ignored' })),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
};

/** Body of POST /billing: unknown fields are refused, so a typo never goes unnoticed. */
export const NewRecordInputSchema = Type.Object(
  { id: Type.Optional(RecordIdSchema), ...recordFieldSchemas },
  { additionalProperties: false },
);
export type NewRecordInput = Static<typeof NewRecordInputSchema>;

/**
 * Body of PUT /billing/{id}: a record as GET returned it, with changes. Fields the API does not know
 * are allowed only unchanged (documents imported into Cosmos may carry them).
 */
export const ReplacementInputSchema = Type.Object(
  { id: Type.Optional(RecordIdSchema), ...recordFieldSchemas },
  { additionalProperties: true },
);
export type ReplacementInput = Static<typeof ReplacementInputSchema>;

/** A stored billing record: the known fields plus whatever else the document carried. */
export interface RecordDocument {
  id: string;
  created_at: string;
  updated_at: string;
  restored_at?: string;
  [field: string]: unknown;
}

const KNOWN_FIELDS = new Set(['id', ...Object.keys(recordFieldSchemas)]);
const assertNewRecordShape: (value: unknown) => asserts value is NewRecordInput =
  compileAssert(NewRecordInputSchema);
const assertReplacementShape: (value: unknown) => asserts value is ReplacementInput =
  compileAssert(ReplacementInputSchema);

export function isValidRecordId(id: string): boolean {
  return RECORD_ID_REGEX.test(id);
}

export function assertRecordId(id: string): void {
  if (!isValidRecordId(id)) {
    throw new ValidationError(`id '${truncate(id)}' must be ${RECORD_ID_RULE}`);
  }
}

/** Builds the document to store for a new record; throws ValidationError naming every bad field. */
export function newRecordDocument(input: unknown, now: Date): RecordDocument {
  assertWithinLimits(input);
  assertNewRecordShape(input);
  const problems = semanticProblems(input);
  let createdAt = now.toISOString();
  if (input.created_at !== undefined) {
    const created = new Date(input.created_at);
    if (Number.isNaN(created.getTime())) {
      // RFC 3339 allows second 60 and hour-only offsets; JavaScript's Date reads neither.
      problems.push(
        /T\d\d:\d\d:60/i.test(input.created_at)
          ? `created_at ${input.created_at} names a leap second, which cannot be stored as an instant; use the second before or after`
          : `created_at ${input.created_at} cannot be read as an instant; write it as 2024-02-15T00:00:00Z or with a +hh:mm offset`,
      );
    } else if (created.getTime() > now.getTime()) {
      problems.push(`created_at ${input.created_at} is in the future (server time ${now.toISOString()})`);
    } else {
      createdAt = created.toISOString();
    }
  }
  if (problems.length > 0) throw new ValidationError(problems);
  return {
    id: input.id ?? randomUUID(),
    ...knownFields(input),
    created_at: createdAt,
    updated_at: createdAt,
  };
}

/**
 * Applies a full update to `existing`. `id` must match, `created_at` is kept, `updated_at` is the
 * server's time, and fields the API does not know keep their stored values.
 */
export function replacedRecordDocument(existing: RecordDocument, input: unknown, now: Date): RecordDocument {
  assertWithinLimits(input);
  assertReplacementShape(input);
  const problems = semanticProblems(input);
  if (input.id !== undefined && input.id !== existing.id) {
    problems.push(`id '${input.id}' in the body does not match '${existing.id}' in the path`);
  }
  for (const [field, value] of Object.entries(input)) {
    if (KNOWN_FIELDS.has(field)) continue;
    if (!(field in existing)) {
      problems.push(`body has unknown field '${field}'`);
    } else if (!isDeepStrictEqual(existing[field], value)) {
      problems.push(`field '${field}' is not part of the billing record schema and cannot be changed`);
    }
  }
  if (problems.length > 0) throw new ValidationError(problems);

  const next: RecordDocument = { ...existing };
  delete next.metadata;
  Object.assign(next, knownFields(input));
  next.updated_at = laterOf(now, existing.created_at);
  return next;
}

/** The bytes an archived record is stored and hashed as. */
export function canonicalBytes(doc: RecordDocument): Buffer {
  return Buffer.from(JSON.stringify(doc), 'utf8');
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function knownFields(input: NewRecordInput | ReplacementInput): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    customer_id: input.customer_id,
    amount: input.amount,
    currency: input.currency ?? 'USD',
    status: input.status ?? 'pending',
    description: input.description ?? '',
    due_date: input.due_date ?? null,
  };
  if (input.metadata !== undefined) fields.metadata = input.metadata;
  return fields;
}

/** An unpaired UTF-16 surrogate: JSON can escape one (`\ud800`), but it is no character. */
const LONE_SURROGATE = /\p{Cs}/u;

function semanticProblems(input: NewRecordInput | ReplacementInput): string[] {
  const problems: string[] = [];
  // The stores keep customer_id as text of its own (indexed, listed by), which turns a lone
  // surrogate into U+FFFD: the record would name another customer than the one sent.
  if (LONE_SURROGATE.test(input.customer_id)) {
    problems.push(
      'customer_id holds a lone surrogate (an unpaired \\uD800–\\uDFFF escape), which is no character',
    );
  }
  if (Object.is(input.amount, -0)) {
    problems.push('amount -0 is a negative zero, which would be stored as 0; send 0');
  } else if (!/^\d+(\.\d{1,2})?$/.test(String(input.amount))) {
    problems.push(`amount ${String(input.amount)} must have at most 2 decimal places`);
  }
  const dueDate = dueDateProblem(input.due_date);
  if (dueDate) problems.push(dueDate);
  if (input.currency !== undefined && !ISO_CURRENCIES.has(input.currency)) {
    problems.push(`currency '${input.currency}' is not an ISO 4217 code`);
  }
  return problems;
}

/** Refuses input nested or sized past RECORD_LIMITS, walking it without recursion so no depth can overflow. */
function assertWithinLimits(input: unknown): void {
  const problems: string[] = [];
  let values = 0;
  let deepest = 0;
  const pending: { value: unknown; depth: number }[] = [{ value: input, depth: 0 }];
  while (pending.length > 0 && values <= RECORD_LIMITS.values) {
    const { value, depth } = pending.pop() ?? { value: undefined, depth: 0 };
    values += 1;
    deepest = Math.max(deepest, depth);
    if (depth > RECORD_LIMITS.depth) break;
    if (typeof value === 'object' && value !== null)
      for (const child of Object.values(value)) pending.push({ value: child, depth: depth + 1 });
  }
  if (deepest > RECORD_LIMITS.depth)
    problems.push(`the record nests more than ${RECORD_LIMITS.depth} levels deep`);
  else if (values > RECORD_LIMITS.values)
    problems.push(`the record holds more than ${RECORD_LIMITS.values} values in all`);
  else if (typeof input === 'object' && input !== null && 'metadata' in input) {
    // `?? null`: JSON.stringify(undefined) is undefined, whatever its type says.
    const bytes = Buffer.byteLength(JSON.stringify(input.metadata ?? null));
    if (bytes > RECORD_LIMITS.metadataBytes)
      problems.push(`metadata takes ${bytes} bytes as JSON, more than ${RECORD_LIMITS.metadataBytes}`);
  }
  if (problems.length > 0) throw new ValidationError(problems);
}

const isDate = (text: string): boolean => validates(fullFormats.date, text);
const isDateTime = (text: string): boolean => validates(fullFormats['date-time'], text);

function validates(format: unknown, text: string): boolean {
  const validate = (format as { validate: (value: string) => boolean }).validate;
  return validate(text);
}

/**
 * A due date is a day, or a moment, as the client's system keeps it: both are accepted and stored
 * exactly as sent, so the record reads back byte for byte. Only a real calendar day passes.
 */
function dueDateProblem(dueDate: string | null | undefined): string | undefined {
  if (dueDate === undefined || dueDate === null || isDate(dueDate) || isDateTime(dueDate)) return undefined;
  return `due_date '${truncate(dueDate)}' ${DUE_DATE_RULE}`;
}

/** updated_at never precedes created_at, even for a record imported with a creation time ahead of ours. */
function laterOf(now: Date, createdAt: string): string {
  const created = Date.parse(createdAt);
  return Number.isNaN(created) || created <= now.getTime() ? now.toISOString() : createdAt;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
