import { resolve } from 'node:path';
import { Cron } from 'croner';
import { Type, type Static } from 'typebox';
import { parseApiKeyEntries, type ApiKeyEntry } from './auth/api-keys.js';
import type { TokenSettings } from './auth/token-verifier.js';
import type { OidcSignInSettings } from './auth/oidc-sign-in.js';
import { RECORD_STATUSES, type RecordStatus } from './domain/billing-record.js';
import type { PriceTable } from './domain/cost-model.js';
import { MAX_INDEX_SHARDS } from './domain/index-root.js';
import { MAX_OLDER_THAN_DAYS } from './domain/run-options.js';
import { createCoercingAjv } from './domain/schema-validator.js';
import { ACCESS_TIERS, type AccessTier } from './ports/archive-store.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const REHYDRATE_PRIORITIES = ['High', 'Standard'] as const;
const LAYOUTS = ['segment', 'record'] as const;
const MIB = 1024 * 1024;
/** Six-field cron (with seconds), as Azure Functions' timer trigger reads it too: midnight UTC. */
const DEFAULT_SCHEDULE = '0 0 0 * * *';

const optionalText = Type.Optional(Type.String({ minLength: 1 }));
const httpsUrl = Type.Optional(Type.String({ format: 'uri', pattern: '^https?://' }));

