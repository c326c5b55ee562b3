import { createHash } from 'node:crypto';
import { Type, type Static } from 'typebox';
import type { CreationKey } from './creation-order.js';
import { ValidationError } from './errors.js';
import { compileAssert } from './schema-validator.js';

/**
 * The opaque `cursor` of a listing in creation order: the key of the last record a page gave, and
 * a digest of the filters it was given for, so a cursor is never applied to another query (it
 * would skip or repeat records silently). base64url of JSON; nothing secret is in it.
 */
const CURSOR_VERSION = 1;
const CursorSchema = Type.Object(
  {
    v: Type.Literal(CURSOR_VERSION),
    // Documents other systems wrote may have long ids and creation texts: any the stores hold.
    c: Type.String({ maxLength: 4096 }),
    i: Type.String({ minLength: 1, maxLength: 1024 }),
    q: Type.String({ pattern: '^[0-9a-f]{16}$' }),
  },
  { additionalProperties: false },
);
const assertCursor: (value: unknown) => asserts value is Static<typeof CursorSchema> = compileAssert(
  CursorSchema,
  'cursor',
);

/** The filters of a listing, as the cursor binds them: every query parameter but the paging ones. */
export type CursorFilters = Readonly<Record<string, string | undefined>>;

export function encodeCursor(key: CreationKey, filters: CursorFilters): string {
  const body = { v: CURSOR_VERSION, c: key.createdAt, i: key.id, q: digestOf(filters) };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

/** The key a cursor continues after; ValidationError when it is no cursor, or another query's. */
export function decodeCursor(cursor: string, filters: CursorFilters): CreationKey {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    body = undefined;
  }
  try {
    assertCursor(body);
  } catch {
    throw new ValidationError(
      'cursor is not one this API gave: pass next_cursor from the previous page unchanged',
    );
  }
  const parsed = body;
  if (parsed.q !== digestOf(filters))
    throw new ValidationError(
      'cursor belongs to a listing with other filters: keep customer_id, status, created_from and created_to as they were on the first page, or start again without a cursor',
    );
  return { createdAt: parsed.c, id: parsed.i };
}

function digestOf(filters: CursorFilters): string {
  const named = Object.entries(filters)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(named)).digest('hex').slice(0, 16);
}
