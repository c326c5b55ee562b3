import type { Agent } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AppendBlobAuditTrail } from './adapters/azure-blob/append-blob-audit-trail.js';
import { BlobArchiveStore } from './adapters/azure-blob/blob-archive-store.js';
import { createContainerClient, isLoopbackAccount } from './adapters/azure-blob/blob-container.js';
import { BlobLeaseLock } from './adapters/azure-blob/blob-lease-lock.js';
import { BlobArchiveIndex } from './adapters/blob-index/blob-archive-index.js';
import { CosmosArchiveIndex } from './adapters/cosmos/cosmos-archive-index.js';
import { createCosmosClient } from './adapters/cosmos/cosmos-client.js';
import { CosmosDeletionNotes } from './adapters/cosmos/cosmos-deletion-notes.js';
import { CosmosGarbageQueue } from './adapters/cosmos/cosmos-garbage-queue.js';
import { CosmosLegalHolds } from './adapters/cosmos/cosmos-legal-holds.js';
import { CosmosRestoreJobs } from './adapters/cosmos/cosmos-restore-jobs.js';
import { CosmosLiveStore } from './adapters/cosmos/cosmos-live-store.js';
import { CosmosRunLog } from './adapters/cosmos/cosmos-run-log.js';
import { FilesystemArchiveStore } from './adapters/filesystem/filesystem-archive-store.js';
import { FilesystemAuditTrail } from './adapters/filesystem/filesystem-audit-trail.js';
import { SqliteArchiveIndex } from './adapters/sqlite/sqlite-archive-index.js';
import { SqliteDeletionNotes } from './adapters/sqlite/sqlite-deletion-notes.js';
import { SqliteGarbageQueue } from './adapters/sqlite/sqlite-garbage-queue.js';
import { SqliteFileLock } from './adapters/sqlite/sqlite-file-lock.js';
import { SqliteLegalHolds } from './adapters/sqlite/sqlite-legal-holds.js';
import { SqliteRestoreJobs } from './adapters/sqlite/sqlite-restore-jobs.js';
import { SqliteLiveStore } from './adapters/sqlite/sqlite-live-store.js';
import { SqliteRunLog } from './adapters/sqlite/sqlite-run-log.js';
import { ConfigError, type Backend, type Config } from './config.js';
import {
  loadLifecyclePolicy,
  POLICY_FILE_CONTAINER,
  type LifecyclePolicy,
} from './lifecycle/lifecycle-policy.js';
import { simulateLifecycle, type SimulationReport } from './lifecycle/lifecycle-simulator.js';
import type { ArchiveIndex } from './ports/archive-index.js';
import type { AuditTrail } from './ports/audit-trail.js';
import type { ArchiveStore } from './ports/archive-store.js';
import type { DeletionNotes } from './ports/deletion-notes.js';
import type { GarbageQueue } from './ports/garbage-queue.js';
import type { LegalHolds } from './ports/legal-holds.js';
import type { RestoreJobs } from './ports/restore-jobs.js';
import type { LiveStore } from './ports/live-store.js';
import type { Lock } from './ports/lock.js';
import type { RunLog } from './ports/run-log.js';
import { ArchiveReader } from './services/archive-reader.js';
import { Archiver } from './services/archiver.js';
import { AuditLog } from './services/audit-log.js';
import { systemClock, systemSleep, type Clock, type Sleep } from './services/clock.js';
import { ValidationError } from './domain/errors.js';
import { MigrationGate } from './services/migration-gate.js';
import { RetiredIndexGuard } from './services/retired-index-guard.js';
import { IndexMigration, type MigrationOptions, type MigrationReport } from './services/index-migration.js';
import { GarbageNotingIndex } from './services/garbage-noting-index.js';
import { HeldCopies } from './services/held-copies.js';
import { Layouts } from './services/layouts/layouts.js';
import { RecordLayout } from './services/layouts/record-layout.js';
import { RetentionSweep } from './services/retention-sweep.js';
import { Compactor } from './services/compactor.js';
import { RecordListing } from './services/record-listing.js';
import { RecordHistory } from './services/record-history.js';
import { RecordService } from './services/record-service.js';
import { SegmentLayout } from './services/layouts/segment-layout.js';
import { deletedDuringRunChecks } from './services/deleted-during-run.js';
import { Restorer } from './services/restorer.js';
import { BulkRestore } from './services/bulk-restore.js';
import { CostService } from './services/cost-service.js';
import { StatsService } from './services/stats-service.js';
import { Verifier } from './services/verifier.js';
import { MeteredArchiveStore } from './services/metered-archive-store.js';
import { UsageTally } from './services/usage-tally.js';

