import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { AccessToken, GetTokenOptions } from '@azure/identity';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deployLifecyclePolicy,
  deployRequest,
  MANAGEMENT_API_VERSION,
} from '../../src/lifecycle/lifecycle-deploy.js';
import {
  loadLifecyclePolicy,
  policyForContainer,
  retentionProblems,
} from '../../src/lifecycle/lifecycle-policy.js';
import { HELD_PREFIX } from '../../src/services/layouts/record-layout.js';
import { runCli } from '../helpers/cli.js';

const target = {
  subscriptionId: '00000000-0000-0000-0000-000000000001',
  resourceGroup: 'rg-billing',
  account: 'billingarchive',
};

describe('the blob lifecycle policy file', () => {
  it('tiers to Cool at 30 days and to Archive at 90 under the archive prefixes, held copies included', async () => {
    const [tiers] = (await loadLifecyclePolicy()).rules;
    expect(tiers?.definition.filters.prefixMatch).toEqual([
      'billing-archive/segments/',
      'billing-archive/records/',
      'billing-archive/held/',
    ]);
    expect(tiers?.definition.actions.baseBlob).toEqual({
      tierToCool: { daysAfterCreationGreaterThan: 30 },
      // A rehydrated copy's tier changed recently: it is not pushed straight back to Archive.
      tierToArchive: { daysAfterCreationGreaterThan: 90, daysAfterLastTierChangeGreaterThan: 7 },
    });
  });

  it('deletes at 2555 days as a backstop to retention, manifests with their segments, never under held/', async () => {
    const policy = await loadLifecyclePolicy();
    const [tiers, backstop] = policy.rules;
    expect(policy.rules).toHaveLength(2);
    expect(backstop?.definition.filters.prefixMatch).toEqual([
      'billing-archive/segments/',
      'billing-archive/manifests/',
      'billing-archive/records/',
    ]);
    // Manifests are never tiered, so verify and repair can always read them.
    expect(tiers?.definition.filters.prefixMatch.some((prefix) => prefix.includes('manifests'))).toBe(false);
    expect(backstop?.definition.actions.baseBlob).toEqual({ delete: { daysAfterCreationGreaterThan: 2555 } });
    expect(retentionProblems(policy, { retentionDays: 2555, heldPrefix: HELD_PREFIX })).toEqual([]);
  });

  it('names a delete rule that would act before RETENTION_DAYS or reach held copies', async () => {
    const policy = await loadLifecyclePolicy();
    expect(retentionProblems(policy, { retentionDays: 3000, heldPrefix: HELD_PREFIX })).toEqual([
      "rule 'billing-archive-retention-backstop' deletes blobs after 2555 days, before RETENTION_DAYS (3000): set its delete to 3000 days or more",
    ]);
    const wide = structuredClone(policy);
    const backstop = wide.rules[1];
    if (backstop) backstop.definition.filters.prefixMatch = ['billing-archive'];
    expect(retentionProblems(wide, { retentionDays: 2555, heldPrefix: HELD_PREFIX })).toEqual([
      "rule 'billing-archive-retention-backstop' deletes under billing-archive, where records under legal hold are kept: remove that prefix from it",
    ]);
  });

  it('moves the prefixes to the configured container, and to nothing else', async () => {
    const moved = policyForContainer(await loadLifecyclePolicy(), 'invoices-archive');
    expect(moved.rules.map((rule) => rule.definition.filters.prefixMatch)).toEqual([
      ['invoices-archive/segments/', 'invoices-archive/records/', 'invoices-archive/held/'],
      ['invoices-archive/segments/', 'invoices-archive/manifests/', 'invoices-archive/records/'],
    ]);
    expect(JSON.stringify(moved)).not.toMatch(/rehydrated|locks/);
  });
});

interface SeenRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  body: unknown;
}

