import { Type } from 'typebox';
import { RecordIdSchema } from '../domain/billing-record.js';

export const ErrorSchema = Type.Object(
  {
    error: Type.String({ description: 'Stable machine-readable code' }),
    message: Type.String({ description: 'What was wrong, for a person' }),
  },
  { additionalProperties: true },
);

export const IdParamsSchema = Type.Object({ id: RecordIdSchema });

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
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
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

const HoldSchema = Type.Object({
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

export const HoldRequestSchema = Type.Object(
  {
    held: Type.Boolean({ description: 'true places the hold, false lifts it' }),
    // Who asks is the authenticated caller: a `by` in the body is refused as an unknown field.
    reason: Type.String({ minLength: 1, maxLength: 2048, description: 'Why: kept in the audit trail' }),
  },
  { additionalProperties: false },
);
