import fc from 'fast-check';

/**
 * The requests the property test sends: fast-check arbitraries of valid, near-valid and hostile
 * commands on a small pool of record ids, so commands keep meeting the same records.
 */

/** Who calls: a test key of that role, no credential, or a key nobody issued. */
export type Who = 'root' | 'writer' | 'operator' | 'reader' | 'none' | 'bad';

/**
 * A request body: a value sent as JSON.stringify writes it, text meaning the same value but spelled
 * unusually (escapes, exponents, whitespace), or bytes the server must refuse without storing.
 */
export type Body =
  | { form: 'json'; value: unknown; spelling?: Spelling }
  | { form: 'refused'; bytes: string | Buffer; status: 400 | 413; why: string };

/**
 * Spellings of the same JSON value that JSON.stringify would not choose: tabs and CRLF, every
 * non-ASCII character as a \u escape, the amount as an exponent (12990e-2), a key escaped.
 */
export type Spelling = 'pretty' | 'escaped' | 'exponent' | 'escapedKey';

/** What If-Match carries: nothing, the ETag last seen (strong or weak), `*`, one never issued, or junk. */
export type IfMatch = 'none' | 'current' | 'weak' | 'star' | 'stale' | 'malformed';

export interface ListQuery {
  limit: string;
  customerId?: string;
  status?: string;
}

export type Command =
  | { op: 'create'; body: Body; type: string | undefined; who: Who }
  | { op: 'read'; id: string; encoded: boolean; who: Who }
  | {
      op: 'update';
      id: string;
      encoded: boolean;
      body: Body;
      type: string | undefined;
      ifMatch: IfMatch;
      who: Who;
    }
  | { op: 'delete'; id: string; encoded: boolean; ifMatch: IfMatch; who: Who }
  | { op: 'restore'; id: string; who: Who }
  | { op: 'hold'; id: string; body: Body; who: Who }
  | { op: 'readHold'; id: string; who: Who }
  | { op: 'list'; query: ListQuery; who: Who }
  | { op: 'listArchived'; limit: number }
  | { op: 'archive'; body: Body; who: Who }
  | { op: 'hostile'; method: string; path: string; body?: Body }
  | { op: 'together'; commands: Command[] };

/** Ids most commands use; odd but valid ones included, since stores and blob names may trip on them. */
export const ID_POOL = ['k0', 'k1', 'k2', '..a', 'A:b.c-d_e', '-', 'Z.', 'x'.repeat(128)];
/** Ids concurrent commands fight over. */
export const RACE_POOL = ['r0', 'r1'];

export const STATUSES = ['pending', 'paid', 'overdue', 'cancelled', 'refunded'];
export const VALID_CURRENCIES = ['USD', 'EUR', 'JPY', 'GBP', 'CHF', 'BHD'];
export const VALID_DUE_DATES = [
  '2024-02-15',
  '2024-02-29',
  '9999-12-31',
  '2024-02-15T00:00:00Z',
  '2024-02-15T10:20:30.123+05:30',
  '2024-02-15t10:20:30z',
];
/** created_at values that are not RFC 3339 date-times at all: refused by create and update alike. */
export const MALFORMED_CREATED_AT = [
  '2020-02-30T00:00:00Z',
  '2020-01-01',
  '2020-01-01T00:00:00',
  'yesterday',
  '',
];
/** A leap second: an RFC 3339 date-time (so an update ignores it) but no instant to store on create. */
export const LEAP_SECOND = '2016-12-31T23:59:60Z';
export const DAY_MS = 24 * 60 * 60 * 1000;
/** Backdating in days: each far from every archival threshold and retention limit the test uses. */
export const AGES_DAYS = [2, 45, 400, 3000, 20_000];
/** older_than_days a run is started with; the configured ARCHIVAL_DAYS_THRESHOLD is 90. */
export const RUN_THRESHOLDS = [1, 30, 365];

const MAX_AMOUNT_CENTS = 99_999_999_999_999;