export interface Adapters {
  live: LiveStore;
  index: ArchiveIndex;
  garbage: GarbageQueue;
  deletions: DeletionNotes;
  store: ArchiveStore;
  lock: Lock;
  runLog: RunLog;
  holds: LegalHolds;
  restoreJobs: RestoreJobs;
  audit: AuditTrail;
}

/**
 * The stores a readiness probe asks; the lock has nothing to ask until it is taken, and the garbage
 * queue and deletion notes live beside the index (same SQLite file, same Cosmos DB container).
 */
export type StoreName = Exclude<keyof Adapters, 'lock' | 'garbage' | 'deletions'>;
export type Readiness = Record<StoreName, { ok: boolean; error?: string }>;

export interface Services {
  records: RecordService;
  /** A record's history (its times, archival, holds, audit entries) and the holds in force, for the console. */
  history: RecordHistory;
  /** Bulk restore jobs: a query's or a list's archived records made live, surviving restarts. */
  bulkRestore: BulkRestore;
  /** Live and archived records listed together, in creation order. */
  listing: RecordListing;
  archiver: Archiver;
  stats: StatsService;
  /** What is stored costs a month, what archiving saves, and what moving records costs. */
  cost: CostService;
  verifier: Verifier;
  compactor: Compactor;
  audit: AuditLog;
  /** Every Cosmos DB request and archive store operation this process made, and what each run made. */
  usage: UsageTally;
  /**
   * Applies a lifecycle policy to the archive as if days passed (`lifecycle simulate`); undefined
   * when the archive store has no access tiers to simulate (the embedded archive directory).
   */
  simulateLifecycle:
    | ((options: { policy: LifecyclePolicy; days: number; dryRun: boolean }) => Promise<SimulationReport>)
    | undefined;
  /**
   * `index migrate`: a sync pass (ARCHIVE_INDEX still the backend's own) or a finish pass
   * (ARCHIVE_INDEX=blob) between the two indexes; see IndexMigration.
   */
  migrateIndex: (options: MigrationOptions) => Promise<MigrationReport>;
  /** Asks every store to answer; says which one did not. */
  readiness(): Promise<{ ready: boolean; stores: Readiness }>;
  close(): Promise<void>;
}

/** The backend's own index kind, and a maker of the index kind not configured (unopened). */
export interface IndexKinds {
  nativeKind: 'sqlite' | 'cosmos';
  other: () => ArchiveIndex;
}

/** The adapters of one backend, the tally their requests are counted in, and what releases the clients they share. */
export interface BackendAdapters {
  adapters: Adapters;
  indexes: IndexKinds;
  usage: UsageTally;
  release(): Promise<void>;
}

/**
 * The adapters for the configured backend: SQLite files and an archive directory under DATA_DIR,
 * or Cosmos DB and Blob Storage. `cosmosAgent` is for tests only; operators trust a certificate
 * through NODE_EXTRA_CA_CERTS. `clock` is the services' (a blob-native index dates its roots by it).
 */
