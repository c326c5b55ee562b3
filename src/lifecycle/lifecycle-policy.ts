import { readFile } from 'node:fs/promises';
import { Type, type Static } from 'typebox';
import { compileAssert } from '../domain/schema-validator.js';

/** The container name the policy file is written for; deploy rewrites it to BLOB_CONTAINER. */
export const POLICY_FILE_CONTAINER = 'billing-archive';

export const POLICY_FILE = new URL('../../infra/blob-lifecycle-policy.json', import.meta.url);

const DaysSinceCreation = Type.Object(
  { daysAfterCreationGreaterThan: Type.Integer({ minimum: 0 }) },
  { additionalProperties: true },
);

/** The part of Azure's lifecycle policy schema this service reads; the rest passes through untouched. */
const LifecyclePolicySchema = Type.Object(
  {
    rules: Type.Array(
      Type.Object(
        {
          enabled: Type.Boolean(),
          name: Type.String({ minLength: 1 }),
          type: Type.Literal('Lifecycle'),
          definition: Type.Object(
            {
              filters: Type.Object(
                {
                  blobTypes: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
                  prefixMatch: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
                },
                { additionalProperties: true },
              ),
              actions: Type.Object(
                {
                  baseBlob: Type.Object(
                    {
                      tierToCool: Type.Optional(DaysSinceCreation),
                      tierToCold: Type.Optional(DaysSinceCreation),
                      tierToArchive: Type.Optional(DaysSinceCreation),
                      delete: Type.Optional(DaysSinceCreation),
                    },
                    { additionalProperties: true },
                  ),
                },
                { additionalProperties: true },
              ),
            },
            { additionalProperties: true },
          ),
        },
        { additionalProperties: true },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);

export type LifecyclePolicy = Static<typeof LifecyclePolicySchema>;

const assertPolicy: (value: unknown) => asserts value is LifecyclePolicy = compileAssert(
  LifecyclePolicySchema,
  'policy',
);

/** Reads and checks the policy file (infra/blob-lifecycle-policy.json unless told otherwise). */
export async function loadLifecyclePolicy(file: URL | string = POLICY_FILE): Promise<LifecyclePolicy> {
  const value: unknown = JSON.parse(await readFile(file, 'utf8'));
  assertPolicy(value);
  return value;
}

/**
 * The policy with its prefixes moved to `container`: Azure matches prefixes including the container
 * name, and only the archive's own prefixes, so `rehydrated/` copies and `locks/` are never touched.
 */
export function policyForContainer(policy: LifecyclePolicy, container: string): LifecyclePolicy {
  const from = `${POLICY_FILE_CONTAINER}/`;
  return {
    rules: policy.rules.map((rule) => ({
      ...rule,
      definition: {
        ...rule.definition,
        filters: {
          ...rule.definition.filters,
          prefixMatch: rule.definition.filters.prefixMatch.map((prefix) =>
            prefix.startsWith(from) ? `${container}/${prefix.slice(from.length)}` : prefix,
          ),
        },
      },
    })),
  };
}