/** Customer ids with unicode, control characters and JSON's special characters; two are 128 code points long. */
const CUSTOMERS = [
  'c1',
  'c2',
  'Ünïcødé',
  '😀'.repeat(128),
  'é'.repeat(128),
  'tab\there',
  'nul\u0000x',
  'a"b\\c/',
  '\u2028\u2029',
  '%2F..',
];

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const anyCodePoint = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 });
const controlCharacter = fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code));
/** Text of any code points and control characters; with `lone`, lone surrogates mixed in too. */
const anyText = (maxLength: number, lone: boolean) =>
  fc.string({
    unit: fc.oneof(
      { arbitrary: anyCodePoint, weight: 6 },
      { arbitrary: controlCharacter, weight: 1 },
      { arbitrary: lone ? loneSurrogate : anyCodePoint, weight: 1 },
    ),
    maxLength,
  });

/** An RFC 3339 form a client may write an instant in; all mean the same instant. */
function rfc3339(ms: number, form: number): string {
  const iso = new Date(ms).toISOString();
  switch (form % 5) {
    case 0:
      return iso;
    case 1:
      return `${new Date(ms + 330 * 60_000).toISOString().slice(0, -1)}+05:30`;
    case 2:
      return `${new Date(ms - 8 * 3_600_000).toISOString().slice(0, -1)}-08:00`;
    case 3:
      return iso.replace('T', 't').replace('Z', 'z');
    default:
      return iso.replace('Z', '456789Z');
  }
}

/** A created_at given as an age: it becomes text when the command is sent, from the time then. */
export interface CreatedAt {
  /** Whole days back (negative: the future). */
  days: number;
  /** Extra age up to six hours, so records of one age differ. */
  extraMs: number;
  form: number;
}

export function createdAtText(createdAt: CreatedAt, now: number): string {
  return rfc3339(now - createdAt.days * DAY_MS - createdAt.extraMs, createdAt.form);
}

const metadataKey = fc.oneof(
  { arbitrary: anyText(8, true), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      '',
      '1',
      '0',
      '_rid',
      '_etag',
      '_ts',
      'id',
    ),
    weight: 1,
  },
);

/** An object whose keys are own fields even when one is `__proto__`, as JSON.parse would make it. */
function ownFields(entries: [string, unknown][]): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries)
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  return object;
}

const jsonLeaf = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  anyText(10, true),
);
const jsonTree = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    jsonLeaf,
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.array(fc.tuple(metadataKey, tie('tree')), { maxLength: 4 }).map(ownFields),
  ),
})).tree;

/** A chain of objects `levels` deep; inside a record's metadata it nests levels + 1. */
function chain(levels: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
}

/**
 * Each field of a record: values the API must accept, and values close to them it must refuse.
 * A generated record has valid fields, and now and then one field swapped for an invalid value.
 */
