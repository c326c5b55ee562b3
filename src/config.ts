import { resolve } from 'node:path';
import { Cron } from 'croner';
import { Type, type Static } from 'typebox';
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
  ARCHIVAL_DAYS_THRESHOLD: Type.Integer({ minimum: 0, maximum: 36_500, default: 90 }),
  RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 36_500, default: 2555 }),
  BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
  ARCHIVAL_SLICES: Type.Integer({ minimum: 1, maximum: 1024, default: 1 }),
  ARCHIVAL_SCHEDULE: Type.String({ default: DEFAULT_SCHEDULE }),
  ARCHIVE_LAYOUT: Type.Union(
    LAYOUTS.map((layout) => Type.Literal(layout)),
    { default: 'segment' },
  ),
  // Defaults measured in bench/layouts.mjs; see BENCHMARKS.md.
  SEGMENT_MAX_RECORDS: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 50_000 }),
  SEGMENT_MAX_BYTES: Type.Integer({ minimum: 64 * 1024, maximum: 256 * MIB, default: 32 * MIB }),
  API_HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  API_PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 8000 }),
  LOG_LEVEL: Type.Union(
    LOG_LEVELS.map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  PRICE_COSMOS_GB_MONTH: Type.Number({ minimum: 0, default: 0.25 }),
  PRICE_BLOB_GB_MONTH: Type.Number({ minimum: 0, default: 0.01 }),
  // Blob capacity list prices per tier (LRS, first 50 TB, USD per GB-month), for `lifecycle simulate`.
  PRICE_BLOB_HOT_GB_MONTH: Type.Number({ minimum: 0, default: 0.018 }),
  PRICE_BLOB_COOL_GB_MONTH: Type.Number({ minimum: 0, default: 0.01 }),
  PRICE_BLOB_COLD_GB_MONTH: Type.Number({ minimum: 0, default: 0.0036 }),
  PRICE_BLOB_ARCHIVE_GB_MONTH: Type.Number({ minimum: 0, default: 0.002 }),
  COSMOS_ENDPOINT: httpsUrl,
  COSMOS_KEY: optionalText,
  COSMOS_DATABASE: Type.String({ minLength: 1, maxLength: 255, default: 'billingdb' }),
  COSMOS_CONTAINER: Type.String({ minLength: 1, maxLength: 255, default: 'records' }),
  COSMOS_ARCHIVE_INDEX_CONTAINER: Type.String({ minLength: 1, maxLength: 255, default: 'archive_index' }),
  COSMOS_RUNS_CONTAINER: Type.String({ minLength: 1, maxLength: 255, default: 'archive_runs' }),
  COSMOS_LEGAL_HOLDS_CONTAINER: Type.String({ minLength: 1, maxLength: 255, default: 'legal_holds' }),
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
  partitionKeyPath: string;
};

export type BlobSettings = (
  { kind: 'connection-string'; connectionString: string } | { kind: 'account-url'; accountUrl: string }
) & {
  container: string;
  uploadTier: AccessTier;
  rehydratePriority: (typeof REHYDRATE_PRIORITIES)[number];
};

/** Where everything lives: all on local disk, or all in Azure. Never a mix. */
export type Backend =
  { kind: 'embedded'; dataDir: string } | { kind: 'azure'; cosmos: CosmosSettings; blob: BlobSettings };

export interface Config {
  backend: Backend;
  archivalDaysThreshold: number;
  /** Archived records created more than this many days ago are removed, unless under legal hold. */
  retentionDays: number;
  batchSize: number;
  /** How many slices parallel archival workers split the records into (`archive --slice K/N`). */
  archivalSlices: number;
  /** When the server runs archival by itself (six-field cron, UTC); undefined: never. */
  archivalSchedule: string | undefined;
  /** How archived records are laid out in blobs, and when a segment is sealed. */
  layout: { name: (typeof LAYOUTS)[number]; maxRecords: number; maxBytes: number };
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
  prices: { cosmosPerGbMonth: number; blobPerGbMonth: number };
  /** Blob capacity price per tier, USD per GB-month. */
  blobTierPrices: Record<AccessTier, number>;
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
      const shown = /KEY|CONNECTION_STRING/.test(variable) ? '(hidden)' : `'${env[variable] ?? ''}'`;
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
  const backend = chooseBackend(values, problems);
  if (!backend || problems.length > 0) {
    throw new ConfigError(`Invalid environment variables: ${problems.join('; ')}`);
  }
  const valid = values;
  return {
    backend,
    archivalDaysThreshold: valid.ARCHIVAL_DAYS_THRESHOLD,
    retentionDays: valid.RETENTION_DAYS,
    batchSize: valid.BATCH_SIZE,
    archivalSlices: valid.ARCHIVAL_SLICES,
    archivalSchedule: schedule === undefined ? undefined : valid.ARCHIVAL_SCHEDULE,
    layout: {
      name: valid.ARCHIVE_LAYOUT,
      maxRecords: valid.SEGMENT_MAX_RECORDS,
      maxBytes: valid.SEGMENT_MAX_BYTES,
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
    prices: { cosmosPerGbMonth: valid.PRICE_COSMOS_GB_MONTH, blobPerGbMonth: valid.PRICE_BLOB_GB_MONTH },
    blobTierPrices: {
      Hot: valid.PRICE_BLOB_HOT_GB_MONTH,
      Cool: valid.PRICE_BLOB_COOL_GB_MONTH,
      Cold: valid.PRICE_BLOB_COLD_GB_MONTH,
      Archive: valid.PRICE_BLOB_ARCHIVE_GB_MONTH,
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
  if (problems.length > 0) return undefined;
  if (env.COSMOS_ENDPOINT === undefined || !blobTarget)
    return { kind: 'embedded', dataDir: resolve(env.DATA_DIR ?? './data') };
  return {
    kind: 'azure',
    cosmos: {
      endpoint: env.COSMOS_ENDPOINT,
      key: env.COSMOS_KEY,
      database: env.COSMOS_DATABASE,
      container: env.COSMOS_CONTAINER,
      archiveIndexContainer: env.COSMOS_ARCHIVE_INDEX_CONTAINER,
      runsContainer: env.COSMOS_RUNS_CONTAINER,
      legalHoldsContainer: env.COSMOS_LEGAL_HOLDS_CONTAINER,
      partitionKeyPath: env.COSMOS_PARTITION_KEY,
    },
    blob: {
      ...blobTarget,
      container: env.BLOB_CONTAINER,
      uploadTier: env.BLOB_UPLOAD_TIER,
      rehydratePriority: env.BLOB_REHYDRATE_PRIORITY,
    },
  };
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