export function createAdapters(
  backend: Backend,
  options: { cosmosAgent?: Agent; logger?: Logger; clock?: Clock } = {},
): BackendAdapters {
  const usage = new UsageTally();
  /** The blob-native index over the backend's archive store. */
  const blobIndex = (store: ArchiveStore): ArchiveIndex =>
    // Metered, so the index's own blob operations count in usage and the cost model.
    new BlobArchiveIndex(new MeteredArchiveStore(store, usage), {
      shards: backend.archiveIndex.shards,
      cacheBytes: backend.archiveIndex.cacheBytes,
      onMaintenanceError: (error, what) =>
        options.logger?.warn({ err: error }, `archive index: ${what} failed; left for later`),
      ...(options.clock && { now: options.clock }),
    });
  /** The configured index, and the kind not configured for `index migrate` to open when asked. */
  const indexes = (
    nativeKind: IndexKinds['nativeKind'],
    native: () => ArchiveIndex,
    store: ArchiveStore,
  ): { index: ArchiveIndex; kinds: IndexKinds } => {
    const configured = backend.archiveIndex.kind;
    return {
      index: configured === 'native' ? native() : blobIndex(store),
      kinds: { nativeKind, other: configured === 'native' ? () => blobIndex(store) : native },
    };
  };
  switch (backend.kind) {
    case 'embedded': {
      const { dataDir } = backend;
      const store = new FilesystemArchiveStore(join(dataDir, 'archive'));
      const { index, kinds } = indexes(
        'sqlite',
        () => new SqliteArchiveIndex(join(dataDir, 'archive-index.sqlite')),
        store,
      );
      return {
        indexes: kinds,
        adapters: {
          live: new SqliteLiveStore(join(dataDir, 'live.sqlite')),
          index,
          garbage: new SqliteGarbageQueue(join(dataDir, 'archive-index.sqlite')),
          deletions: new SqliteDeletionNotes(join(dataDir, 'archive-index.sqlite')),
          store,
          lock: new SqliteFileLock(join(dataDir, 'locks')),
          runLog: new SqliteRunLog(join(dataDir, 'runs.sqlite')),
          holds: new SqliteLegalHolds(join(dataDir, 'legal-holds.sqlite')),
          restoreJobs: new SqliteRestoreJobs(join(dataDir, 'restore-jobs.sqlite')),
          audit: new FilesystemAuditTrail(join(dataDir, 'audit')),
        },
        usage,
        release: () => Promise.resolve(),
      };
    }
    case 'azure': {
      const { cosmos, blob } = backend;
      const client = createCosmosClient(
        {
          endpoint: cosmos.endpoint,
          key: cosmos.key,
          database: cosmos.database,
          agent: options.cosmosAgent,
        },
        usage,
      );
      const containerNamed = (name: string) =>
        blob.kind === 'connection-string'
          ? createContainerClient({
              kind: 'connection-string',
              connectionString: blob.connectionString,
              container: name,
            })
          : createContainerClient({ kind: 'account-url', accountUrl: blob.accountUrl, container: name });
      const container = containerNamed(blob.container);
      const indexContainer = { database: cosmos.database, container: cosmos.archiveIndexContainer };
      const store = new BlobArchiveStore(container, {
        uploadTier: blob.uploadTier,
        rehydratePriority: blob.rehydratePriority,
      });
      const { index, kinds } = indexes('cosmos', () => new CosmosArchiveIndex(client, indexContainer), store);
      return {
        indexes: kinds,
        adapters: {
          live: new CosmosLiveStore(client, {
            database: cosmos.database,
            container: cosmos.container,
            partitionKeyPath: cosmos.partitionKeyPath,
          }),
          index,
          garbage: new CosmosGarbageQueue(client, indexContainer),
          deletions: new CosmosDeletionNotes(client, indexContainer),
          store,
          lock: new BlobLeaseLock(container),
          runLog: new CosmosRunLog(client, { database: cosmos.database, container: cosmos.runsContainer }),
          holds: new CosmosLegalHolds(client, {
            database: cosmos.database,
            container: cosmos.legalHoldsContainer,
          }),
          restoreJobs: new CosmosRestoreJobs(client, {
            database: cosmos.database,
            container: cosmos.restoreJobsContainer,
          }),
          audit: new AppendBlobAuditTrail(containerNamed(blob.auditContainer)),
        },
        usage,
        release: () => {
          client.dispose();
          return Promise.resolve();
        },
      };
    }
  }
}

