import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Static, TSchema } from 'typebox';
import addFormatsModule from 'ajv-formats';
import { ValidationError } from './errors.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * Ajv set up for request bodies and stored documents: no type coercion ("12" is not 12 for a billing
 * amount), no silent removal of unknown properties, every error reported at once.
 */
export function createStrictAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: false,
    removeAdditional: false,
    useDefaults: false,
    strict: false,
    // Errors carry their schema, so a field's own `x-problem` sentence can be found.
    verbose: true,
  });
  addFormats(ajv);
  return ajv;
}

/** Ajv for query strings and path parameters, where every value arrives as a string. */
export function createCoercingAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: true,
    removeAdditional: false,
    useDefaults: true,
    strict: false,
    verbose: true,
  });
  addFormats(ajv);
  return ajv;
}

/**
 * A schema may say, in its own words, what a field must be (`'x-problem': 'must be …'`): that
 * sentence then stands for every error on the field.
 */
export const PROBLEM = 'x-problem';

const FORMATS: Record<string, string> = {
  'date-time': 'an RFC 3339 date-time such as 2024-02-15T00:00:00Z',
  date: 'a date such as 2024-02-15',
};

const TYPES: Record<string, string> = {
  number: 'a number',
  integer: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

/** Where each part of a request is, in words. */
const ROOTS: Record<string, string> = {
  body: '',
  querystring: 'query parameter ',
  params: 'path parameter ',
  headers: 'header ',
};

/**
 * One plain sentence per offending field, never schema jargon: of several errors on one field, the
 * schema's own sentence (`x-problem`) wins, then the first that says what the value must be.
 */
export function schemaProblems(errors: readonly ErrorObject[] | null | undefined, root = 'body'): string[] {
  if (!errors || errors.length === 0) return [`the ${root} is invalid`];
  const byField = new Map<string, ErrorObject[]>();
  const problems: string[] = [];
  for (const error of errors) {
    const params = error.params as { additionalProperty?: string; missingProperty?: string };
    if (params.additionalProperty !== undefined)
      problems.push(`${placeOf(error, root)} has unknown field '${params.additionalProperty}'`);
    else if (params.missingProperty !== undefined)
      problems.push(`${placeOf(error, root)} is missing required field '${params.missingProperty}'`);
    else byField.set(placeOf(error, root), [...(byField.get(placeOf(error, root)) ?? []), error]);
  }
  for (const [field, fieldErrors] of byField) problems.push(`${field} ${phraseFor(fieldErrors)}`);
  return [...new Set(problems)];
}

/** The field an error is about, as a reader would name it: `amount`, `query parameter limit`, `the body`. */
function placeOf(error: ErrorObject, root: string): string {
  const path = error.instancePath.slice(1).replaceAll('/', '.');
  if (path === '') return `the ${root}`;
  return `${ROOTS[root] ?? `${root} `}${path}`;
}

function phraseFor(errors: readonly ErrorObject[]): string {
  const own = errors
    .map((error): unknown => error.parentSchema?.[PROBLEM])
    .find((sentence): sentence is string => typeof sentence === 'string');
  if (own !== undefined) return own;
  const allowed = errors.flatMap((error) =>
    error.keyword === 'const' ? [String((error.params as { allowedValue: unknown }).allowedValue)] : [],
  );
  if (allowed.length > 0) return `must be one of ${allowed.join(', ')}`;
  // A union's own error and its `null` branch say nothing about what the value should be.
  const telling =
    errors.find((e) => !['anyOf', 'oneOf'].includes(e.keyword) && !isNullBranch(e)) ?? errors[0];
  return telling ? phraseOf(telling) : 'is invalid';
}

function isNullBranch(error: ErrorObject): boolean {
  return error.keyword === 'type' && (error.params as { type: string }).type === 'null';
}

function phraseOf(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const limit = params.limit as number;
  switch (error.keyword) {
    case 'type':
      return `must be ${String(params.type)
        .split(',')
        .map((type) => TYPES[type] ?? type)
        .join(' or ')}`;
    case 'minimum':
      return `must be at least ${limit}`;
    case 'exclusiveMinimum':
      return `must be more than ${limit}`;
    case 'maximum':
      return `must be at most ${limit}`;
    case 'exclusiveMaximum':
      return `must be less than ${limit}`;
    case 'minLength':
      return limit === 1 ? 'must not be empty' : `must be at least ${limit} characters`;
    case 'maxLength':
      return `must be at most ${limit} characters`;
    case 'minItems':
      return `must hold at least ${limit} items`;
    case 'maxItems':
      return `must hold at most ${limit} items`;
    case 'format':
      return `must be ${FORMATS[String(params.format)] ?? `in ${String(params.format)} format`}`;
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'pattern': {
      const description = (error.parentSchema as { description?: unknown } | undefined)?.description;
      return typeof description === 'string' ? `must be ${description}` : 'is not in the expected form';
    }
    default:
      return 'is invalid';
  }
}

/** Compiles `schema` once and returns a function that throws ValidationError on a mismatch. */
export function compileAssert<S extends TSchema>(
  schema: S,
  root = 'body',
): (value: unknown) => asserts value is Static<S> {
  const validate: ValidateFunction = createStrictAjv().compile(schema);
  return (value: unknown): asserts value is Static<S> => {
    if (!validate(value)) throw new ValidationError(schemaProblems(validate.errors, root));
  };
}