/** Every environment variable the service reads, with its default. */
const EnvSchema = Type.Object({
  DATA_DIR: optionalText,
  ARCHIVAL_DAYS_THRESHOLD: Type.Integer({ minimum: 0, maximum: MAX_OLDER_THAN_DAYS, default: 90 }),
  RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 36_500, default: 2555 }),
  BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
  ARCHIVAL_SLICES: Type.Integer({ minimum: 1, maximum: 1024, default: 1 }),
  ARCHIVAL_MAX_RU_PER_SECOND: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  ARCHIVAL_MAX_PAUSE_MINUTES: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60, default: 60 }),
  RESTORE_REHYDRATION_POLL_MINUTES: Type.Integer({ minimum: 1, maximum: 24 * 60, default: 10 }),
  RESTORE_MAX_WAIT_HOURS: Type.Integer({ minimum: 1, maximum: 30 * 24, default: 48 }),
  ARCHIVAL_SCHEDULE: Type.String({ default: DEFAULT_SCHEDULE }),
  // Comma-separated record statuses kept live however old (checked by readExcludedStatuses).
  ARCHIVAL_EXCLUDE_STATUSES: Type.String({ default: '' }),
  ARCHIVE_LAYOUT: Type.Union(
    LAYOUTS.map((layout) => Type.Literal(layout)),
    { default: 'segment' },
  ),
  // No default: each backend has its own (sqlite embedded, cosmos on Azure).
  ARCHIVE_INDEX: Type.Optional(
    Type.Union([Type.Literal('sqlite'), Type.Literal('cosmos'), Type.Literal('blob')]),
  ),
  ARCHIVE_INDEX_SHARDS: Type.Integer({ minimum: 1, maximum: MAX_INDEX_SHARDS, default: 16 }),
  ARCHIVE_INDEX_CACHE_MB: Type.Integer({ minimum: 1, maximum: 4096, default: 32 }),
  // Decompressed segment members kept for reads by id; 0: none (measured in bench/read-throughput.mjs).
  ARCHIVE_READ_CACHE_MB: Type.Integer({ minimum: 0, maximum: 4096, default: 32 }),
  // Defaults measured in bench/layouts.mjs; see BENCHMARKS.md.
  SEGMENT_MAX_RECORDS: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 50_000 }),
  SEGMENT_MAX_BYTES: Type.Integer({ minimum: 64 * 1024, maximum: 256 * MIB, default: 32 * MIB }),
  API_HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  API_PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 8000 }),
  LOG_LEVEL: Type.Union(
    LOG_LEVELS.map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  // List prices in USD for the cost model and `lifecycle simulate`; sources and dates in the README.
  PRICE_COSMOS_GB_MONTH: Type.Number({ minimum: 0, default: 0.25 }),
  PRICE_COSMOS_SERVERLESS_MILLION_RU: Type.Number({ minimum: 0, default: 0.25 }),
  PRICE_COSMOS_PROVISIONED_100_RU_S_HOUR: Type.Number({ minimum: 0, default: 0.008 }),
  PRICE_BLOB_HOT_GB_MONTH: Type.Number({ minimum: 0, default: 0.018 }),
  PRICE_BLOB_COOL_GB_MONTH: Type.Number({ minimum: 0, default: 0.01 }),
  PRICE_BLOB_COLD_GB_MONTH: Type.Number({ minimum: 0, default: 0.0036 }),
  PRICE_BLOB_ARCHIVE_GB_MONTH: Type.Number({ minimum: 0, default: 0.002 }),
  PRICE_BLOB_HOT_WRITE_10K: Type.Number({ minimum: 0, default: 0.055 }),
  PRICE_BLOB_COOL_WRITE_10K: Type.Number({ minimum: 0, default: 0.1 }),
  PRICE_BLOB_COLD_WRITE_10K: Type.Number({ minimum: 0, default: 0.18 }),
  PRICE_BLOB_ARCHIVE_WRITE_10K: Type.Number({ minimum: 0, default: 0.11 }),
  BLOB_MIN_BILLABLE_KIB: Type.Integer({ minimum: 0, maximum: 1024, default: 128 }),
  COSMOS_ENDPOINT: httpsUrl,
  COSMOS_KEY: optionalText,
  COSMOS_DATABASE: Type.String({ minLength: 1, maxLength: 255, default: 'billingdb' }),
  COSMOS_CONTAINER: Type.String({ minLength: 1, maxLength: 255, default: 'records' }),
  COSMOS_ARCHIVE_INDEX_CONTAINER: Type.String({ minLength: 1, maxLength: 255, default: 'archive_index' }),
  COSMOS_RUNS_CONTAINER: Type.String({ minLength: 1, maxLength: 255, default: 'archive_runs' }),
  COSMOS_LEGAL_HOLDS_CONTAINER: Type.String({ minLength: 1, maxLength: 255, default: 'legal_holds' }),
  COSMOS_RESTORE_JOBS_CONTAINER: Type.String({ minLength: 1, maxLength: 255, default: 'restore_jobs' }),
  COSMOS_PARTITION_KEY: Type.String({ pattern: '^/[A-Za-z0-9_]+$', default: '/id' }),
  BLOB_CONNECTION_STRING: optionalText,
  BLOB_ACCOUNT_URL: httpsUrl,
  BLOB_CONTAINER: Type.String({
    pattern: '^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$',
    default: 'billing-archive',
  }),
  BLOB_UPLOAD_TIER: Type.Union(
    ACCESS_TIERS.map((tier) => Type.Literal(tier)),
    { default: 'Cool' },
  ),
  AZURE_SUBSCRIPTION_ID: optionalText,
  AZURE_RESOURCE_GROUP: optionalText,
  AZURE_STORAGE_ACCOUNT: optionalText,
  AZURE_RESOURCE_MANAGER_ENDPOINT: Type.String({
    format: 'uri',
    pattern: '^https://',
    default: 'https://management.azure.com',
  }),
  API_KEYS: optionalText,
  AUTH_JWT_ISSUER: optionalText,
  AUTH_JWT_AUDIENCE: optionalText,
  AUTH_JWT_JWKS_URL: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://' })),
  AUTH_DISABLED: Type.Boolean({ default: false }),
  // The console's sign-in by redirect to the token issuer (Entra ID); needs the AUTH_JWT_* trio.
  AUTH_OIDC_CLIENT_ID: optionalText,
  AUTH_OIDC_CLIENT_SECRET: optionalText,
  AUTH_OIDC_REDIRECT_URL: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://' })),
  AUTH_OIDC_SCOPE: optionalText,
  AUTH_OIDC_RESOURCE: optionalText,
  // Signs browser sessions; servers behind one address share it. Unset: a random one per process.
  SESSION_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  SESSION_HOURS: Type.Integer({ minimum: 1, maximum: 24, default: 8 }),
  TRUST_PROXY: optionalText,
  AUDIT_BLOB_CONTAINER: Type.String({
    pattern: '^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$',
    default: 'billing-audit',
  }),
  RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 6000 }),
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 120 }),
  STATS_CACHE_SECONDS: Type.Integer({ minimum: 0, maximum: 3600, default: 10 }),
  COST_CACHE_SECONDS: Type.Integer({ minimum: 0, maximum: 86_400, default: 900 }),
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600_000, default: 30_000 }),
  HTTP_CONNECTION_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 600_000 }),
  BLOB_REHYDRATE_PRIORITY: Type.Union(
    REHYDRATE_PRIORITIES.map((priority) => Type.Literal(priority)),
    { default: 'Standard' },
  ),
});
type Env = Static<typeof EnvSchema>;

