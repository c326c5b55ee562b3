import { describe, expect, it } from 'vitest';
import { ConfigError, describeBackend, loadConfig } from '../src/config.js';

const azure = {
  COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
  COSMOS_KEY: 'secret-key',
  BLOB_CONNECTION_STRING:
    'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=secret;EndpointSuffix=core.windows.net',
};

function problem(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

const ENTRA = {
  AUTH_JWT_ISSUER: 'https://login.microsoftonline.com/t/v2.0',
  AUTH_JWT_AUDIENCE: 'api://billing',
  AUTH_JWT_JWKS_URL: 'https://login.microsoftonline.com/t/discovery/v2.0/keys',
};
const CALLBACK = 'https://billing.example.com/login/entra/callback';

describe('loadConfig', () => {
  it('applies the documented defaults: the embedded stores under ./data', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      archivalDaysThreshold: 90,
      retentionDays: 2555,
      batchSize: 100,
      apiHost: '0.0.0.0',
      apiPort: 8000,
      logLevel: 'info',
      backend: { kind: 'embedded' },
    });
    expect(config.backend.kind === 'embedded' && config.backend.dataDir).toMatch(/\/data$/);
  });

  it('reads and coerces the variables', () => {
    const config = loadConfig({
      ARCHIVAL_DAYS_THRESHOLD: '30',
      BATCH_SIZE: '500',
      ARCHIVAL_MAX_RU_PER_SECOND: '400',
      ARCHIVAL_MAX_PAUSE_MINUTES: '15',
      RESTORE_REHYDRATION_POLL_MINUTES: '30',
      RESTORE_MAX_WAIT_HOURS: '12',
      API_PORT: '0',
      DATA_DIR: '/tmp/x',
    });
    expect(config).toMatchObject({
      archivalDaysThreshold: 30,
      batchSize: 500,
      archivalMaxRequestUnitsPerSecond: 400,
      archivalMaxPauseMs: 15 * 60_000,
      restoreRehydrationPollMs: 30 * 60_000,
      restoreMaxWaitMs: 12 * 60 * 60_000,
      apiPort: 0,
      backend: { dataDir: '/tmp/x' },
    });
  });

  it('names every bad variable in one message', () => {
    const message = problem({
      BATCH_SIZE: '0',
      API_PORT: 'eighty',
      LOG_LEVEL: 'loud',
      BLOB_UPLOAD_TIER: 'Frozen',
      ARCHIVAL_MAX_RU_PER_SECOND: '-5',
      ARCHIVAL_MAX_PAUSE_MINUTES: '0',
      RESTORE_REHYDRATION_POLL_MINUTES: '0',
    });
    for (const variable of [
      'BATCH_SIZE',
      'API_PORT',
      'LOG_LEVEL',
      'BLOB_UPLOAD_TIER',
      'ARCHIVAL_MAX_RU_PER_SECOND',
      'ARCHIVAL_MAX_PAUSE_MINUTES',
      'RESTORE_REHYDRATION_POLL_MINUTES',
    ])
      expect(message).toContain(variable);
  });

  it('selects Azure with the seed names and defaults when both stores are set', () => {
    const config = loadConfig(azure);
    expect(config.backend).toEqual({
      kind: 'azure',
      archiveIndex: { kind: 'native', shards: 16, cacheBytes: 32 * 1024 * 1024 },
      cosmos: {
        endpoint: azure.COSMOS_ENDPOINT,
        key: 'secret-key',
        database: 'billingdb',
        container: 'records',
        archiveIndexContainer: 'archive_index',
        runsContainer: 'archive_runs',
        legalHoldsContainer: 'legal_holds',
        restoreJobsContainer: 'restore_jobs',
        partitionKeyPath: '/id',
      },
      blob: {
        kind: 'connection-string',
        connectionString: azure.BLOB_CONNECTION_STRING,
        container: 'billing-archive',
        uploadTier: 'Cool',
        rehydratePriority: 'Standard',
        auditContainer: 'billing-audit',
      },
    });
    expect(describeBackend(config)).not.toContain('secret');
  });

  it('keeps the archive index beside the backend by default, or as files in the archive with ARCHIVE_INDEX=blob', () => {
    const defaults = { shards: 16, cacheBytes: 32 * 1024 * 1024 };
    expect(loadConfig({}).backend.archiveIndex).toEqual({ kind: 'native', ...defaults });
    expect(loadConfig({ ARCHIVE_INDEX: 'sqlite' }).backend.archiveIndex).toEqual({
      kind: 'native',
      ...defaults,
    });
    expect(loadConfig({ ...azure, ARCHIVE_INDEX: 'cosmos' }).backend.archiveIndex).toEqual({
      kind: 'native',
      ...defaults,
    });
    expect(loadConfig({ ARCHIVE_INDEX: 'blob' }).backend.archiveIndex).toEqual({
      kind: 'blob',
      shards: 16,
      cacheBytes: 32 * 1024 * 1024,
    });
    expect(
      loadConfig({ ...azure, ARCHIVE_INDEX: 'blob', ARCHIVE_INDEX_SHARDS: '64', ARCHIVE_INDEX_CACHE_MB: '8' })
        .backend.archiveIndex,
    ).toEqual({ kind: 'blob', shards: 64, cacheBytes: 8 * 1024 * 1024 });
    expect(() => loadConfig({ ARCHIVE_INDEX: 'cosmos' })).toThrow(
      /ARCHIVE_INDEX=cosmos needs the Azure backend/,
    );
    expect(() => loadConfig({ ...azure, ARCHIVE_INDEX: 'sqlite' })).toThrow(
      /ARCHIVE_INDEX=sqlite keeps the index on local disk/,
    );
    expect(() => loadConfig({ ARCHIVE_INDEX: 'mongo' })).toThrow(/ARCHIVE_INDEX/);
    expect(() => loadConfig({ ARCHIVE_INDEX: 'blob', ARCHIVE_INDEX_SHARDS: '5000' })).toThrow(
      /ARCHIVE_INDEX_SHARDS/,
    );
  });

  it('uses managed identity when no key or connection string is given', () => {
    const config = loadConfig({
      COSMOS_ENDPOINT: azure.COSMOS_ENDPOINT,
      BLOB_ACCOUNT_URL: 'https://acct.blob.core.windows.net',
    });
    expect(config.backend).toMatchObject({
      cosmos: { key: undefined },
      blob: { kind: 'account-url', accountUrl: 'https://acct.blob.core.windows.net' },
    });
  });

  it.each([
    [{ COSMOS_ENDPOINT: azure.COSMOS_ENDPOINT }, 'COSMOS_ENDPOINT is set but BLOB_CONNECTION_STRING'],
    [
      { BLOB_CONNECTION_STRING: azure.BLOB_CONNECTION_STRING },
      'BLOB_CONNECTION_STRING is set but COSMOS_ENDPOINT is not',
    ],
    [
      { BLOB_ACCOUNT_URL: 'https://a.blob.core.windows.net' },
      'BLOB_ACCOUNT_URL is set but COSMOS_ENDPOINT is not',
    ],
    [{ COSMOS_KEY: 'k' }, 'COSMOS_KEY is set without COSMOS_ENDPOINT'],
    [{ ...azure, BLOB_ACCOUNT_URL: 'https://a.blob.core.windows.net' }, 'both set'],
    [{ ...azure, DATA_DIR: '/tmp/x' }, 'unset DATA_DIR'],
    [{ ...azure, COSMOS_ENDPOINT: 'not a url' }, 'COSMOS_ENDPOINT'],
    [{ ...azure, BLOB_CONTAINER: 'Bad_Name' }, 'BLOB_CONTAINER'],
    [{ ...azure, COSMOS_PARTITION_KEY: 'customer_id' }, 'COSMOS_PARTITION_KEY'],
  ])('refuses a partial or contradictory setting %j, naming the variable', (env, needle) => {
    expect(problem(env)).toContain(needle);
  });

  it('never echoes a secret in its message', () => {
    expect(
      problem({
        COSMOS_ENDPOINT: azure.COSMOS_ENDPOINT,
        COSMOS_KEY: '',
        BLOB_CONNECTION_STRING: azure.BLOB_CONNECTION_STRING,
        BATCH_SIZE: 'x',
      }),
    ).not.toContain('secret');
  });

  it('schedules archival at midnight UTC by default; an empty ARCHIVAL_SCHEDULE disables it', () => {
    expect(loadConfig({}).archivalSchedule).toBe('0 0 0 * * *');
    expect(loadConfig({ ARCHIVAL_SCHEDULE: '0 30 2 * * 1-5' }).archivalSchedule).toBe('0 30 2 * * 1-5');
    expect(loadConfig({ ARCHIVAL_SCHEDULE: '' }).archivalSchedule).toBeUndefined();
  });

  it('reads ARCHIVAL_EXCLUDE_STATUSES as record statuses, each once, and names any it does not know', () => {
    expect(loadConfig({}).archivalExcludedStatuses).toEqual([]);
    expect(
      loadConfig({ ARCHIVAL_EXCLUDE_STATUSES: ' pending, overdue ,pending,' }).archivalExcludedStatuses,
    ).toEqual(['pending', 'overdue']);
    const refused = problem({ ARCHIVAL_EXCLUDE_STATUSES: 'pending,unpaid,Paid' });
    expect(refused).toContain(
      "ARCHIVAL_EXCLUDE_STATUSES names 'unpaid', which is no record status (pending, paid, overdue, cancelled, refunded)",
    );
    expect(refused).toContain("ARCHIVAL_EXCLUDE_STATUSES names 'Paid'");
  });

  it('refuses a schedule that is not six-field cron, naming the variable', () => {
    expect(problem({ ARCHIVAL_SCHEDULE: '0 0 * * *' })).toContain(
      "ARCHIVAL_SCHEDULE must have six fields (second minute hour day month weekday), got 5 in '0 0 * * *'",
    );
    expect(problem({ ARCHIVAL_SCHEDULE: '0 0 25 * * *' })).toContain(
      "ARCHIVAL_SCHEDULE '0 0 25 * * *' is not a valid cron pattern",
    );
  });

  it('keeps records at least until they are archived: RETENTION_DAYS above ARCHIVAL_DAYS_THRESHOLD', () => {
    expect(loadConfig({ RETENTION_DAYS: '3650' }).retentionDays).toBe(3650);
    expect(problem({ RETENTION_DAYS: '90' })).toContain(
      'RETENTION_DAYS (90) must be more than ARCHIVAL_DAYS_THRESHOLD (90)',
    );
    expect(problem({ RETENTION_DAYS: '0' })).toContain('RETENTION_DAYS');
  });

  it('reads API keys, token settings and the HTTP limits', () => {
    const hash = 'a'.repeat(64);
    const config = loadConfig({
      API_KEYS: `ci:operator:${hash},counsel:reader+legal:${hash.replace(/a/g, 'b')}`,
      AUTH_JWT_ISSUER: 'https://login.microsoftonline.com/t/v2.0',
      AUTH_JWT_AUDIENCE: 'api://billing',
      AUTH_JWT_JWKS_URL: 'https://login.microsoftonline.com/t/discovery/v2.0/keys',
      TRUST_PROXY: '1',
      RATE_LIMIT_PER_MINUTE: '0',
    });
    expect(config.auth.apiKeys.map((k) => [k.name, [...k.roles]])).toEqual([
      ['ci', ['operator']],
      ['counsel', ['reader', 'legal']],
    ]);
    expect(config.auth).toMatchObject({ disabled: false, token: { audience: 'api://billing' } });
    expect(config.http).toMatchObject({ trustProxy: 1, perIdentityPerMinute: 0, anonymousPerMinute: 120 });
    expect(loadConfig({}).auth).toEqual({
      disabled: false,
      apiKeys: [],
      token: undefined,
      sessions: { secret: undefined, hours: 8 },
    });
  });

  it.each([
    [{ API_KEYS: 'ci:god:' + 'a'.repeat(64) }, "API_KEYS: entry 1: entry 'ci': 'god' is not a list of roles"],
    [
      { AUTH_JWT_ISSUER: 'https://issuer' },
      'AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE and AUTH_JWT_JWKS_URL go together',
    ],
    [
      { AUTH_JWT_ISSUER: 'i', AUTH_JWT_AUDIENCE: 'a', AUTH_JWT_JWKS_URL: 'http://keys.example.com/jwks' },
      'AUTH_JWT_JWKS_URL must be https',
    ],
    [{ TRUST_PROXY: 'everyone' }, 'TRUST_PROXY must be true, false'],
    [{ AUTH_DISABLED: 'maybe' }, 'AUTH_DISABLED'],
    [{ SESSION_SECRET: 'short' }, 'SESSION_SECRET'],
    [{ SESSION_HOURS: '0' }, 'SESSION_HOURS'],
    [{ SESSION_HOURS: '25' }, 'SESSION_HOURS'],
    [
      { AUTH_OIDC_CLIENT_ID: 'console', AUTH_OIDC_REDIRECT_URL: CALLBACK },
      'AUTH_OIDC_CLIENT_ID needs AUTH_JWT_ISSUER',
    ],
    [{ ...ENTRA, AUTH_OIDC_CLIENT_ID: 'console' }, 'AUTH_OIDC_CLIENT_ID needs AUTH_OIDC_REDIRECT_URL'],
    [
      {
        ...ENTRA,
        AUTH_OIDC_CLIENT_ID: 'console',
        AUTH_OIDC_REDIRECT_URL: 'https://billing.example.com/callback',
      },
      'AUTH_OIDC_REDIRECT_URL must end in /login/entra/callback',
    ],
    [
      {
        ...ENTRA,
        AUTH_OIDC_CLIENT_ID: 'console',
        AUTH_OIDC_REDIRECT_URL: 'http://billing.example.com/login/entra/callback',
      },
      'AUTH_OIDC_REDIRECT_URL must be https',
    ],
    [{ AUTH_OIDC_SCOPE: 'openid' }, 'AUTH_OIDC_SCOPE set without AUTH_OIDC_CLIENT_ID'],
  ])('refuses bad authentication settings: %o', (env, message) => {
    expect(problem(env)).toContain(message);
  });

  it('never shows API_KEYS, SESSION_SECRET or AUTH_OIDC_CLIENT_SECRET in its messages', () => {
    expect(problem({ API_KEYS: 'x'.repeat(40), BATCH_SIZE: 'lots' })).not.toContain('xxxx');
    expect(problem({ SESSION_SECRET: 'y'.repeat(12), BATCH_SIZE: 'lots' })).not.toContain('yyyy');
    const stray = problem({ AUTH_OIDC_CLIENT_SECRET: 'z'.repeat(30) });
    expect(stray).toContain('AUTH_OIDC_CLIENT_SECRET set without AUTH_OIDC_CLIENT_ID');
    expect(stray).not.toContain('zzzz');
  });

  it('reads the sign-in by redirect, asking Entra ID for the API by default', () => {
    const { redirectSignIn } = loadConfig({
      ...ENTRA,
      AUTH_OIDC_CLIENT_ID: 'console-app',
      AUTH_OIDC_CLIENT_SECRET: 'secret',
      AUTH_OIDC_REDIRECT_URL: CALLBACK,
    }).auth;
    expect(redirectSignIn).toEqual({
      issuer: ENTRA.AUTH_JWT_ISSUER,
      clientId: 'console-app',
      clientSecret: 'secret',
      redirectUrl: CALLBACK,
      scope: 'openid profile api://billing/.default',
      resource: undefined,
    });
  });

  it('reads the session settings the console signs in with', () => {
    const secret = 's'.repeat(40);
    expect(loadConfig({ SESSION_SECRET: secret, SESSION_HOURS: '2' }).auth.sessions).toEqual({
      secret,
      hours: 2,
    });
  });
});
