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
  });
  addFormats(ajv);
  return ajv;
}

/** One readable sentence for a list of Ajv errors, naming each offending field. */
export function describeSchemaErrors(
  errors: readonly ErrorObject[] | null | undefined,
  root = 'body',
): string {
  if (!errors || errors.length === 0) return `${root} is invalid`;
  const parts = errors.map((error) => {
    if (error.keyword === 'additionalProperties') {
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      return `${root}${pathOf(error)} has unknown field '${extra}'`;
    }
    if (error.keyword === 'required') {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return `${root}${pathOf(error)} is missing required field '${missing}'`;
    }
    return `${root}${pathOf(error)} ${error.message ?? 'is invalid'}`;
  });
  return [...new Set(parts)].join('; ');
}

function pathOf(error: ErrorObject): string {
  return error.instancePath.replaceAll('/', '.');
}

/** Compiles `schema` once and returns a function that throws ValidationError on a mismatch. */
export function compileAssert<S extends TSchema>(
  schema: S,
  root = 'body',
): (value: unknown) => asserts value is Static<S> {
  const validate: ValidateFunction = createStrictAjv().compile(schema);
  return (value: unknown): asserts value is Static<S> => {
    if (!validate(value)) throw new ValidationError(describeSchemaErrors(validate.errors, root));
  };
}
