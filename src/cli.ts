#!/usr/bin/env node
import type { CostReport } from './domain/cost-model.js';
import { hostname, userInfo } from 'node:os';
import { text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { apiKeyEntry, createApiKey } from './auth/api-keys.js';
import { parseRoles } from './auth/roles.js';
import { createServices, isLocalArchive, type Services } from './composition-root.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { DomainError, StoreUnavailableError, ValidationError } from './domain/errors.js';
import { ERROR_CODES, EXIT } from './error-codes.js';
import { addExamplesAndExitCodes } from './cli/help.js';
import { CommandOutput } from './cli/output.js';
import { progress, type Progress } from './cli/progress.js';
import { doctorReport, doctorSummary } from './cli/doctor.js';
import { parseSlice, type Slice } from './domain/slices.js';
import { createLogger } from './logger.js';
import type { AuditLog } from './services/audit-log.js';
import { sampleRecord } from './services/sample-records.js';
import type { VerifyReport } from './services/verifier.js';
import type { CompactReport } from './services/compactor.js';
import {
  loadLifecyclePolicy,
  POLICY_FILE_CONTAINER,
  policyForContainer,
  retentionProblems,
  type LifecyclePolicy,
} from './lifecycle/lifecycle-policy.js';
import type { SimulationReport } from './lifecycle/lifecycle-simulator.js';
import { HELD_PREFIX } from './services/layouts/record-layout.js';
import { RECORD_STATUSES } from './domain/billing-record.js';
import type { RestoreJob } from './ports/restore-jobs.js';
import type { RunRecord } from './ports/run-log.js';

const HOUR_MS = 60 * 60 * 1000;

function wholeNumber(min: number, expected = `expected a whole number ≥ ${min}`) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(expected);
    }
    return n;
  };
}

/** A run option's number; which ones a run takes is the Archiver's to say, in the API's words. */
const runOptionNumber = wholeNumber(0, 'expected a whole number');

function share(value: string): number {
  const n = Number(value);
  if (!/^(0|1)?(\.\d+)?$/.test(value) || !(n > 0 && n <= 1))
    throw new InvalidArgumentError('expected a share above 0 and at most 1, e.g. 0.5');
  return n;
}

/** Runs a change this CLI makes and writes its audit entry, however the change ends. */
async function audited<T>(
  audit: AuditLog,
  facts: { action: string; record_id?: string; run_id?: string },
  change: () => Promise<T>,
  describe?: (result: T) => string,
): Promise<T> {
  const who = { actor: cliActor(), ...facts };
  let result: T;
  try {
    result = await change();
  } catch (error) {
    const refused = error instanceof DomainError && !(error instanceof StoreUnavailableError);
    await audit.record({
      ...who,
      outcome: refused ? 'refused' : 'failed',
      detail:
        error instanceof DomainError ? `${error.code}: ${error.message}` : 'failed with an unexpected error',
    });
    throw error;
  }
  await audit.record({ ...who, outcome: 'succeeded', detail: describe?.(result) });
  return result;
}

/** Who the audit trail names for what this CLI changes: the operating-system user on this host. */
function cliActor(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = `uid ${process.getuid?.() ?? 'unknown'}`;
  }
  return `cli:${user}@${hostname()}`;
}