const FIELDS = {
  customer_id: {
    valid: fc.oneof(
      { arbitrary: fc.constantFrom(...CUSTOMERS), weight: 4 },
      { arbitrary: anyText(20, false).filter((text) => text.length > 0), weight: 1 },
    ),
    invalid: fc.oneof(
      fc.constantFrom<unknown>('', '😀'.repeat(129), 'x'.repeat(129), 42, null, ['c1'], { id: 'c1' }),
      fc.tuple(anyText(5, false), loneSurrogate).map(([text, lone]) => `${text}${lone}`),
    ),
  },
  amount: {
    valid: fc.oneof(
      { arbitrary: fc.integer({ min: 0, max: MAX_AMOUNT_CENTS }).map((cents) => cents / 100), weight: 4 },
      { arbitrary: fc.constantFrom(0, 0.01, 999_999_999_999.99, 129.9, 0.1, 1.15, 2 ** 40), weight: 1 },
    ),
    invalid: fc.oneof(
      fc.constantFrom<unknown>(
        -0.01,
        1e12,
        999_999_999_999.991,
        0.001,
        1.005,
        5e-324,
        0.1 + 0.2,
        Number.MAX_VALUE,
        -1,
      ),
      fc.double().filter((value) => !(value >= 0 && value <= 1e12 && Number(value.toFixed(2)) === value)),
      fc.constantFrom<unknown>('12', '12.50', null, true, [], {}, ''),
    ),
  },
  currency: {
    valid: fc.constantFrom(...VALID_CURRENCIES),
    invalid: fc.constantFrom<unknown>('ABC', 'XXX', 'usd', 'US', 'USDD', '', 'ÜSD', 1, null),
  },
  status: {
    valid: fc.constantFrom(...STATUSES),
    invalid: fc.constantFrom<unknown>('PAID', 'void', '', 1, null),
  },
  description: {
    valid: fc.oneof(
      { arbitrary: anyText(40, true), weight: 8 },
      { arbitrary: fc.constantFrom('x'.repeat(4096), 'é'.repeat(4096), '😀'.repeat(4096)), weight: 1 },
    ),
    invalid: fc.constantFrom<unknown>('x'.repeat(4097), '😀'.repeat(4097), 5, null),
  },
  due_date: {
    valid: fc.oneof(fc.constant(null), fc.constantFrom(...VALID_DUE_DATES)),
    invalid: fc.constantFrom<unknown>(
      '2023-02-29',
      '2024-13-01',
      '2024-00-10',
      '2024-02-15T25:00:00Z',
      '15/02/2024',
      '',
      'tomorrow',
      '2024-02-15T10:20:30',
      '2024-2-15',
      5,
      true,
      {},
    ),
  },
  created_at: {
    valid: fc.oneof(
      {
        arbitrary: fc.record({
          days: fc.constantFrom(...AGES_DAYS),
          extraMs: fc.integer({ min: 0, max: 6 * 3_600_000 }),
          form: fc.nat(4),
        }),
        weight: 8,
      },
      { arbitrary: fc.constantFrom<unknown>('0001-01-01T00:00:00Z', '1969-12-31T23:59:59.999Z'), weight: 1 },
    ),
    // The future and a leap second are date-times: an update ignores them, a create refuses them.
    invalid: fc.oneof(
      fc.record({ days: fc.constant(-10), extraMs: fc.constant(0), form: fc.nat(4) }),
      fc.constantFrom<unknown>(...MALFORMED_CREATED_AT, LEAP_SECOND, 12345, null),
    ),
  },
  updated_at: { valid: fc.constantFrom('2020-01-01T00:00:00Z', 'whenever'), invalid: fc.constant(7) },
  restored_at: { valid: fc.constant('2020-01-01T00:00:00Z'), invalid: fc.constantFrom<unknown>(7, null) },
  metadata: {
    valid: fc.oneof(
      { arbitrary: fc.array(fc.tuple(metadataKey, jsonTree), { maxLength: 5 }).map(ownFields), weight: 12 },
      // Up to the limits: 32 levels in all, 10,000 values in all, 64 KiB of JSON (é takes two bytes).
      { arbitrary: fc.integer({ min: 27, max: 31 }).map(chain), weight: 1 },
      {
        arbitrary: fc.integer({ min: 9000, max: 9980 }).map((n) => ({ many: Array<number>(n).fill(0) })),
        weight: 1,
      },
      {
        arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.boolean()).map(([less, wide]) => ({
          s: wide ? 'é'.repeat((65_528 - less * 2) / 2) : 'x'.repeat(65_528 - less),
        })),
        weight: 1,
      },
    ),
    // Past them, by a little or a lot, or not an object.
    invalid: fc.oneof(
      fc.integer({ min: 32, max: 40 }).map(chain),
      fc.integer({ min: 9990, max: 10_010 }).map((n) => ({ many: Array<number>(n).fill(0) })),
      fc.integer({ min: 1, max: 4 }).map((more) => ({ s: 'x'.repeat(65_528 + more) })),
      fc.constantFrom<unknown>([], [1], null, 'text', 7),
    ),
  },
} satisfies Record<string, { valid: fc.Arbitrary<unknown>; invalid: fc.Arbitrary<unknown> }>;

const ABSENT = Symbol('absent');
type Field = keyof typeof FIELDS;

