import { Type, type TSchema } from 'typebox';
import { RecordIdSchema } from '../domain/billing-record.js';

export const ErrorSchema = Type.Object(
  {
    error: Type.String({ description: 'Stable machine-readable code' }),
    message: Type.String({ description: 'What was wrong, for a person' }),
  },
  { additionalProperties: true },
);

// The id's description is also its validation message ("must be …"): it stays the rule.
export const IdParamsSchema = Type.Object({ id: RecordIdSchema });

/**
 * A schema for the document with what it means and an example (a success answer, a body, a
 * parameter); the schema itself validates and serialises as before.
 */
export function documented<T extends TSchema>(schema: T, description: string, example?: unknown): T {
  return { ...schema, description, ...(example !== undefined && { examples: [example] }) };
}

/** A billing record as stored: the known fields plus any others the document carried. */
export const RecordSchema = Type.Object(
  {
    id: Type.String(),
    customer_id: Type.String(),
    amount: Type.Number(),
    currency: Type.String(),
    status: Type.String(),
    description: Type.String(),
    due_date: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String(),
    updated_at: Type.String(),
    restored_at: Type.Optional(Type.String()),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: true },
);

export const PageQuerySchema = {
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'items a page holds at most' }),
  after: Type.Optional(RecordIdSchema),
};

export const RunSchema = Type.Object(
  {
    run_id: Type.String(),
    status: Type.String(),
    dry_run: Type.Boolean(),
    archived: Type.Integer(),
    skipped: Type.Integer(),
    failed: Type.Integer(),
    batches: Type.Integer(),
    duration_ms: Type.Integer(),
  },
  { additionalProperties: true },
);

export const VerificationSchema = Type.Object(
  {
    verification_id: Type.String(),
    started_at: Type.String(),
    finished_at: Type.String(),
    duration_ms: Type.Integer(),
    outcome: Type.Union([Type.Literal('passed'), Type.Literal('failed'), Type.Literal('error')], {
      description: 'failed: a record is missing or corrupt; error: the pass stopped before a report',
    }),
    repair: Type.Boolean(),
    started_by: Type.String(),
  },
  { additionalProperties: true },
);

export const HoldSchema = Type.Object({
  record_id: Type.String(),
  since: Type.String(),
  by: Type.String(),
  reason: Type.String(),
});

export const HoldViewSchema = Type.Object({
  record_id: Type.String(),
  legal_hold: Type.Boolean(),
  hold: Type.Union([HoldSchema, Type.Null()]),
  history: Type.Array(
    Type.Object({
      record_id: Type.String(),
      action: Type.Union([Type.Literal('set'), Type.Literal('cleared')]),
      at: Type.String(),
      by: Type.String(),
      reason: Type.String(),
    }),
  ),
});

export const HistorySchema = Type.Object(
  {
    record_id: Type.String(),
    where: Type.Union([Type.Literal('live'), Type.Literal('archive'), Type.Literal('absent')], {
      description: 'absent: deleted, or never created here; its history stays',
    }),
    events: Type.Array(
      Type.Object({
        at: Type.String(),
        event: Type.String({
          description:
            'created, updated, archived, restored, hold placed, hold lifted, or an audit action such as record.update',
        }),
        by: Type.Optional(Type.String()),
        detail: Type.Optional(Type.String()),
      }),
    ),
    audit_hidden: Type.Boolean({
      description: 'who made each audited change is left out: it is shown to admins',
    }),
    audit_truncated: Type.Boolean({
      description: 'the record has more audit entries than the history shows: GET /audit lists them all',
    }),
  },
  {
    examples: [
      {
        record_id: 'inv-2025-000123',
        where: 'archive',
        events: [
          { at: '2025-01-15T10:00:00.000Z', event: 'created' },
          { at: '2025-01-15T10:00:00.120Z', event: 'record.create', detail: 'succeeded (HTTP 201)' },
          {
            at: '2025-04-16T00:00:04.512Z',
            event: 'archived',
            detail: 'by run 20250416T000000000Z-1a2b3c4d, into segments/2025/01/…',
          },
        ],
        audit_hidden: true,
        audit_truncated: false,
      },
    ],
  },
);

export const HoldRequestSchema = Type.Object(
  {
    held: Type.Boolean({ description: 'true places the hold, false lifts it' }),
    // Who asks is the authenticated caller: a `by` in the body is refused as an unknown field.
    reason: Type.String({ minLength: 1, maxLength: 2048, description: 'Why: kept in the audit trail' }),
  },
  { additionalProperties: false },
);

/** Each error status a route may answer, what it means, and an example body (routes narrow the wording). */
const ERROR_STATUSES = {
  400: {
    description:
      'The request is not valid; nothing changed. A validation_error lists one sentence per problem.',
    example: {
      error: 'validation_error',
      message: 'amount must be a number; currency must be a three-letter ISO 4217 code such as USD',
      problems: ['amount must be a number', 'currency must be a three-letter ISO 4217 code such as USD'],
    },
  },
  401: {
    description: 'No credential, or one that is not valid (WWW-Authenticate says which)',
    example: { error: 'unauthenticated', message: 'this route needs an API key or a bearer token' },
  },
  403: {
    description: 'The caller lacks the role, or a browser session sent a change without its X-CSRF-Token',
    example: {
      error: 'forbidden',
      message: 'this needs the operator role, which key:dashboard does not have',
    },
  },
  404: {
    description: 'No such record, run or job',
    example: { error: 'not_found', message: "record 'inv-2025-000123' not found" },
  },
  409: {
    description: 'The request conflicts with the state of the record, run or job',
    example: { error: 'already_live', message: "record 'inv-2025-000123' is already live" },
  },
  410: {
    description: "The record's archived copy is gone (verify reports it)",
    example: { error: 'gone', message: "the archived copy of 'inv-2025-000123' is missing" },
  },
  412: {
    description: 'If-Match names another version of the record than the one stored',
    example: {
      error: 'precondition_failed',
      message: "record 'inv-2025-000123' is at version aa76d5c6-d3cc-4725-8d2d-89606f2e7de8, not 3f2c9e1a",
    },
  },
  413: {
    description: 'The body is larger than 1 MiB',
    example: { error: 'payload_too_large', message: 'the body is larger than 1048576 bytes' },
  },
  415: {
    description: 'The body is not JSON in UTF-8',
    example: {
      error: 'unsupported_media_type',
      message: "the body must be JSON in UTF-8, sent with Content-Type: application/json (got 'text/plain')",
    },
  },
  429: {
    description: 'Too many requests from this caller; Retry-After says when to try again',
    example: {
      error: 'rate_limited',
      message: 'too many requests: at most 6000 a minute, try again in 12 s',
    },
  },
  503: {
    description: 'A store does not answer, or the archive index is being rebuilt (Retry-After)',
    example: { error: 'store_unavailable', message: 'the archive store did not answer: try again shortly' },
  },
} as const;

export type ErrorStatus = keyof typeof ERROR_STATUSES;

export function isErrorStatus(status: number): status is ErrorStatus {
  return status in ERROR_STATUSES;
}

/** The response entries of a route's error statuses, for its schema. */
export function errorResponses(...statuses: ErrorStatus[]): Record<number, typeof ErrorSchema> {
  return Object.fromEntries(
    statuses.map((status) => {
      const { description, example } = ERROR_STATUSES[status];
      return [
        status,
        Type.Object(ErrorSchema.properties, { additionalProperties: true, description, examples: [example] }),
      ];
    }),
  );
}
