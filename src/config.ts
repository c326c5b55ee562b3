import { resolve } from 'node:path';
import { Type, type Static } from 'typebox';
import { createCoercingAjv } from './domain/schema-validator.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every environment variable the service reads, with its default. */
const EnvSchema = Type.Object({
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  ARCHIVAL_DAYS_THRESHOLD: Type.Integer({ minimum: 0, maximum: 36_500, default: 90 }),
  BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
  API_HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  API_PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 8000 }),
  LOG_LEVEL: Type.Union(
    LOG_LEVELS.map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  PRICE_COSMOS_GB_MONTH: Type.Number({ minimum: 0, default: 0.25 }),
  PRICE_BLOB_GB_MONTH: Type.Number({ minimum: 0, default: 0.01 }),
});
type Env = Static<typeof EnvSchema>;

/** Variables of the Azure backends, which this build cannot use yet: refused, never ignored. */
const AZURE_VARIABLES = [
  'COSMOS_ENDPOINT',
  'COSMOS_KEY',
  'BLOB_CONNECTION_STRING',
  'BLOB_ACCOUNT_URL',
] as const;

export interface Config {
  dataDir: string;
  archivalDaysThreshold: number;
  batchSize: number;
  apiHost: string;
  apiPort: number;
  logLevel: (typeof LOG_LEVELS)[number];
  prices: { cosmosPerGbMonth: number; blobPerGbMonth: number };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const validateEnv = createCoercingAjv().compile<Env>(EnvSchema);

/** Reads and validates the configuration once; every bad variable is named in one message. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') values[key] = value;
  }
  for (const key of AZURE_VARIABLES) {
    if (env[key]) {
      problems.push(
        `${key} is set, but this build runs on the embedded stores only (Azure backends come later)`,
      );
    }
  }
  if (!validateEnv(values)) {
    for (const error of validateEnv.errors ?? []) {
      const variable = error.instancePath.replace(/^\//, '') || 'environment';
      problems.push(`${variable} ${error.message ?? 'is invalid'} (got '${env[variable] ?? ''}')`);
    }
  }
  if (problems.length > 0)
    throw new ConfigError(`Invalid environment variables: ${[...new Set(problems)].join('; ')}`);
  const valid = values as Env;
  return {
    dataDir: resolve(valid.DATA_DIR),
    archivalDaysThreshold: valid.ARCHIVAL_DAYS_THRESHOLD,
    batchSize: valid.BATCH_SIZE,
    apiHost: valid.API_HOST,
    apiPort: valid.API_PORT,
    logLevel: valid.LOG_LEVEL,
    prices: { cosmosPerGbMonth: valid.PRICE_COSMOS_GB_MONTH, blobPerGbMonth: valid.PRICE_BLOB_GB_MONTH },
  };
}