/** `field` with a valid value, left out `absent` times for every time it is there. */
const valid = (field: Field, absent: number): fc.Arbitrary<unknown> =>
  fc.oneof({ arbitrary: fc.constant(ABSENT), weight: absent }, { arbitrary: FIELDS[field].valid, weight: 1 });

/** What may go wrong with a record: one field invalid, a required one missing, or a field the API does not know. */
const mutation = fc.oneof(
  {
    arbitrary: fc
      .constantFrom(...(Object.keys(FIELDS) as Field[]))
      .chain((field) => FIELDS[field].invalid.map((value) => ({ field, value }))),
    weight: 8,
  },
  {
    arbitrary: fc.constantFrom('customer_id', 'amount').map((field) => ({ field, value: ABSENT })),
    weight: 1,
  },
  { arbitrary: fc.constant({ field: 'amount_cents', value: 12_990 }), weight: 1 },
);

/** A record's fields: valid ones, the optional ones often absent, and a quarter of the time one mutation. */
const recordFields = fc
  .tuple(
    fc.record({
      customer_id: valid('customer_id', 0),
      amount: valid('amount', 0),
      currency: valid('currency', 1),
      status: valid('status', 1),
      description: valid('description', 1),
      due_date: valid('due_date', 1),
      created_at: valid('created_at', 1),
      updated_at: valid('updated_at', 15),
      restored_at: valid('restored_at', 15),
      metadata: valid('metadata', 1),
    }),
    fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: mutation, weight: 1 }),
  )
  .map(([fields, mutated]) => {
    const all: Record<string, unknown> = mutated ? { ...fields, [mutated.field]: mutated.value } : fields;
    return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== ABSENT));
  });

/** Raw bodies the server must refuse: what parsing would silently change, or what is not JSON. */
const refusedBodies = (): fc.Arbitrary<Body> => {
  const base = '"customer_id":"c1","amount":1';
  const deep = (levels: number) => `{${base},"metadata":{"d":${'['.repeat(levels)}${']'.repeat(levels)}}}`;
  const text = (why: string, bytes: string, status: 400 | 413 = 400): Body => ({
    form: 'refused',
    bytes,
    status,
    why,
  });
  const utf8 = (why: string, bad: number[]): Body => ({
    form: 'refused',
    bytes: Buffer.concat([Buffer.from(`{${base},"description":"a`), Buffer.from(bad), Buffer.from('b"}')]),
    status: 400,
    why,
  });
  return fc.constantFrom<Body>(
    text('a field given twice', `{${base},"amount":2}`),
    text('a field given twice, once escaped', `{${base},"\\u0061mount":1}`),
    text('a metadata field given twice', `{${base},"metadata":{"a":1,"a":1}}`),
    text('amount -0', '{"customer_id":"c1","amount":-0}'),
    text('amount -0.0', '{"customer_id":"c1","amount":-0.0}'),
    text('metadata -0e0', `{${base},"metadata":{"x":-0e0}}`),
    text('more digits than a double holds', '{"customer_id":"c1","amount":0.1000000000000000001}'),
    text('an integer past 2^53', '{"customer_id":"c1","amount":9007199254740993}'),
    text('a number past the double range', '{"customer_id":"c1","amount":1e400}'),
    text('a long decimal', '{"customer_id":"c1","amount":123456789012.345678901234567}'),
    text('a metadata integer past 2^64', `{${base},"metadata":{"n":12345678901234567890123}}`),
    text('nesting past 1000 levels', deep(1001)),
    text('nesting 100,000 levels', deep(100_000)),
    text('a __proto__ field', `{${base},"__proto__":{"x":1}}`),
    text('a metadata constructor.prototype', `{${base},"metadata":{"constructor":{"prototype":{"x":1}}}}`),
    text('unterminated', `{${base}`),
    text('a trailing comma', `{${base},}`),
    text('single quotes', "{'customer_id':'c1','amount':1}"),
    text('NaN', '{"customer_id":"c1","amount":NaN}'),
    text('a leading zero', '{"customer_id":"c1","amount":01}'),
    text('a raw control character in a string', '{"customer_id":"c\u0001","amount":1}'),
    text('a comment', `/* hi */{${base}}`),
    text('an empty body', ''),
    text('over 1 MiB', `{${base},"description":"${'x'.repeat(1_100_000)}"}`, 413),
    utf8('a UTF-8 encoded lone surrogate', [0xed, 0xa0, 0x80]),
    utf8('a byte that is never UTF-8', [0xff]),
    utf8('a truncated UTF-8 sequence', [0xc3]),
    utf8('an overlong UTF-8 encoding of /', [0xc0, 0xaf]),
    utf8('Latin-1 é', [0xe9]),
  );
};