export type CosmosSettings = {
  endpoint: string;
  /** Undefined: authenticate with DefaultAzureCredential (managed identity). */
  key: string | undefined;
  database: string;
  container: string;
  archiveIndexContainer: string;
  runsContainer: string;
  legalHoldsContainer: string;
  restoreJobsContainer: string;
  partitionKeyPath: string;
};

export type BlobSettings = (
  { kind: 'connection-string'; connectionString: string } | { kind: 'account-url'; accountUrl: string }
) & {
  container: string;
  uploadTier: AccessTier;
  rehydratePriority: (typeof REHYDRATE_PRIORITIES)[number];
  /** The audit trail's container, beside the archive's in the same account. */
  auditContainer: string;
};

/** Who may call the API. With nothing configured the server decides at start (see `serve`). */
export interface AuthSettings {
  /** AUTH_DISABLED: every caller is let in with every role, on purpose, for a private network. */
  disabled: boolean;
  apiKeys: ApiKeyEntry[];
  /** Bearer JWTs (Microsoft Entra ID): all three of AUTH_JWT_ISSUER, _AUDIENCE and _JWKS_URL. */
  token: TokenSettings | undefined;
  /** Browser sessions (the console's sign-in): SESSION_SECRET and SESSION_HOURS. */
  sessions: { secret: string | undefined; hours: number };
  /** The console's sign-in by redirect (AUTH_OIDC_*), at the issuer of `token`. */
  redirectSignIn?: OidcSignInSettings | undefined;
}

/** The HTTP edge's limits against abuse. */
export interface HttpLimits {
  /** Requests per minute per identity; 0 turns the limit off. */
  perIdentityPerMinute: number;
  /** Requests per minute per client address that carry no valid credential; 0 turns it off. */
  anonymousPerMinute: number;
  statsCacheSeconds: number;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  /** Fastify's trustProxy: off, every hop, a hop count, or the proxies' addresses. */
  trustProxy: boolean | number | string;
}

/** Where everything lives: all on local disk, or all in Azure. Never a mix. */
export type Backend =
  | { kind: 'embedded'; dataDir: string; archiveIndex: ArchiveIndexSettings }
  | { kind: 'azure'; cosmos: CosmosSettings; blob: BlobSettings; archiveIndex: ArchiveIndexSettings };

/**
 * Where the archive index lives: beside the backend's other stores (a SQLite file, a Cosmos DB
 * container), or as files in the archive store itself (issue 15; see docs/ARCHITECTURE.md).
 */
export interface ArchiveIndexSettings {
  kind: 'native' | 'blob';
  /** The blob-native index's: read with either kind, since `index migrate` makes one beside the native. */
  shards: number;
  cacheBytes: number;
}

