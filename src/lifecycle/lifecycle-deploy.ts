import { isDeepStrictEqual } from 'node:util';
import { StorageManagementClient, type StorageManagementClientOptionalParams } from '@azure/arm-storage';
import type { TokenCredential } from '@azure/identity';
import type { LifecyclePolicy } from './lifecycle-policy.js';

/** Pinned, so a dry run shows exactly the request a deploy sends. */
export const MANAGEMENT_API_VERSION = '2025-08-01';

export interface LifecycleTarget {
  subscriptionId: string;
  resourceGroup: string;
  account: string;
  /** Azure Resource Manager, e.g. https://management.azure.com. */
  endpoint: string;
}

/** The request a deploy sends, for `lifecycle deploy --dry-run`. */
export function deployRequest(
  target: LifecycleTarget,
  policy: LifecyclePolicy,
): { method: 'PUT'; url: string; body: { properties: { policy: LifecyclePolicy } } } {
  const path = [
    'subscriptions',
    target.subscriptionId,
    'resourceGroups',
    target.resourceGroup,
    'providers/Microsoft.Storage/storageAccounts',
    target.account,
    'managementPolicies/default',
  ]
    .map((part) => (part.includes('/') ? part : encodeURIComponent(part)))
    .join('/');
  return {
    method: 'PUT',
    url: `${target.endpoint.replace(/\/$/, '')}/${path}?api-version=${MANAGEMENT_API_VERSION}`,
    body: { properties: { policy } },
  };
}

/**
 * Applies the policy as the account's (only) management policy. Idempotent: when the account already
 * has exactly this policy nothing is written. `clientOptions` is for tests (a private CA).
 */
export async function deployLifecyclePolicy(
  target: LifecycleTarget,
  policy: LifecyclePolicy,
  credential: TokenCredential,
  clientOptions: StorageManagementClientOptionalParams = {},
): Promise<{ changed: boolean }> {
  const client = new StorageManagementClient(credential, target.subscriptionId, {
    ...clientOptions,
    endpoint: target.endpoint,
    apiVersion: MANAGEMENT_API_VERSION,
  });
  const policies = client.managementPolicies;
  let current: unknown;
  try {
    current = (await policies.get(target.resourceGroup, target.account, 'default')).policy;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  if (current !== undefined && isDeepStrictEqual(JSON.parse(JSON.stringify(current)), policy))
    return { changed: false };
  await policies.createOrUpdate(target.resourceGroup, target.account, 'default', { policy });
  return { changed: true };
}