function roleList(value: string): string {
  try {
    parseRoles(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

function isoTime(value: string): string {
  const time = new Date(value);
  // A time without its zone would be read in this machine's.
  if (!/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:\d{2})$/i.test(value) || Number.isNaN(time.getTime()))
    throw new InvalidArgumentError('expected an RFC 3339 time with its zone, e.g. 2026-11-01T00:00:00Z');
  return time.toISOString();
}

/** A day (midnight UTC) or an RFC 3339 time, as the restore job's bounds. */
function dayOrTime(value: string): string {
  return isoTime(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
}

/** A restore job's progress: the records it dealt with of those it found so far. */
function restoreProgress(): { show: (job: RestoreJob) => void; stop: () => void } {
  const bar = progress('restore');
  return {
    show(job) {
      const c = job.counts;
      const waiting =
        job.status === 'waiting'
          ? `waiting for ${job.waiting.length} blobs to rehydrate (next look ${job.next_check_at ?? 'now'})`
          : `${job.status}, pass ${job.pass}`;
      // A list's total is known from the start; a query's is not until its last page.
      bar.update(
        c.restored + c.already_live + c.failed + c.not_found,
        job.ids?.length,
        `${waiting}, ${c.restored} restored, ${c.already_live} already live, ${c.rehydrating} rehydrating, ${c.failed} failed, ${c.not_found} not found`,
      );
    },
    stop: () => {
      bar.stop();
    },
  };
}

/** One progress display per part of a command, each ended when the next begins. */
function progressByPart(label: string): {
  show: (part: string, done: number, total: number | undefined) => void;
  stop: () => void;
} {
  let current: { part: string; bar: Progress } | undefined;
  return {
    show(part, done, total) {
      if (current?.part !== part) {
        current?.bar.stop();
        current = { part, bar: progress(`${label}: ${part}`) };
      }
      current.bar.update(done, total);
    },
    stop() {
      current?.bar.stop();
    },
  };
}

/** An archival run in a line: what it did, and how fast. */
function runSummary(run: RunRecord): string {
  const rate = run.duration_ms > 0 ? (run.archived / (run.duration_ms / 1000)).toFixed(1) : '0';
  const moved = run.dry_run
    ? `would archive ${run.eligible}`
    : `archived ${run.archived} of ${run.eligible} eligible`;
  const extra = run.dry_run
    ? ''
    : `, ${run.expired} expired, ${run.garbage_collected} garbage blobs collected`;
  const errors = run.errors.length > 0 ? `\n  ${run.errors.join('\n  ')}` : '';
  return `run ${run.run_id} ${run.status}: ${moved}, ${run.skipped} skipped, ${run.failed} failed${extra}, in ${(run.duration_ms / 1000).toFixed(1)} s (${rate} records/s)${errors}`;
}

/**
 * Waits for a run started here, showing its progress: the history is saved after each durable
 * step, so the figures are what a crash would leave. The total is unknown until the last page.
 */
async function followRun(
  archiver: Services['archiver'],
  runId: string,
  done: Promise<RunRecord>,
): Promise<RunRecord> {
  const bar = progress('archive');
  const ended = done.then(
    () => true,
    () => true,
  );
  try {
    for (;;) {
      // Unreferenced: a finished run does not wait out the last second.
      if (await Promise.race([ended, sleep(1_000, false, { ref: false })])) break;
      const run = await archiver.run(runId);
      if (run)
        bar.update(
          run.dry_run ? run.eligible : run.archived,
          undefined,
          `${run.eligible} eligible so far in ${run.batches} batches, ${run.failed} failed`,
        );
    }
    const run = await done;
    bar.update(
      run.dry_run ? run.eligible : run.archived,
      undefined,
      `${run.status} in ${run.batches} batches`,
    );
    return run;
  } finally {
    bar.stop();
  }
}

/** Standard output as the command line asked: JSON with --json, else text for a person. */
function output(): CommandOutput {
  return new CommandOutput(program.opts<{ json?: boolean }>().json === true);
}

/** Builds the services for one command, runs it and closes them whatever happens. */
async function withServices(action: (services: Services, config: Config) => Promise<number>): Promise<void> {
  const config = loadConfig(process.env);
  const services = await createServices(config, createLogger(config, 'stderr'));
  try {
    process.exitCode = await action(services, config);
  } finally {
    await services.close();
  }
}

const program = new Command('billing-archive')
  .description('Billing records in Cosmos DB and Blob Storage (or the embedded stores), one API')
  .showHelpAfterError()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) })
  .option('--json', 'print the result as JSON, for scripts (default: text for a person)')
  .exitOverride();

program
  .command('serve')
  .description('run the HTTP API (API_HOST, API_PORT)')
  .action(async () => {
    const config = loadConfig(process.env);
    // Loaded on demand: the other commands start faster without the HTTP stack.
    const { serve } = await import('./http/serve.js');
    await serve(config, createLogger(config, 'stdout'));
  });