export interface Config {
  backend: Backend;
  auth: AuthSettings;
  http: HttpLimits;
  archivalDaysThreshold: number;
  /** Archived records created more than this many days ago are removed, unless under legal hold. */
  retentionDays: number;
  batchSize: number;
  /** How many slices parallel archival workers split the records into (`archive --slice K/N`). */
  archivalSlices: number;
  /** Request units a second an archival run may average on Cosmos DB; 0: no limit. */
  archivalMaxRequestUnitsPerSecond: number;
  /** How long an archival run stays paused before it ends, in milliseconds. */
  archivalMaxPauseMs: number;
  /** How often a restore job waiting for Archive-tier blobs looks at them, in milliseconds. */
  restoreRehydrationPollMs: number;
  /** How long a restore job waits for one blob to come back from the Archive tier, in milliseconds. */
  restoreMaxWaitMs: number;
  /** When the server runs archival by itself (six-field cron, UTC); undefined: never. */
  archivalSchedule: string | undefined;
  /** Statuses whose records stay live however old (ARCHIVAL_EXCLUDE_STATUSES); none by default. */
  archivalExcludedStatuses: readonly RecordStatus[];
  /** How archived records are laid out in blobs, and when a segment is sealed. */
  layout: {
    name: (typeof LAYOUTS)[number];
    maxRecords: number;
    maxBytes: number;
    /** Decompressed segment members kept for reads (ARCHIVE_READ_CACHE_MB), in bytes. */
    readCacheBytes: number;
  };
  /** Where `lifecycle deploy` applies the blob lifecycle policy; the ids are checked by that command. */
  lifecycle: {
    subscriptionId: string | undefined;
    resourceGroup: string | undefined;
    account: string | undefined;
    endpoint: string;
  };
  apiHost: string;
  apiPort: number;
  logLevel: (typeof LOG_LEVELS)[number];
  prices: PriceTable;
  /** BLOB_UPLOAD_TIER on either backend: the cost model prices new blobs in it. */
  blobUploadTier: AccessTier;
  /** How long one cost report is shared: it lists every archive blob. */
  costCacheSeconds: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const validateEnv = createCoercingAjv().compile<Env>(EnvSchema);

/** Reads and validates the configuration once; every bad variable is named in one message. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') values[key] = value;
  }
  const problems: string[] = [];
  if (!validateEnv(values)) {
    for (const error of validateEnv.errors ?? []) {
      const variable = error.instancePath.replace(/^\//, '') || 'environment';
      const shown = /KEY|SECRET|CONNECTION_STRING/.test(variable) ? '(hidden)' : `'${env[variable] ?? ''}'`;
      problems.push(`${variable} ${error.message ?? 'is invalid'} (got ${shown})`);
    }
    throw new ConfigError(`Invalid environment variables: ${[...new Set(problems)].join('; ')}`);
  }
  const schedule = env.ARCHIVAL_SCHEDULE === '' ? undefined : values.ARCHIVAL_SCHEDULE;
  if (typeof schedule === 'string') checkSchedule(schedule, problems);
  if (values.RETENTION_DAYS <= values.ARCHIVAL_DAYS_THRESHOLD) {
    problems.push(
      `RETENTION_DAYS (${values.RETENTION_DAYS}) must be more than ARCHIVAL_DAYS_THRESHOLD (${values.ARCHIVAL_DAYS_THRESHOLD}): records are kept at least until they are archived`,
    );
  }
  const excludedStatuses = readExcludedStatuses(values.ARCHIVAL_EXCLUDE_STATUSES, problems);
  const backend = chooseBackend(values, problems);
  const auth = readAuth(values, problems);
  const trustProxy = readTrustProxy(values.TRUST_PROXY, problems);
  if (!backend || !auth || problems.length > 0) {
    throw new ConfigError(`Invalid environment variables: ${problems.join('; ')}`);
  }
  const valid = values;
  return {
    backend,
    auth,
    http: {
      perIdentityPerMinute: valid.RATE_LIMIT_PER_MINUTE,
      anonymousPerMinute: valid.RATE_LIMIT_ANONYMOUS_PER_MINUTE,
      statsCacheSeconds: valid.STATS_CACHE_SECONDS,
      requestTimeoutMs: valid.HTTP_REQUEST_TIMEOUT_MS,
      connectionTimeoutMs: valid.HTTP_CONNECTION_TIMEOUT_MS,
      trustProxy,
    },
    archivalDaysThreshold: valid.ARCHIVAL_DAYS_THRESHOLD,
    retentionDays: valid.RETENTION_DAYS,
    batchSize: valid.BATCH_SIZE,
    archivalSlices: valid.ARCHIVAL_SLICES,
    archivalMaxRequestUnitsPerSecond: valid.ARCHIVAL_MAX_RU_PER_SECOND,
    archivalMaxPauseMs: valid.ARCHIVAL_MAX_PAUSE_MINUTES * 60_000,
    restoreRehydrationPollMs: valid.RESTORE_REHYDRATION_POLL_MINUTES * 60_000,
    restoreMaxWaitMs: valid.RESTORE_MAX_WAIT_HOURS * 60 * 60_000,
    archivalSchedule: schedule === undefined ? undefined : valid.ARCHIVAL_SCHEDULE,
    archivalExcludedStatuses: excludedStatuses,
    layout: {
      name: valid.ARCHIVE_LAYOUT,
      maxRecords: valid.SEGMENT_MAX_RECORDS,
      maxBytes: valid.SEGMENT_MAX_BYTES,
      readCacheBytes: valid.ARCHIVE_READ_CACHE_MB * MIB,
    },
    lifecycle: {
      subscriptionId: valid.AZURE_SUBSCRIPTION_ID,
      resourceGroup: valid.AZURE_RESOURCE_GROUP,
      account: valid.AZURE_STORAGE_ACCOUNT,
      endpoint: valid.AZURE_RESOURCE_MANAGER_ENDPOINT,
    },
    apiHost: valid.API_HOST,
    apiPort: valid.API_PORT,
    logLevel: valid.LOG_LEVEL,
    blobUploadTier: valid.BLOB_UPLOAD_TIER,
    costCacheSeconds: valid.COST_CACHE_SECONDS,
    prices: {
      cosmos: {
        storagePerGbMonth: valid.PRICE_COSMOS_GB_MONTH,
        serverlessPerMillionRu: valid.PRICE_COSMOS_SERVERLESS_MILLION_RU,
        provisionedPer100RuSecondHour: valid.PRICE_COSMOS_PROVISIONED_100_RU_S_HOUR,
      },
      blob: {
        storagePerGbMonth: {
          Hot: valid.PRICE_BLOB_HOT_GB_MONTH,
          Cool: valid.PRICE_BLOB_COOL_GB_MONTH,
          Cold: valid.PRICE_BLOB_COLD_GB_MONTH,
          Archive: valid.PRICE_BLOB_ARCHIVE_GB_MONTH,
        },
        writesPer10k: {
          Hot: valid.PRICE_BLOB_HOT_WRITE_10K,
          Cool: valid.PRICE_BLOB_COOL_WRITE_10K,
          Cold: valid.PRICE_BLOB_COLD_WRITE_10K,
          Archive: valid.PRICE_BLOB_ARCHIVE_WRITE_10K,
        },
        minBillableBytes: valid.BLOB_MIN_BILLABLE_KIB * 1024,
      },
    },
  };
}

/** Six fields (seconds first), which croner and Azure Functions' NCRONTAB both read the same way. */
function checkSchedule(schedule: string, problems: string[]): void {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 6) {
    problems.push(
      `ARCHIVAL_SCHEDULE must have six fields (second minute hour day month weekday), got ${fields.length} in '${schedule}'; set it empty to disable`,
    );
    return;
  }
  try {
    new Cron(schedule, { paused: true, timezone: 'UTC' }).stop();
  } catch (error) {
    problems.push(`ARCHIVAL_SCHEDULE '${schedule}' is not a valid cron pattern: ${(error as Error).message}`);
  }
}