/** Content types: JSON in forms a client may write (accepted), and others (415). */
const contentType = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 12 },
  {
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/json;charset=UTF-8',
    ),
    weight: 2,
  },
  {
    arbitrary: fc.constantFrom<string | undefined>(
      undefined,
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/jsonx',
      'application/vnd.api+json',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
    ),
    weight: 1,
  },
);

const who = fc.oneof(
  { arbitrary: fc.constant<Who>('root'), weight: 20 },
  { arbitrary: fc.constantFrom<Who>('writer', 'operator', 'reader', 'none', 'bad'), weight: 1 },
);

const spelling = fc.option(fc.constantFrom<Spelling>('pretty', 'escaped', 'exponent', 'escapedKey'), {
  freq: 2,
  nil: undefined,
});

const recordBody = (fields: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Body> =>
  fc.oneof(
    {
      arbitrary: fc
        .tuple(fields, spelling)
        .map(([value, spelled]): Body => ({ form: 'json', value, ...(spelled && { spelling: spelled }) })),
      weight: 12,
    },
    { arbitrary: refusedBodies(), weight: 1 },
  );

/** A pool id, now and then one no record may have. */
const idInBody = (ids: fc.Arbitrary<string>): fc.Arbitrary<unknown> =>
  fc.oneof(
    { arbitrary: ids, weight: 12 },
    {
      arbitrary: fc.constantFrom<unknown>('..', '.', 'a/b', 'a#b', 'a b', 'é', '', 'x'.repeat(129), 5, null),
      weight: 1,
    },
  );

const createOn = (ids: fc.Arbitrary<unknown>): fc.Arbitrary<Command> =>
  fc.record({
    op: fc.constant('create' as const),
    body: recordBody(
      fc.tuple(ids, recordFields).map(([id, fields]) => (id === undefined ? fields : { id, ...fields })),
    ),
    type: contentType,
    who,
  });

/** In an update the body's id is absent, the path's, another record's or invalid. */
const updateOn = (ids: fc.Arbitrary<string>): fc.Arbitrary<Command> =>
  fc
    .record({
      id: ids,
      encoded: fc.boolean(),
      bodyId: fc.oneof(
        { arbitrary: fc.constantFrom<'absent' | 'same'>('absent', 'same'), weight: 8 },
        { arbitrary: fc.constantFrom<'other' | 'invalid'>('other', 'invalid'), weight: 2 },
      ),
      body: recordBody(recordFields),
      type: contentType,
      ifMatch: fc.constantFrom<IfMatch>('none', 'none', 'current', 'weak', 'star', 'stale', 'malformed'),
      who,
    })
    .map(({ id, bodyId, body, ...rest }): Command => ({
      op: 'update',
      id,
      body:
        body.form === 'json' && bodyId !== 'absent'
          ? { ...body, value: { ...(body.value as Record<string, unknown>), id: bodyIdFor(bodyId, id) } }
          : body,
      ...rest,
    }));

function bodyIdFor(kind: 'same' | 'other' | 'invalid', id: string): string {
  if (kind === 'same') return id;
  if (kind === 'other') return id === 'k0' ? 'k1' : 'k0';
  return '../etc';
}

const ifMatch = fc.constantFrom<IfMatch>(
  'none',
  'none',
  'none',
  'current',
  'weak',
  'star',
  'stale',
  'malformed',
);

const holdBody = fc.oneof(
  {
    arbitrary: fc
      .record({ held: fc.boolean(), reason: anyText(30, true).filter((text) => text.length > 0) })
      .map((value): Body => ({ form: 'json', value })),
    weight: 8,
  },
  {
    arbitrary: fc
      .constantFrom<unknown>(
        { held: true, reason: '' },
        { held: true, reason: 'x'.repeat(2049) },
        { held: true },
        { held: 'yes', reason: 'r' },
        { held: true, reason: 'r', by: 'someone else' },
        [],
      )
      .map((value): Body => ({ form: 'json', value })),
    weight: 1,
  },
);

const commandOn = (ids: fc.Arbitrary<string>): fc.Arbitrary<Command> =>
  fc.oneof(
    { arbitrary: createOn(idInBody(ids)), weight: 8 },
    {
      arbitrary: fc.record({ op: fc.constant('read' as const), id: ids, encoded: fc.boolean(), who }),
      weight: 6,
    },
    { arbitrary: updateOn(ids), weight: 8 },
    {
      arbitrary: fc.record({
        op: fc.constant('delete' as const),
        id: ids,
        encoded: fc.boolean(),
        ifMatch,
        who,
      }),
      weight: 3,
    },
    { arbitrary: fc.record({ op: fc.constant('restore' as const), id: ids, who }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constant('hold' as const), id: ids, body: holdBody, who }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('readHold' as const), id: ids, who }), weight: 1 },
  );