const archive = program
  .command('archive')
  .description('run one archival run now and print its summary')
  .option('--dry-run', 'count what would be archived; change nothing', false)
  .addOption(
    new Option('--older-than <days>', 'archive records untouched for more than DAYS days').argParser(
      runOptionNumber,
    ),
  )
  .addOption(new Option('--limit <n>', 'archive at most N records').argParser(runOptionNumber))
  .option(
    '--keep-live',
    'copy and index the records but leave them live; a later run finishes the move',
    false,
  )
  .addOption(
    new Option(
      '--slice <K/N>',
      'archive only slice K of N (N = ARCHIVAL_SLICES), beside workers on the others',
    ).argParser((text) => {
      try {
        return parseSlice(text);
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message);
      }
    }),
  )
  .action(
    async (options: {
      dryRun: boolean;
      olderThan?: number;
      limit?: number;
      slice?: Slice;
      keepLive: boolean;
    }) => {
      await withServices(async ({ archiver }) => {
        const { run: started, done } = await archiver.start({
          dryRun: options.dryRun,
          olderThanDays: options.olderThan,
          limit: options.limit,
          keepLive: options.keepLive,
          slice: options.slice,
          startedBy: { actor: cliActor() },
        });
        const run = await followRun(archiver, started.run_id, done);
        output().result(run, runSummary(run));
        return run.status === 'succeeded' ? EXIT.ok : EXIT.failed;
      });
    },
  );

for (const [action, paused] of [
  ['pause', true],
  ['resume', false],
] as const)
  archive
    .command(action)
    .description(
      paused
        ? 'ask a running run (in any process) to pause between batches; it keeps its lock'
        : 'ask a paused run to go on',
    )
    .argument('<run-id>', 'the run, as its summary and GET /archive/runs name it')
    .action(async (runId: string) => {
      await withServices(async ({ archiver, audit }) => {
        const asked = await audited(audit, { action: `archive.run.${action}`, run_id: runId }, () =>
          archiver.askToPause(runId, paused, cliActor()),
        );
        output().result({ run_id: runId, paused: asked.paused, requested_at: asked.at });
        return EXIT.ok;
      });
    });

program
  .command('restore')
  .description(
    'move an archived record back to the live store and print it; or, with --customer, --from, --to or --status, every archived record they match, as a restore job shown with its progress',
  )
  .argument('[id]', 'record id')
  .option('--customer <id>', 'records of this customer')
  .addOption(
    new Option('--from <date>', 'records created from this date or time, inclusive (2025-01-01)').argParser(
      dayOrTime,
    ),
  )
  .addOption(
    new Option('--to <date>', 'records created before this date or time, exclusive (2025-04-01)').argParser(
      dayOrTime,
    ),
  )
  .addOption(new Option('--status <status>', 'records with this status').choices(RECORD_STATUSES))
  .option('--dry-run', 'count what would be restored; change nothing', false)
  .action(
    async (
      id: string | undefined,
      options: { customer?: string; from?: string; to?: string; status?: string; dryRun: boolean },
    ) => {
      const query = {
        customer_id: options.customer,
        created_from: options.from,
        created_to: options.to,
        status: options.status,
      };
      const filtered = Object.values(query).some((value) => value !== undefined);
      if (id !== undefined && (filtered || options.dryRun))
        throw new ValidationError('give a record id, or --customer, --from, --to and --status: not both');
      if (id === undefined && !filtered)
        throw new ValidationError(
          'give a record id, or at least one of --customer, --from, --to and --status',
        );
      await withServices(async ({ records, bulkRestore, audit }) => {
        if (id !== undefined) {
          output().result(
            (await audited(audit, { action: 'record.restore', record_id: id }, () => records.restore(id)))
              .doc,
          );
          return EXIT.ok;
        }
        const stored = await bulkRestore.create({ query, dryRun: options.dryRun, by: cliActor() });
        const { job_id: jobId } = stored.job;
        process.stderr.write(
          `restore job ${jobId}: Ctrl-C hands it to a running server, which goes on with it (GET /restore/jobs/${jobId})\n`,
        );
        // Ctrl-C stops before the next page and hands the job back, for a server to take at once.
        const handBack = (): void => {
          void bulkRestore.stop();
        };
        process.once('SIGINT', handBack);
        let job: RestoreJob;
        const shown = restoreProgress();
        try {
          job = await bulkRestore.runHere(stored, shown.show);
        } finally {
          shown.stop();
          process.off('SIGINT', handBack);
        }
        output().result(job);
        if (job.status === 'running' || job.status === 'waiting')
          process.stderr.write(`restore job ${jobId} is not finished here: a running server takes it over\n`);
        return job.status === 'succeeded' && job.counts.failed === 0 ? EXIT.ok : EXIT.failed;
      });
    },
  );

