import { readFile } from 'node:fs/promises';
import { Type, type Static } from 'typebox';
import { compileAssert } from '../domain/schema-validator.js';

/** The container name the policy file is written for; deploy rewrites it to BLOB_CONTAINER. */
export const POLICY_FILE_CONTAINER = 'billing-archive';

const POLICY_FILE = new URL('../../infra/blob-lifecycle-policy.json', import.meta.url);

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

/**
 * Why the policy's delete rules could remove a record the retention sweep must keep, if any. The
 * policy counts from a blob's creation, which comes at least ARCHIVAL_DAYS_THRESHOLD days after its
 * records' creation, so a delete after at least RETENTION_DAYS always comes after the sweep's. Held
 * records' copies live under `heldPrefix`, which no delete rule may cover.
 */
export function retentionProblems(
  policy: LifecyclePolicy,
  options: { retentionDays: number; heldPrefix: string },
): string[] {
  const problems: string[] = [];
  for (const rule of policy.rules) {
    if (!rule.enabled) continue;
    const days = rule.definition.actions.baseBlob.delete?.daysAfterCreationGreaterThan;
    if (days === undefined) continue;
    if (days < options.retentionDays)
      problems.push(
        `rule '${rule.name}' deletes blobs after ${days} days, before RETENTION_DAYS (${options.retentionDays}): set its delete to ${options.retentionDays} days or more`,
      );
    const covering = rule.definition.filters.prefixMatch.filter((prefix) => {
      // A prefix without '/' names container names only: it covers every blob of this one.
      const slash = prefix.indexOf('/');
      const inContainer = slash === -1 ? '' : prefix.slice(slash + 1);
      return options.heldPrefix.startsWith(inContainer) || inContainer.startsWith(options.heldPrefix);
    });
    if (covering.length > 0)
      problems.push(
        `rule '${rule.name}' deletes under ${covering.join(', ')}, where records under legal hold are kept: remove that prefix from it`,
      );
  }
  return problems;
}