const runBody = fc.oneof(
  {
    arbitrary: fc
      .constantFrom(...RUN_THRESHOLDS)
      .map((days): Body => ({ form: 'json', value: { older_than_days: days } })),
    weight: 6,
  },
  {
    arbitrary: fc
      .record(
        {
          older_than_days: fc.constantFrom(...RUN_THRESHOLDS),
          dry_run: fc.constant(true),
          limit: fc.integer({ min: 1, max: 5 }),
        },
        { requiredKeys: ['older_than_days'] },
      )
      .map((value): Body => ({ form: 'json', value })),
    weight: 2,
  },
  { arbitrary: fc.constant<Body>({ form: 'json', value: {} }), weight: 1 },
  {
    arbitrary: fc
      .constantFrom<unknown>(
        { older_than_days: -1 },
        { older_than_days: 36_501 },
        { older_than_days: 1.5 },
        { older_than_days: '30' },
        { older_than_days: null },
        { limit: 0 },
        { dry_run: 'yes' },
        { everything: true },
      )
      .map((value): Body => ({ form: 'json', value })),
    weight: 1,
  },
);

const archive = fc.record({
  op: fc.constant('archive' as const),
  body: runBody,
  who: fc.oneof(
    { arbitrary: fc.constant<Who>('root'), weight: 8 },
    { arbitrary: fc.constantFrom<Who>('operator', 'writer', 'none'), weight: 1 },
  ),
});

const list = fc.record({
  op: fc.constant('list' as const),
  query: fc.record(
    {
      limit: fc.oneof(
        { arbitrary: fc.integer({ min: 1, max: 1000 }).map(String), weight: 6 },
        { arbitrary: fc.constantFrom('1', '2', '3'), weight: 3 },
        { arbitrary: fc.constantFrom('0', '1001', 'abc', '-1', '1.5', ''), weight: 1 },
      ),
      customerId: fc.oneof(
        { arbitrary: fc.constantFrom(...CUSTOMERS), weight: 4 },
        { arbitrary: fc.constantFrom('', 'x'.repeat(129)), weight: 1 },
      ),
      status: fc.oneof(
        { arbitrary: fc.constantFrom(...STATUSES), weight: 4 },
        { arbitrary: fc.constantFrom('PAID', ''), weight: 1 },
      ),
    },
    { requiredKeys: ['limit'] },
  ),
  who: fc.constantFrom<Who>('root', 'root', 'reader', 'none'),
});