const keys = program
  .command('keys')
  .description('API keys: the server keeps only their SHA-256, configured in API_KEYS');

keys
  .command('create')
  .description('make a new key; print it once with the API_KEYS entry that accepts it; store nothing')
  .requiredOption('--name <name>', 'who holds the key, as the audit trail will name them')
  .requiredOption(
    '--role <roles>',
    'reader, writer, operator or admin, joined by + with legal to place and lift legal holds (e.g. reader+legal)',
    roleList,
  )
  .action((options: { name: string; role: string }) => {
    const key = createApiKey();
    output().result({
      name: options.name,
      roles: options.role,
      key,
      api_keys_entry: apiKeyEntry(options.name, options.role, key),
    });
    process.stderr.write(
      'The key is shown this once: hand it to its holder and add api_keys_entry to API_KEYS (comma-separated).\n',
    );
  });

keys
  .command('hash')
  .description('read an existing key on standard input and print its API_KEYS entry')
  .requiredOption('--name <name>', 'who holds the key')
  .requiredOption('--role <roles>', 'its roles, e.g. reader or operator+legal', roleList)
  .action(async (options: { name: string; role: string }) => {
    // From standard input, so the key never lands in shell history or a process listing.
    const key = (await text(process.stdin)).trim();
    if (key === '') throw new ConfigError('keys hash reads the key on standard input, and got nothing');
    output().result({ api_keys_entry: apiKeyEntry(options.name, options.role, key) });
  });

program
  .command('audit')
  .description('print the audit trail, oldest first: who changed what, when, and how it ended')
  .option('--record-id <id>', 'only entries about this record')
  .option('--actor <actor>', 'only entries by this key name, token oid, or cli:user@host')
  .addOption(new Option('--from <time>', 'from this time, inclusive (RFC 3339)').argParser(isoTime))
  .addOption(new Option('--to <time>', 'until this time, exclusive (RFC 3339)').argParser(isoTime))
  .addOption(new Option('--limit <n>', 'at most N entries').argParser(wholeNumber(1)).default(1000))
  .option('--cursor <cursor>', 'continue where a page ended (its next_cursor)')
  .action(
    async (options: {
      recordId?: string;
      actor?: string;
      from?: string;
      to?: string;
      limit: number;
      cursor?: string;
    }) => {
      await withServices(async ({ audit }) => {
        const page = await audit.query({
          recordId: options.recordId,
          actor: options.actor,
          from: options.from,
          to: options.to,
          limit: options.limit,
          cursor: options.cursor,
        });
        output().result({ items: page.items, next_cursor: page.nextCursor ?? null });
        return EXIT.ok;
      });
    },
  );

program
  .command('verify')
  .description('check every index entry, segment and manifest; exit 1 when a record is missing or corrupt')
  .option(
    '--repair',
    'rebuild missing index entries from manifests; remove orphans past the grace period',
    false,
  )
  .addOption(
    new Option('--grace-hours <hours>', 'leave orphans younger than this alone')
      .argParser(wholeNumber(0))
      .default(24),
  )
  .addOption(
    new Option(
      '--rebuild-index',
      'with ARCHIVE_INDEX=blob: empty the index and build it again whole from manifests and record blobs (implies --repair; archived records answer 503 until it ends)',
    )
      .default(false)
      .implies({ repair: true }),
  )
  .action(async (options: { repair: boolean; graceHours: number; rebuildIndex: boolean }) => {
    await withServices(async ({ verifier, audit }) => {
      const shown = progressByPart('verify');
      const verify = () =>
        verifier.verify({
          repair: options.repair,
          graceMs: options.graceHours * HOUR_MS,
          rebuildIndex: options.rebuildIndex,
          onProgress: shown.show,
          startedBy: cliActor(),
        });
      let report: VerifyReport;
      try {
        report = options.repair
          ? await audited(audit, { action: 'archive.repair' }, verify, ({ repaired }) =>
              repairSummary(repaired),
            )
          : await verify();
      } finally {
        shown.stop();
      }
      output().result(report, verifySummary(report, options.repair));
      return report.ok ? EXIT.ok : EXIT.failed;
    });
  });

