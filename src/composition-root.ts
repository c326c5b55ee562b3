import { join } from 'node:path';
import type { Logger } from 'pino';
import { FilesystemArchiveStore } from './adapters/filesystem/filesystem-archive-store.js';
import { SqliteArchiveIndex } from './adapters/sqlite/sqlite-archive-index.js';
import { SqliteFileLock } from './adapters/sqlite/sqlite-file-lock.js';
import { SqliteLiveStore } from './adapters/sqlite/sqlite-live-store.js';
import { SqliteRunLog } from './adapters/sqlite/sqlite-run-log.js';
import type { Config } from './config.js';
import type { ArchiveIndex } from './ports/archive-index.js';
import type { ArchiveStore } from './ports/archive-store.js';
import type { LiveStore } from './ports/live-store.js';
import type { Lock } from './ports/lock.js';
import type { RunLog } from './ports/run-log.js';
import { ArchiveReader } from './services/archive-reader.js';
import { Archiver } from './services/archiver.js';
import { systemClock, type Clock } from './services/clock.js';
import { RecordLayout } from './services/record-layout.js';
import { RecordService } from './services/record-service.js';
import { Restorer } from './services/restorer.js';
import { StatsService } from './services/stats-service.js';

export interface Adapters {
  live: LiveStore;
  index: ArchiveIndex;
  store: ArchiveStore;
  lock: Lock;
  runLog: RunLog;
}

/** The stores a readiness probe asks; the lock has nothing to ask until it is taken. */
export type StoreName = Exclude<keyof Adapters, 'lock'>;
export type Readiness = Record<StoreName, { ok: boolean; error?: string }>;

export interface Services {
  records: RecordService;
  archiver: Archiver;
  stats: StatsService;
  /** Asks every store to answer; says which one did not. */
  readiness(): Promise<{ ready: boolean; stores: Readiness }>;
  close(): Promise<void>;
}

/** The embedded stores: SQLite files and an archive directory under DATA_DIR. */
export function createEmbeddedAdapters(dataDir: string): Adapters {
  return {
    live: new SqliteLiveStore(join(dataDir, 'live.sqlite')),
    index: new SqliteArchiveIndex(join(dataDir, 'archive-index.sqlite')),
    store: new FilesystemArchiveStore(join(dataDir, 'archive')),
    lock: new SqliteFileLock(join(dataDir, 'locks')),
    runLog: new SqliteRunLog(join(dataDir, 'runs.sqlite')),
  };
}

/** The one place that turns configuration into adapters and services. */
export async function createServices(
  config: Config,
  logger: Logger,
  options: { clock?: Clock; adapters?: Adapters } = {},
): Promise<Services> {
  const adapters = options.adapters ?? createEmbeddedAdapters(config.dataDir);
  const clock = options.clock ?? systemClock;
  const opened: { close(): Promise<void> }[] = [];
  const { live, index, store, lock, runLog } = adapters;
  try {
    for (const adapter of [live, index, store, lock, runLog]) {
      await adapter.init();
      opened.push(adapter);
    }
  } catch (error) {
    await Promise.allSettled(opened.map((adapter) => adapter.close()));
    throw error;
  }
  const reader = new ArchiveReader(store);
  const restorer = new Restorer(live, index, reader, clock);
  const settings = { olderThanDays: config.archivalDaysThreshold, batchSize: config.batchSize };
  return {
    records: new RecordService(live, index, reader, restorer, clock),
    archiver: new Archiver({
      live,
      index,
      store,
      layout: new RecordLayout(store),
      lock,
      runLog,
      clock,
      logger,
      settings,
    }),
    stats: new StatsService(live, index, runLog, clock, {
      olderThanDays: config.archivalDaysThreshold,
      prices: config.prices,
    }),
    readiness: () => checkReadiness(adapters),
    close: async () => {
      await Promise.allSettled(opened.map((adapter) => adapter.close()));
    },
  };
}

async function checkReadiness(adapters: Adapters): Promise<{ ready: boolean; stores: Readiness }> {
  const probes: Record<StoreName, () => Promise<unknown>> = {
    live: () => adapters.live.summary(),
    index: () => adapters.index.summary(),
    store: () => adapters.store.ping(),
    runLog: () => adapters.runLog.totals(),
  };
  const names = Object.keys(probes) as StoreName[];
  const results = await Promise.allSettled(names.map((name) => probes[name]()));
  const stores = {} as Readiness;
  names.forEach((name, i) => {
    const result = results[i];
    stores[name] =
      result?.status === 'rejected'
        ? { ok: false, error: result.reason instanceof Error ? result.reason.message : String(result.reason) }
        : { ok: true };
  });
  return { ready: Object.values(stores).every((s) => s.ok), stores };
}