/** Path segments no record id can be: each must be refused, never reach a record. */
const HOSTILE_SEGMENTS = [
  '..',
  '.',
  '%2E%2E',
  '%2e',
  'k0%2F..',
  'a%2Fb',
  '..%2F..%2Fetc%2Fpasswd',
  'k0%5C',
  'k0\\x',
  '\\',
  '%00',
  'k0%00',
  '%',
  '%ZZ',
  'k0%',
  '%ED%A0%80',
  '%F0%9F%98%80',
  'k0;x',
  'k0#x',
  '#k0',
  'k0%23x',
  '%20k0',
  'x'.repeat(129),
  'x'.repeat(1100),
];

const hostilePath = fc.tuple(
  fc.constantFrom(...HOSTILE_SEGMENTS),
  fc.constantFrom(
    ['GET', '/billing/{}'],
    ['PUT', '/billing/{}'],
    ['DELETE', '/billing/{}'],
    ['POST', '/restore/{}'],
    ['GET', '/billing/{}/legal-hold'],
    ['PUT', '/billing/{}/legal-hold'],
  ),
);

const hostile = fc.oneof(
  {
    arbitrary: hostilePath.map(([segment, [method = 'GET', template = '']]): Command => ({
      op: 'hostile',
      method,
      path: template.replace('{}', segment),
      ...(method === 'PUT' && {
        body: {
          form: 'json',
          value: template.endsWith('legal-hold')
            ? { held: true, reason: 'hostile' }
            : { customer_id: 'c1', amount: 1 },
        },
      }),
    })),
    weight: 4,
  },
  {
    arbitrary: fc.constantFrom<Command>(
      { op: 'hostile', method: 'GET', path: '/billing/./k0' },
      { op: 'hostile', method: 'DELETE', path: '/billing/../billing/k0' },
      { op: 'hostile', method: 'DELETE', path: '/billing//k0' },
      { op: 'hostile', method: 'DELETE', path: '/billing/k0/' },
      { op: 'hostile', method: 'DELETE', path: '/%2e%2e/billing/k0' },
      { op: 'hostile', method: 'POST', path: '/billing/k0' },
      { op: 'hostile', method: 'PATCH', path: '/billing/k0' },
      { op: 'hostile', method: 'GET', path: '/billing?limit=1&limit=2' },
      { op: 'hostile', method: 'GET', path: '/billing?after=..' },
      { op: 'hostile', method: 'GET', path: '/archive/records?limit=abc' },
      { op: 'hostile', method: 'GET', path: '/archive/runs/..%2F..' },
    ),
    weight: 1,
  },
);

/** Two to four commands on the race pool sent at once, often beside an archival run, now and then two. */
const together = fc
  .tuple(
    fc.array(commandOn(fc.constantFrom(...RACE_POOL)), { minLength: 2, maxLength: 4 }),
    fc.oneof(
      { arbitrary: fc.constant([]), weight: 2 },
      { arbitrary: fc.array(fc.constantFrom(...RUN_THRESHOLDS), { minLength: 1, maxLength: 1 }), weight: 3 },
      { arbitrary: fc.array(fc.constantFrom(...RUN_THRESHOLDS), { minLength: 2, maxLength: 2 }), weight: 1 },
    ),
  )
  .map(([commands, thresholds]): Command => ({
    op: 'together',
    commands: [
      ...commands,
      ...thresholds.map((days): Command => ({
        op: 'archive',
        body: { form: 'json', value: { older_than_days: days } },
        who: 'root',
      })),
    ],
  }));

/** One command of a sequence; creates, reads and updates dominate so records accumulate and change. */
export const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: commandOn(fc.constantFrom(...ID_POOL)), weight: 30 },
  { arbitrary: createOn(fc.constant(undefined)), weight: 1 },
  { arbitrary: together, weight: 5 },
  { arbitrary: archive, weight: 3 },
  { arbitrary: list, weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant('listArchived' as const), limit: fc.integer({ min: 1, max: 4 }) }),
    weight: 1,
  },
  { arbitrary: hostile, weight: 3 },
);