program
  .command('compact')
  .description('rewrite segments whose share of dead records passes a threshold')
  .addOption(
    new Option(
      '--min-dead-share <share>',
      'rewrite segments at least this share of which is dead (0 < share ≤ 1)',
    )
      .argParser(share)
      .default(0.5),
  )
  .option('--dry-run', 'say what would be rewritten; change nothing', false)
  .action(async (options: { minDeadShare: number; dryRun: boolean }) => {
    await withServices(async ({ compactor, audit }) => {
      const bar = progress('compact: segments examined');
      const compact = () =>
        compactor.compact({
          minDeadShare: options.minDeadShare,
          dryRun: options.dryRun,
          onProgress: (so) => {
            bar.update(so.segments_examined, undefined, `${so.segments_compacted} to rewrite`);
          },
        });
      let report: CompactReport;
      try {
        report = options.dryRun
          ? await compact()
          : await audited(audit, { action: 'archive.compact' }, compact);
      } finally {
        bar.stop();
      }
      output().result(report);
      return EXIT.ok;
    });
  });

const index = program.command('index').description('the archive index');

index
  .command('migrate')
  .description(
    "copy the backend's own archive index (Cosmos DB or SQLite) into ARCHIVE_INDEX=blob, resumably: sync passes before the switch, then one --finish pass after it, or --abandon instead (docs/OPERATIONS.md)",
  )
  .option(
    '--finish',
    'after every process reads ARCHIVE_INDEX=blob: take over what processes still on the old index changed since the last sync',
    false,
  )
  .addOption(
    new Option(
      '--abandon',
      'before any finish, on the old index: give it back what processes on the blob index withdrew, remove the blob index, and end the migration',
    )
      .default(false)
      .conflicts('finish'),
  )
  .option('--restart', 'start the pass from the first id instead of resuming an unfinished one', false)
  .addOption(
    new Option('--page-size <entries>', 'entries read and written at a time')
      .argParser(wholeNumber(1, 'expected a whole number ≥ 1'))
      .default(1000),
  )
  .action(async (options: { finish: boolean; abandon: boolean; restart: boolean; pageSize: number }) => {
    await withServices(async ({ migrateIndex, audit }) => {
      const pass = options.finish ? 'finish' : options.abandon ? 'abandon' : 'sync';
      const report = await audited(
        audit,
        { action: 'index.migrate' },
        () => migrateIndex({ pass, restart: options.restart, pageSize: options.pageSize }),
        ({ tally }) =>
          `${pass} pass: ${tally.examined} examined, ${tally.copied} copied, ${tally.withdrawn} withdrawn, ${tally.kept} kept`,
      );
      const { tally, counts } = report;
      const changes = `${tally.copied} copied, ${tally.withdrawn} withdrawn, ${tally.kept} left as they were`;
      if (pass === 'abandon') {
        output().result(
          report,
          `index migrate: abandoned (${tally.withdrawn} withdrawn from the old index as processes on the blob index had, ${tally.removed ?? 0} blob index files removed); the old index is the archive index again, and archival resumes`,
        );
        return EXIT.ok;
      }
      if (pass === 'finish') {
        output().result(
          report,
          `index migrate: finished (${changes}); the blob index is the archive index now`,
        );
        return EXIT.ok;
      }
      // In step only when a whole pass found nothing to change: counts alone miss moved entries.
      const inStep = report.counts_match && tally.copied + tally.withdrawn === 0;
      output().result(
        report,
        inStep
          ? `index migrate: in step (${counts.target.count} entries): switch every process to ARCHIVE_INDEX=blob, then run \`index migrate --finish\``
          : `index migrate: not yet in step (source ${counts.source.count} entries, blob index ${counts.target.count}; this pass ${changes}): run it again`,
      );
      return inStep ? EXIT.ok : EXIT.failed;
    });
  });

const lifecycle = program.command('lifecycle').description("the archive container's blob lifecycle policy");