/** The index, opened; closed again when opening fails part way. */
async function openedIndex(index: ArchiveIndex): Promise<ArchiveIndex> {
  try {
    await index.init();
  } catch (error) {
    await index.close().catch(() => undefined);
    throw error;
  }
  return index;
}

/** Whether the backend's archive lives on this machine (a directory, or Azurite on loopback). */
export function isLocalArchive(backend: Backend): boolean {
  return backend.kind === 'embedded' || isLoopbackAccount({ ...backend.blob });
}

/** The one place that turns configuration into adapters and services. */
export async function createServices(
  config: Config,
  logger: Logger,
  options: {
    clock?: Clock;
    sleep?: Sleep;
    backend?: BackendAdapters;
  } = {},
): Promise<Services> {
  const clock = options.clock ?? systemClock;
  const backend = options.backend ?? createAdapters(config.backend, { logger, clock });
  const { adapters } = backend;
  const opened: { close(): Promise<void> }[] = [];
  const { live, lock, runLog, holds, garbage, deletions, audit: auditTrail } = adapters;
  try {
    // The store before the index: a blob-native index reads its root from the store when it opens.
    for (const adapter of [
      live,
      adapters.store,
      adapters.index,
      garbage,
      deletions,
      lock,
      runLog,
      holds,
      adapters.restoreJobs,
      auditTrail,
    ]) {
      await adapter.init();
      opened.push(adapter);
    }
  } catch (error) {
    await Promise.allSettled(opened.map((adapter) => adapter.close()));
    await backend.release();
    throw error;
  }
  const { usage } = backend;
  const store = new MeteredArchiveStore(adapters.store, usage);
  const audit = new AuditLog(auditTrail, clock, logger);
  const onBlob = config.backend.archiveIndex.kind === 'blob';
  const gateOn = (over: ArchiveStore) =>
    new MigrationGate(over, {
      onBlob,
      nativeKind: backend.indexes.nativeKind,
      openNative: () => openedIndex(backend.indexes.other()),
    });
  const migrationGate = gateOn(store);
  // Asked every few seconds whatever the process does: not metered, so a run's usage stays its own.
  const retirement = gateOn(adapters.store);
  const servedIndex = new RetiredIndexGuard(
    adapters.index,
    () => retirement.retiredBecause(),
    () => clock().getTime(),
  );
  const index = new GarbageNotingIndex(servedIndex, garbage, logger);
  try {
    const wrong = await migrationGate.wrongIndexKind();
    if (wrong) throw new ConfigError(wrong);
  } catch (error) {
    await Promise.allSettled(opened.map((adapter) => adapter.close()));
    await backend.release();
    throw error;
  }
  const layouts = new Layouts(
    new RecordLayout(store),
    new SegmentLayout(
      store,
      { maxRecords: config.layout.maxRecords, maxBytes: config.layout.maxBytes },
      { bytes: config.layout.readCacheBytes },
    ),
    config.layout.name,
  );
  const { tiers } = store;
  const reader = new ArchiveReader(layouts);
  const deletedWhileArchiving = deletedDuringRunChecks(deletions, runLog);
  const restorer = new Restorer(live, index, reader, clock, deletedWhileArchiving.one, deletions);
  const policyContainer =
    config.backend.kind === 'azure' ? config.backend.blob.container : POLICY_FILE_CONTAINER;
  const cost = new CostService(
    { live, index, store, layouts, runLog, clock },
    {
      prices: config.prices,
      uploadTier: config.blobUploadTier,
      billsRequestUnits: config.backend.kind === 'azure',
      indexStore: onBlob ? 'Blob Storage' : config.backend.kind === 'azure' ? 'Cosmos DB' : 'SQLite',
      container: policyContainer,
      policy: () => loadLifecyclePolicy(),
      maxAgeMs: config.costCacheSeconds * 1000,
    },
  );
  const settings = {
    olderThanDays: config.archivalDaysThreshold,
    batchSize: config.batchSize,
    slices: config.archivalSlices,
    maxRequestUnitsPerSecond: config.archivalMaxRequestUnitsPerSecond,
    excludedStatuses: config.archivalExcludedStatuses,
    maxPauseMs: config.archivalMaxPauseMs,
  };
  const records = new RecordService(
    live,
    index,
    reader,
    restorer,
    holds,
    deletions,
    clock,
    deletedWhileArchiving.one,
  );
  return {
    records,
    history: new RecordHistory(live, index, holds, audit),
    bulkRestore: new BulkRestore({
      live,
      index,
      store,
      reader,
      restorer,
      deletions,
      deletedAmong: deletedWhileArchiving.among,
      jobs: adapters.restoreJobs,
      audit,
      clock,
      sleep: options.sleep ?? systemSleep,
      logger,
      timing: { rehydrationPollMs: config.restoreRehydrationPollMs, maxWaitMs: config.restoreMaxWaitMs },
    }),
    listing: new RecordListing({
      live,
      index,
      reader,
      tiers,
      deletedDuringRuns: deletedWhileArchiving.among,
      logger,
    }),
    archiver: new Archiver({
      live,
      index,
      garbage,
      deletions,
      layouts,
      lock,
      runLog,
      reader,
      retention: new RetentionSweep({
        index,
        live,
        deletions,
        garbage,
        holds,
        clock,
        logger,
        retentionDays: config.retentionDays,
      }),
      heldCopies: new HeldCopies({
        index,
        layout: layouts.record,
        reader,
        holds,
        clock,
        logger,
      }),
      audit,
      usage,
      clock,
      sleep: options.sleep,
      logger,
      settings,
      migrationGate,
    }),
    compactor: new Compactor({
      index,
      layout: layouts.segment,
      lock,
      clock,
      logger,
      slices: config.archivalSlices,
      migrationGate,
    }),
    verifier: new Verifier({
      live,
      index,
      garbage,
      deletions,
      layouts,
      reader,
      lock,
      runLog,
      clock,
      logger,
      slices: config.archivalSlices,
      migrationGate,
    }),
    audit,
    usage,
    stats: new StatsService(live, index, runLog, clock, cost, {
      olderThanDays: config.archivalDaysThreshold,
    }),
    cost,
    simulateLifecycle:
      tiers &&
      (({ policy, ...options }) =>
        simulateLifecycle(
          {
            store,
            tiers,
            policy,
            container: policyContainer,
            prices: config.prices.blob,
            clock,
          },
          options,
        )),
    migrateIndex: async (migration) => {
      if (onBlob && migration.pass !== 'finish')
        throw new ValidationError(
          migration.pass === 'sync'
            ? 'this process reads ARCHIVE_INDEX=blob already, so a sync pass would undo what it withdrew: run `index migrate --finish`'
            : `an abandon pass runs on the old index, which the archive goes back to: set ARCHIVE_INDEX=${backend.indexes.nativeKind} first`,
        );
      if (!onBlob && migration.pass === 'finish')
        throw new ValidationError(
          'a finish pass runs once every process reads the blob index: set ARCHIVE_INDEX=blob first',
        );
      const other = await openedIndex(backend.indexes.other());
      try {
        return await new IndexMigration({
          source: onBlob ? other : adapters.index,
          sourceKind: backend.indexes.nativeKind,
          target: onBlob ? adapters.index : other,
          store,
          live,
          deletions,
          lock,
          slices: config.archivalSlices,
          clock,
          sleep: options.sleep,
          logger,
        }).migrate(migration);
      } finally {
        await other.close();
      }
    },
    readiness: () => checkReadiness({ ...adapters, index: servedIndex }),
    close: async () => {
      await Promise.allSettled(opened.map((adapter) => adapter.close()));
      await backend.release();
    },
  };
}

async function checkReadiness(adapters: Adapters): Promise<{ ready: boolean; stores: Readiness }> {
  const probes: Record<StoreName, () => Promise<unknown>> = {
    live: () => adapters.live.ping(),
    index: () => adapters.index.ping(),
    store: () => adapters.store.ping(),
    runLog: () => adapters.runLog.ping(),
    holds: () => adapters.holds.ping(),
    restoreJobs: () => adapters.restoreJobs.ping(),
    audit: () => adapters.audit.ping(),
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