/** Stands in for Azure Resource Manager over TLS: keeps one management policy, records every request. */
async function startArmStandIn(): Promise<{
  server: Server;
  endpoint: string;
  ca: string;
  seen: SeenRequest[];
}> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  const seen: SeenRequest[] = [];
  let stored: unknown;
  const server = createServer({ key: pems.private, cert: pems.cert }, (request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      const body: unknown = text ? JSON.parse(text) : undefined;
      seen.push({
        method: request.method ?? '',
        url: request.url ?? '',
        authorization: request.headers.authorization,
        body,
      });
      response.setHeader('content-type', 'application/json');
      const resource = (policy: unknown) =>
        JSON.stringify({
          id: request.url?.split('?')[0],
          name: 'DefaultManagementPolicy',
          type: 'Microsoft.Storage/storageAccounts/managementPolicies',
          properties: { lastModifiedTime: '2026-11-27T00:00:00Z', policy },
        });
      if (request.method === 'PUT') {
        stored = (body as { properties: { policy: unknown } }).properties.policy;
        response.end(resource(stored));
      } else if (request.method === 'GET' && stored !== undefined) {
        response.end(resource(stored));
      } else {
        response.statusCode = 404;
        response.end(
          JSON.stringify({
            error: { code: 'ManagementPolicyNotFound', message: 'No ManagementPolicy found' },
          }),
        );
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, endpoint: `https://127.0.0.1:${port}`, ca: pems.cert, seen };
}

describe('lifecycle deploy', () => {
  let arm: Awaited<ReturnType<typeof startArmStandIn>>;
  const scopes: string[] = [];
  const credential = {
    getToken: (scope: string | string[], _options?: GetTokenOptions): Promise<AccessToken> => {
      scopes.push(...[scope].flat());
      return Promise.resolve({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 });
    },
  };

  beforeAll(async () => {
    arm = await startArmStandIn();
  });
  afterAll(async () => {
    arm.server.close();
    await once(arm.server, 'close');
  });

  it('sends exactly the documented request, with a bearer token, and changes nothing the second time', async () => {
    const policy = policyForContainer(await loadLifecyclePolicy(), 'billing-archive');
    const where = { ...target, endpoint: arm.endpoint };
    expect(await deployLifecyclePolicy(where, policy, credential, { tlsOptions: { ca: arm.ca } })).toEqual({
      changed: true,
    });
    const puts = arm.seen.filter((request) => request.method === 'PUT');
    expect(puts).toHaveLength(1);
    const expected = deployRequest(where, policy);
    expect(`${arm.endpoint}${puts[0]?.url ?? ''}`).toBe(expected.url);
    expect(puts[0]?.url).toBe(
      `/subscriptions/${target.subscriptionId}/resourceGroups/rg-billing/providers/Microsoft.Storage/storageAccounts/billingarchive/managementPolicies/default?api-version=${MANAGEMENT_API_VERSION}`,
    );
    expect(puts[0]?.authorization).toBe('Bearer test-token');
    expect(puts[0]?.body).toEqual(expected.body);
    expect(scopes).toContain('https://management.azure.com/.default');

    expect(await deployLifecyclePolicy(where, policy, credential, { tlsOptions: { ca: arm.ca } })).toEqual({
      changed: false,
    });
    expect(arm.seen.filter((request) => request.method === 'PUT')).toHaveLength(1);
  });

  it('--dry-run prints the request and sends nothing; missing ids exit 2 naming them', async () => {
    const env = {
      AZURE_SUBSCRIPTION_ID: target.subscriptionId,
      AZURE_RESOURCE_GROUP: target.resourceGroup,
      AZURE_STORAGE_ACCOUNT: target.account,
      LOG_LEVEL: 'silent',
    };
    const dry = await runCli(['--json', 'lifecycle', 'deploy', '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    const printed = JSON.parse(dry.stdout) as ReturnType<typeof deployRequest>;
    expect(printed).toEqual(
      deployRequest(
        { ...target, endpoint: 'https://management.azure.com' },
        policyForContainer(await loadLifecyclePolicy(), 'billing-archive'),
      ),
    );
    const missing = await runCli(['--json', 'lifecycle', 'deploy', '--dry-run'], {
      AZURE_SUBSCRIPTION_ID: target.subscriptionId,
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('lifecycle deploy needs AZURE_RESOURCE_GROUP, AZURE_STORAGE_ACCOUNT');
    const early = await runCli(['--json', 'lifecycle', 'deploy', '--dry-run'], {
      ...env,
      RETENTION_DAYS: '3650',
    });
    expect(early.code).toBe(2);
    expect(early.stderr).toContain('deletes blobs after 2555 days, before RETENTION_DAYS (3650)');
    expect(early.stdout).toBe('');
  });
});