lifecycle
  .command('deploy')
  .description(
    'apply infra/blob-lifecycle-policy.json to AZURE_STORAGE_ACCOUNT with DefaultAzureCredential; idempotent',
  )
  .option('--dry-run', 'print the request a deploy would send; send nothing', false)
  .action(async (options: { dryRun: boolean }) => {
    const config = loadConfig(process.env);
    const { policy, problems } = await policyFor(config);
    if (problems.length > 0)
      throw new ConfigError(`the lifecycle policy disagrees with retention: ${problems.join('; ')}`);
    const { subscriptionId, resourceGroup, account, endpoint } = config.lifecycle;
    const missing = Object.entries({
      AZURE_SUBSCRIPTION_ID: subscriptionId,
      AZURE_RESOURCE_GROUP: resourceGroup,
      AZURE_STORAGE_ACCOUNT: account,
    }).filter(([, value]) => value === undefined);
    if (!subscriptionId || !resourceGroup || !account) {
      throw new ConfigError(`lifecycle deploy needs ${missing.map(([name]) => name).join(', ')}`);
    }
    const target = { subscriptionId, resourceGroup, account, endpoint };
    // Loaded on demand: the management SDK is large and no other command needs it.
    const { deployLifecyclePolicy, deployRequest } = await import('./lifecycle/lifecycle-deploy.js');
    if (options.dryRun) {
      output().result(deployRequest(target, policy));
      return;
    }
    const { DefaultAzureCredential } = await import('@azure/identity');
    const { changed } = await deployLifecyclePolicy(target, policy, new DefaultAzureCredential());
    output().result({ account, changed, rules: policy.rules.map((rule) => rule.name) });
  });

lifecycle
  .command('simulate')
  .description(
    'apply the lifecycle policy to this archive as if DAYS days passed (Azurite, or Azure with --dry-run): move tiers, delete expired blobs, price before and after',
  )
  .requiredOption('--days <days>', 'how many days to pass', wholeNumber(0))
  .option(
    '--dry-run',
    'print what would move and the cost; change nothing (allowed on a cloud account)',
    false,
  )
  .action(async (options: { days: number; dryRun: boolean }) => {
    const config = loadConfig(process.env);
    const { backend } = config;
    if (!options.dryRun && !isLocalArchive(backend)) {
      throw new ConfigError(
        'lifecycle simulate changes tiers and deletes blobs: it runs on a local Azurite only; add --dry-run to forecast a cloud account',
      );
    }
    const { policy, problems } = await policyFor(config);
    for (const problem of problems) process.stderr.write(`warning: ${problem}\n`);
    await withServices(async (services) => {
      const { simulateLifecycle } = services;
      if (!simulateLifecycle)
        throw new ConfigError(
          'lifecycle simulate needs an archive store with access tiers (Azure Blob Storage, or a local Azurite); the embedded archive directory has none',
        );
      const simulate = () => simulateLifecycle({ policy, days: options.days, dryRun: options.dryRun });
      const report = options.dryRun
        ? await simulate()
        : await audited(
            services.audit,
            { action: 'lifecycle.simulate' },
            simulate,
            (done) => `${options.days} days applied: ${done.deleted.blobs} blobs deleted`,
          );
      output().result(report, simulationSummary(report));
      return EXIT.ok;
    });
  });

/** The policy file, its prefixes moved to the configured container, and where it disagrees with retention. */
async function policyFor(config: Config): Promise<{ policy: LifecyclePolicy; problems: string[] }> {
  const container = config.backend.kind === 'azure' ? config.backend.blob.container : POLICY_FILE_CONTAINER;
  const policy = policyForContainer(await loadLifecyclePolicy(), container);
  return {
    policy,
    problems: retentionProblems(policy, { retentionDays: config.retentionDays, heldPrefix: HELD_PREFIX }),
  };
}

/** Cents for real archives, significant digits for the tiny ones a trial run makes. */
/** Dollars to the cent, or to three significant digits below a cent (a small archive costs fractions of one). */
function usd(value: number): string {
  const size = Math.abs(value);
  return size >= 0.01 || size === 0 ? value.toFixed(2) : value.toPrecision(3);
}

