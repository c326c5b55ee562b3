import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import {
  createEmbeddedAdapters,
  createServices,
  type Adapters,
  type Services,
} from '../../src/composition-root.js';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import type { Clock } from '../../src/services/clock.js';
import { tempDir } from './temp-dir.js';

export const silentLogger = pino({ level: 'silent' });

export interface Harness {
  config: Config;
  adapters: Adapters;
  services: Services;
  app: FastifyInstance;
  dataDir: string;
  /** Closes the app and stores; the data directory stays until `destroy`. */
  close(): Promise<void>;
  destroy(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  clock?: Clock;
  /** Wraps the embedded adapters, e.g. to inject faults. */
  wrap?: (adapters: Adapters) => Adapters;
  dataDir?: string;
}

/** The real app over the embedded stores in a temp DATA_DIR, driven through app.inject. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = options.dataDir === undefined ? await tempDir() : undefined;
  const dataDir = options.dataDir ?? dir?.path ?? '';
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...options.env });
  const embedded = createEmbeddedAdapters(config.dataDir);
  const adapters = options.wrap ? options.wrap(embedded) : embedded;
  const services = await createServices(config, silentLogger, {
    adapters,
    ...(options.clock && { clock: options.clock }),
  });
  const app = await buildApp(services, silentLogger);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await app.close();
    await services.close();
  };
  return {
    config,
    adapters,
    services,
    app,
    dataDir,
    close,
    destroy: async () => {
      await close();
      await dir?.remove();
    },
  };
}

/** A valid record body; `overrides` replace or add fields. */
export function recordBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { customer_id: 'cust-1', amount: 129.9, currency: 'EUR', status: 'pending', ...overrides };
}

export function daysAgo(days: number, from = new Date()): string {
  return new Date(from.getTime() - days * 24 * 60 * 60 * 1000).toISOString();
}