/**
 * COSMOS_ENDPOINT selects Cosmos DB, BLOB_CONNECTION_STRING or BLOB_ACCOUNT_URL selects Blob
 * Storage; both or neither. A half-configured Azure backend is refused, never filled in with
 * local disk.
 */
function chooseBackend(env: Env, problems: string[]): Backend | undefined {
  const blobTarget =
    env.BLOB_CONNECTION_STRING !== undefined
      ? ({ kind: 'connection-string', connectionString: env.BLOB_CONNECTION_STRING } as const)
      : env.BLOB_ACCOUNT_URL !== undefined
        ? ({ kind: 'account-url', accountUrl: env.BLOB_ACCOUNT_URL } as const)
        : undefined;
  const blobVariable = blobTarget?.kind === 'account-url' ? 'BLOB_ACCOUNT_URL' : 'BLOB_CONNECTION_STRING';
  if (env.BLOB_CONNECTION_STRING !== undefined && env.BLOB_ACCOUNT_URL !== undefined) {
    problems.push('BLOB_CONNECTION_STRING and BLOB_ACCOUNT_URL are both set: set one of them');
  }
  if (env.COSMOS_ENDPOINT === undefined && env.COSMOS_KEY !== undefined) {
    problems.push('COSMOS_KEY is set without COSMOS_ENDPOINT');
  }
  if (env.COSMOS_ENDPOINT !== undefined && !blobTarget) {
    problems.push(
      'COSMOS_ENDPOINT is set but BLOB_CONNECTION_STRING and BLOB_ACCOUNT_URL are not: set both stores or neither',
    );
  }
  if (blobTarget && env.COSMOS_ENDPOINT === undefined) {
    problems.push(`${blobVariable} is set but COSMOS_ENDPOINT is not: set both stores or neither`);
  }
  if (env.COSMOS_ENDPOINT !== undefined && blobTarget && env.DATA_DIR !== undefined) {
    problems.push(
      'DATA_DIR is set, but with COSMOS_ENDPOINT the service keeps nothing on local disk: unset DATA_DIR',
    );
  }
  const azure = env.COSMOS_ENDPOINT !== undefined && blobTarget !== undefined;
  const archiveIndex = chooseArchiveIndex(env, azure, problems);
  if (problems.length > 0 || !archiveIndex) return undefined;
  if (env.COSMOS_ENDPOINT === undefined || !blobTarget)
    return { kind: 'embedded', dataDir: resolve(env.DATA_DIR ?? './data'), archiveIndex };
  return {
    kind: 'azure',
    archiveIndex,
    cosmos: {
      endpoint: env.COSMOS_ENDPOINT,
      key: env.COSMOS_KEY,
      database: env.COSMOS_DATABASE,
      container: env.COSMOS_CONTAINER,
      archiveIndexContainer: env.COSMOS_ARCHIVE_INDEX_CONTAINER,
      runsContainer: env.COSMOS_RUNS_CONTAINER,
      legalHoldsContainer: env.COSMOS_LEGAL_HOLDS_CONTAINER,
      restoreJobsContainer: env.COSMOS_RESTORE_JOBS_CONTAINER,
      partitionKeyPath: env.COSMOS_PARTITION_KEY,
    },
    blob: {
      ...blobTarget,
      container: env.BLOB_CONTAINER,
      uploadTier: env.BLOB_UPLOAD_TIER,
      rehydratePriority: env.BLOB_REHYDRATE_PRIORITY,
      auditContainer: env.AUDIT_BLOB_CONTAINER,
    },
  };
}