function simulationSummary(report: SimulationReport): string {
  const { before, after, saving_usd_per_month: saving } = report.monthly_cost;
  const lines = [
    `${report.dry_run ? 'would apply' : 'applied'} the lifecycle policy as of ${report.as_of} (${report.days} days on) to ${report.blobs} blobs:`,
    ...report.moved.map((move) => `  ${move.from} → ${move.to}: ${move.blobs} blobs, ${move.bytes} bytes`),
    `  deleted: ${report.deleted.blobs} blobs, ${report.deleted.bytes} bytes`,
    `monthly storage: $${usd(before.usd_per_month)} before, $${usd(after.usd_per_month)} after (saves $${usd(saving)})`,
  ];
  return lines.join('\n');
}

program
  .command('cost')
  .description(
    'print what the live records and the archive cost a month, what archiving saves, and what moving records costs',
  )
  .option('--next-run', 'make a dry run first, and price what the next run would move', false)
  .action(async (options: { nextRun: boolean }) => {
    await withServices(async ({ archiver, cost }) => {
      if (options.nextRun) {
        const dry = await archiver.runOnce({ dryRun: true, startedBy: { actor: cliActor() } });
        if (dry.status !== 'succeeded') {
          output().result(dry, runSummary(dry));
          return EXIT.failed;
        }
      }
      const report = await cost.report({ fresh: true });
      output().result(report, costSummary(report));
      return EXIT.ok;
    });
  });

function costSummary(report: CostReport): string {
  const { moving, saving_usd_per_month: saving, archived_cost_share_of_live: share } = report;
  const months = (value: number | null): string => (value === null ? 'never' : `${value.toFixed(1)} months`);
  const lines = [
    `as of ${report.as_of}:`,
    `live: ${report.live.records} records, $${usd(report.live.usd_per_month)} a month`,
    `archive: ${report.archive.records} records, $${usd(report.archive.usd_per_month)} a month (blobs $${usd(report.archive.blobs.usd_per_month)}, index $${usd(report.archive.index.usd_per_month)})`,
    `left live they would cost $${usd(report.if_left_live.usd_per_month)} a month: archiving ${saving >= 0 ? `saves $${usd(saving)}` : `costs $${usd(-saving)} more`}${share === null ? '' : `; an archived record costs ${(share * 100).toFixed(1)}% of a live one`}`,
  ];
  if (moving.usd === null)
    lines.push(
      `moving: ${moving.records} records in ${moving.runs} runs; request units are priced on Azure only`,
    );
  else if (moving.runs === 0) lines.push('moving: no archival run counted yet');
  else
    lines.push(
      `moving: ${moving.records} records in ${moving.runs} runs cost $${usd(moving.usd.serverless)} serverless (pays back in ${months(moving.payback_months.serverless)}), $${usd(moving.usd.provisioned)} provisioned (${months(moving.payback_months.provisioned)})`,
    );
  const next = report.next_run;
  if (next)
    lines.push(
      `next run (dry run ${next.run_id}): ${next.records} records${next.usd === null ? '' : `, about $${usd(next.usd.serverless)} serverless, $${usd(next.usd.provisioned)} provisioned`}`,
    );
  return lines.join('\n');
}

program
  .command('stats')
  .description('print counts, run history and what the archive costs and saves')
  .action(async () => {
    await withServices(async ({ stats }) => {
      output().result(await stats.stats());
      return EXIT.ok;
    });
  });

program
  .command('seed')
  .description('create realistic sample records for trying the service out')
  .requiredOption('--count <n>', 'how many records', wholeNumber(1))
  .requiredOption('--age-days <days>', 'how many days ago they were created', wholeNumber(0))
  .action(async (options: { count: number; ageDays: number }) => {
    await withServices(async ({ records, audit }) => {
      const now = new Date();
      await audited(
        audit,
        { action: 'record.seed' },
        async () => {
          const bar = progress('seed');
          try {
            for (let i = 0; i < options.count; i++) {
              await records.create(sampleRecord(i, now, options.ageDays));
              bar.update(i + 1, options.count);
            }
          } finally {
            bar.stop();
          }
        },
        () => `${options.count} sample records created ${options.ageDays} days old`,
      );
      output().result({ created: options.count, age_days: options.ageDays });
      return EXIT.ok;
    });
  });

program
  .command('doctor')
  .description(
    'check the configuration, reach every store, and report versions, the lock holder, the last run and what to fix',
  )
  .action(async () => {
    const config = loadConfig(process.env);
    const { problems } = await policyFor(config);
    const report = async (opened: Services | Error): Promise<number> => {
      const found = await doctorReport(opened, config, problems);
      output().result(found, doctorSummary(found));
      return found.ok ? EXIT.ok : EXIT.failed;
    };
    let services: Services;
    try {
      services = await createServices(config, createLogger(config, 'stderr'));
    } catch (error) {
      // A store that cannot even be opened is what doctor is for: report it with everything else.
      process.exitCode = await report(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    try {
      process.exitCode = await report(services);
    } finally {
      await services.close();
    }
  });

addExamplesAndExitCodes(program);

function repairSummary(repaired: VerifyReport['repaired']): string {
  const roots =
    repaired.index_roots_pruned > 0 ? `, ${repaired.index_roots_pruned} old index roots pruned` : '';
  const counts = repaired.index_counts_recounted ? ', index counts recounted' : '';
  const emptied =
    repaired.index_files_discarded > 0
      ? `, index emptied of ${repaired.index_files_discarded} files first`
      : '';
  const rebuilt = repaired.index_rebuild_finished ? ', index rebuild finished' : '';
  return `${repaired.entries_rebuilt} entries rebuilt${emptied}${rebuilt}, ${repaired.orphans_removed} orphans removed${roots}${counts}`;
}

/** How many findings of each kind the summary names; the report lists up to 50. */
const SHOWN_FINDINGS = 10;

/** What the report means, and what to do about it, in a few lines. */
function verifySummary(report: VerifyReport, repaired: boolean): string {
  const { checked } = report;
  const lines = [
    `checked ${checked.entries} index entries, ${checked.segments} segments (${checked.segment_records} records), ${checked.record_blobs} record blobs, ${checked.live_records} live records`,
  ];
  const problem = (count: number, text: string, findings: readonly { message: string }[] = []): void => {
    if (count === 0) return;
    lines.push(`  ${count} ${text}`);
    // Which ones, so the operator can act without reading the JSON.
    for (const finding of findings.slice(0, SHOWN_FINDINGS)) lines.push(`      ${finding.message}`);
    if (count > SHOWN_FINDINGS)
      lines.push(`      … and ${count - SHOWN_FINDINGS} more (--json lists up to 50)`);
  };
  problem(
    report.missing.count,
    'index entries whose archived copy is gone (their records answer 410)',
    report.missing.items,
  );
  problem(
    report.corrupt.count,
    'corrupt: bytes or manifests that do not verify (never served; restore from a backup)',
    report.corrupt.items,
  );
  problem(
    report.unindexed.count,
    'records held by segments but missing from the index: `verify --repair` rebuilds them',
    report.unindexed.items,
  );
  problem(
    report.orphans.count,
    'orphan blobs nothing points to: `verify --repair` removes those past the grace period',
  );
  problem(report.dead_records, 'dead records inside segments still in use: `compact` reclaims them');
  problem(
    report.live_and_archived.count,
    'records both live and indexed: harmless, the next archival run heals them',
  );
  problem(report.offline.count, 'blobs in the Archive tier, not checked');
  problem(
    report.not_archivable.count,
    'live records whose timestamps do not read as instants: they stay live until whatever wrote them fixes them',
  );
  problem(
    report.unconfirmed_deletes.count,
    'records indexed again by the rebuild though a delete of them was noted and never confirmed: delete again those meant to go',
  );
  if (repaired) lines.push(`  repaired: ${repairSummary(report.repaired)}`);
  lines.push(
    report.ok
      ? 'verify: no record is missing or corrupt'
      : 'verify: FAILED: records are missing or corrupt (the findings above; --json gives every field)',
  );
  return lines.join('\n');
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof DomainError) {
    process.stderr.write(`billing-archive: ${error.message}\n`);
    process.exitCode = ERROR_CODES[error.code]?.exit ?? EXIT.failed;
  } else if (error instanceof ConfigError) {
    process.stderr.write(`billing-archive: ${error.message}\n`);
    process.exitCode = EXIT.usage;
  } else if (isCommanderExit(error)) {
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    process.stderr.write(
      `billing-archive: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = EXIT.failed;
  }
}

function isCommanderExit(error: unknown): error is { exitCode: number } {
  return typeof error === 'object' && error !== null && 'exitCode' in error && 'code' in error;
}