/** ARCHIVE_INDEX, checked against the backend: `sqlite` is the embedded one's, `cosmos` Azure's. */
function chooseArchiveIndex(env: Env, azure: boolean, problems: string[]): ArchiveIndexSettings | undefined {
  const kind = env.ARCHIVE_INDEX;
  const blob = { shards: env.ARCHIVE_INDEX_SHARDS, cacheBytes: env.ARCHIVE_INDEX_CACHE_MB * MIB };
  if (kind === 'blob') return { kind: 'blob', ...blob };
  if (kind === 'cosmos' && !azure) {
    problems.push(
      'ARCHIVE_INDEX=cosmos needs the Azure backend (COSMOS_ENDPOINT and a blob account): use sqlite or blob',
    );
    return undefined;
  }
  if (kind === 'sqlite' && azure) {
    problems.push(
      'ARCHIVE_INDEX=sqlite keeps the index on local disk, which the Azure backend never does: use cosmos or blob',
    );
    return undefined;
  }
  return { kind: 'native', ...blob };
}

function readAuth(env: Env, problems: string[]): AuthSettings | undefined {
  let apiKeys: ApiKeyEntry[];
  try {
    apiKeys = parseApiKeyEntries(env.API_KEYS ?? '');
  } catch (error) {
    problems.push(`API_KEYS: ${(error as Error).message}`);
    return undefined;
  }
  const { AUTH_JWT_ISSUER: issuer, AUTH_JWT_AUDIENCE: audience, AUTH_JWT_JWKS_URL: jwksUrl } = env;
  const given = [issuer, audience, jwksUrl].filter((value) => value !== undefined).length;
  if (given !== 0 && given !== 3) {
    problems.push(
      'AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE and AUTH_JWT_JWKS_URL go together: set all three or none',
    );
    return undefined;
  }
  if (jwksUrl !== undefined && jwksUrl.startsWith('http://') && !isLoopbackUrl(jwksUrl)) {
    problems.push(`AUTH_JWT_JWKS_URL must be https (plain http only on loopback), got '${jwksUrl}'`);
    return undefined;
  }
  const token = issuer && audience && jwksUrl ? { issuer, audience, jwksUrl } : undefined;
  const redirectSignIn = readRedirectSignIn(env, token, problems);
  if (redirectSignIn === null) return undefined;
  return {
    disabled: env.AUTH_DISABLED,
    apiKeys,
    token,
    sessions: { secret: env.SESSION_SECRET, hours: env.SESSION_HOURS },
    redirectSignIn,
  };
}

/** The path the server answers the provider's redirect on. */
export const SIGN_IN_CALLBACK_PATH = '/login/entra/callback';

/** AUTH_OIDC_*: undefined when not configured, null (with the problems said) when wrongly. */
function readRedirectSignIn(
  env: Env,
  token: TokenSettings | undefined,
  problems: string[],
): OidcSignInSettings | undefined | null {
  const { AUTH_OIDC_CLIENT_ID: clientId, AUTH_OIDC_REDIRECT_URL: redirectUrl } = env;
  const others = ['AUTH_OIDC_CLIENT_SECRET', 'AUTH_OIDC_SCOPE', 'AUTH_OIDC_RESOURCE'] as const;
  if (clientId === undefined) {
    const stray = [...others, 'AUTH_OIDC_REDIRECT_URL' as const].filter((name) => env[name] !== undefined);
    if (stray.length === 0) return undefined;
    problems.push(`${stray.join(', ')} set without AUTH_OIDC_CLIENT_ID: set it too, or none of them`);
    return null;
  }
  const before = problems.length;
  if (!token)
    problems.push(
      'AUTH_OIDC_CLIENT_ID needs AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE and AUTH_JWT_JWKS_URL: the sign-in ends in a token judged as a bearer token is',
    );
  if (redirectUrl === undefined)
    problems.push(
      `AUTH_OIDC_CLIENT_ID needs AUTH_OIDC_REDIRECT_URL: this server's public address followed by ${SIGN_IN_CALLBACK_PATH}`,
    );
  else {
    const url = new URL(redirectUrl);
    if (url.pathname !== SIGN_IN_CALLBACK_PATH || url.search !== '' || url.hash !== '')
      problems.push(
        `AUTH_OIDC_REDIRECT_URL must end in ${SIGN_IN_CALLBACK_PATH}, with no query, got '${redirectUrl}'`,
      );
    if (url.protocol === 'http:' && !isLoopbackUrl(redirectUrl))
      problems.push(
        `AUTH_OIDC_REDIRECT_URL must be https (plain http only on loopback), got '${redirectUrl}'`,
      );
  }
  if (token && token.issuer.startsWith('http://') && !isLoopbackUrl(token.issuer))
    problems.push(
      `AUTH_JWT_ISSUER must be https to sign in by redirect at it (plain http only on loopback), got '${token.issuer}'`,
    );
  if (problems.length > before || !token || redirectUrl === undefined) return null;
  return {
    issuer: token.issuer,
    clientId,
    clientSecret: env.AUTH_OIDC_CLIENT_SECRET,
    redirectUrl,
    // Entra ID names the API by a scope of the audience; `.default` asks for the roles it assigned.
    scope: env.AUTH_OIDC_SCOPE ?? `openid profile ${token.audience}/.default`,
    resource: env.AUTH_OIDC_RESOURCE,
  };
}

export function isLoopbackUrl(url: string): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
}

/** `true`/`false`, a hop count, or a comma-separated list of proxy addresses or CIDR ranges. */
function readTrustProxy(value: string | undefined, problems: string[]): boolean | number | string {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d{1,2}$/.test(value)) return Number(value);
  if (/^[0-9a-fA-F.:/]+(,\s*[0-9a-fA-F.:/]+)*$/.test(value)) return value;
  problems.push(
    `TRUST_PROXY must be true, false, a hop count or a comma-separated list of proxy addresses, got '${value}'`,
  );
  return false;
}

/** Where the stores are, for logs: never a key or connection string. */
export function describeBackend(config: Config): string {
  const { backend } = config;
  switch (backend.kind) {
    case 'embedded':
      return `embedded stores under ${backend.dataDir}`;
    case 'azure': {
      const account =
        backend.blob.kind === 'account-url'
          ? backend.blob.accountUrl
          : 'the account of BLOB_CONNECTION_STRING';
      return `Cosmos DB ${backend.cosmos.endpoint} database ${backend.cosmos.database}; Blob Storage ${account} container ${backend.blob.container}`;
    }
  }
}

/** ARCHIVAL_EXCLUDE_STATUSES as the statuses it names, each once; a problem per unknown one. */
function readExcludedStatuses(text: string, problems: string[]): RecordStatus[] {
  const named = [...new Set(text.split(',').map((part) => part.trim()))].filter((part) => part !== '');
  const known: RecordStatus[] = [];
  for (const status of named) {
    if ((RECORD_STATUSES as readonly string[]).includes(status)) known.push(status as RecordStatus);
    else
      problems.push(
        `ARCHIVAL_EXCLUDE_STATUSES names '${status}', which is no record status (${RECORD_STATUSES.join(', ')})`,
      );
  }
  return known;
}
