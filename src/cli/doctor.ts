import { access, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrapEntryPath, bootstrapKeyPath } from '../auth/bootstrap-key.js';
import type { Readiness, Services } from '../composition-root.js';
import { describeBackend, type Config } from '../config.js';
import type { RunRecord, VerificationRecord } from '../ports/run-log.js';

/** A week without a verify pass earns a note: only a verify finds a damaged blob before a read does. */
const VERIFY_STALE_MS = 7 * 24 * 3600_000;

/** The packages whose versions matter when something goes wrong with a store or the API. */
const PACKAGES = ['@azure/cosmos', '@azure/storage-blob', 'fastify', 'better-sqlite3'] as const;

export interface Advice {
  /** `fix`: something is wrong or unsafe; `note`: worth knowing, nothing to do now. */
  level: 'fix' | 'note';
  text: string;
}

export interface DoctorReport {
  ok: boolean;
  versions: { billing_archive: string; node: string } & Record<string, string>;
  configuration: {
    backend: string;
    archive_index: string;
    layout: string;
    archival_days_threshold: number;
    retention_days: number;
    schedule: string | null;
    authentication: string[];
  };
  /** Each store and whether it answers; `opening` alone when the stores could not even be opened. */
  stores: Readiness | { opening: { ok: false; error: string } };
  /** Runs the history says are running: who holds the archival lock, and whether its process lives. */
  lock_holders: {
    run_id: string;
    slice: string;
    host: string;
    pid: number;
    started_at: string;
    process_alive: boolean | null;
  }[];
  last_run: Pick<RunRecord, 'run_id' | 'status' | 'started_at' | 'archived' | 'failed'> | null;
  last_verify: Pick<VerificationRecord, 'verification_id' | 'outcome' | 'finished_at' | 'findings'> | null;
  records: { live: number; archived: number; archived_bytes: number } | null;
  advice: Advice[];
}

async function packageVersion(path: string): Promise<string> {
  return (JSON.parse(await readFile(path, 'utf8')) as { version: string }).version;
}

/** A dependency's version, from the package.json above its entry point (exports maps may hide it). */
async function dependencyVersion(name: string): Promise<string> {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(name));
  for (;;) {
    const file = join(dir, 'package.json');
    const found = await readFile(file, 'utf8').then(
      (text) => JSON.parse(text) as { name?: string; version: string },
      () => undefined,
    );
    if (found?.name === name) return found.version;
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

/** Whether a process on this host still runs; null when the run is on another host. */
function alive(run: RunRecord): boolean | null {
  if (run.host !== hostname()) return null;
  try {
    process.kill(run.pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, and belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

function authentication(config: Config): string[] {
  const { auth } = config;
  if (auth.disabled) return ['disabled (AUTH_DISABLED)'];
  return [
    ...(auth.apiKeys.length > 0 ? [`${auth.apiKeys.length} API keys (API_KEYS)`] : []),
    ...(auth.token ? [`Microsoft Entra ID tokens from ${auth.token.issuer}`] : []),
    ...(auth.redirectSignIn
      ? [
          `console sign-in by redirect as client ${auth.redirectSignIn.clientId}, back at ${auth.redirectSignIn.redirectUrl}`,
        ]
      : []),
    `browser sessions for ${auth.sessions.hours} h${auth.sessions.secret ? '' : ' (no SESSION_SECRET: they end with the process)'}`,
  ];
}

/**
 * One screen for a new operator: is the configuration sound, does every store answer, which
 * versions run, who holds the archival lock, how the last run ended, and what to fix. Reads only.
 */
export async function doctorReport(
  opened: Services | Error,
  config: Config,
  lifecycleProblems: readonly string[],
): Promise<DoctorReport> {
  const advice: Advice[] = [];
  // Stores that cannot be opened still leave the configuration and versions to report.
  const services = opened instanceof Error ? undefined : opened;
  const { ready, stores } = services
    ? await services.readiness()
    : { ready: false, stores: { opening: { ok: false as const, error: (opened as Error).message } } };
  for (const [name, state] of Object.entries(stores))
    if (!state.ok)
      advice.push({
        level: 'fix',
        text:
          name === 'opening'
            ? `the stores could not be opened: ${state.error ?? 'no reason given'}`
            : `the ${name} store does not answer: ${state.error ?? 'no reason given'}`,
      });

  const [history, verifications, stats] = await Promise.all([
    services ? services.archiver.history(50).catch(() => []) : Promise.resolve([]),
    services ? services.verifier.history(1).catch(() => []) : Promise.resolve([]),
    services && ready ? services.stats.stats().catch(() => undefined) : Promise.resolve(undefined),
  ]);
  const holders = history
    .filter((run) => run.status === 'running')
    .map((run) => ({
      run_id: run.run_id,
      slice: run.slice,
      host: run.host,
      pid: run.pid,
      started_at: run.started_at,
      process_alive: alive(run),
    }));
  for (const holder of holders)
    if (holder.process_alive === false)
      advice.push({
        level: 'note',
        text: `run ${holder.run_id} is recorded as running, but process ${holder.pid} on this host is gone: the next run records it crashed and takes over its work`,
      });
  // The newest run that ended: a running one is a lock holder, above.
  const last = history.find((run) => run.status !== 'running');
  if (last && (last.status === 'failed' || last.status === 'crashed'))
    advice.push({
      level: 'fix',
      text: `the last archival run ${last.run_id} ${last.status}${last.errors[0] ? `: ${last.errors[0]}` : ''}; see \`billing-archive audit\` and GET /archive/runs/${last.run_id}`,
    });
  if (!last && services)
    advice.push({ level: 'note', text: 'no archival run yet: try `billing-archive archive --dry-run`' });
  const [lastVerify] = verifications;
  if (lastVerify?.outcome === 'failed')
    advice.push({
      level: 'fix',
      text: `the last verify (${lastVerify.finished_at}) found records missing or corrupt: run \`billing-archive verify\` for the findings, then \`verify --repair\``,
    });
  else if (last && !lastVerify)
    advice.push({
      level: 'note',
      text: 'the archive was never verified: `billing-archive verify` checks every archived record against its SHA-256',
    });
  else if (lastVerify && Date.parse(lastVerify.finished_at) < Date.now() - VERIFY_STALE_MS)
    advice.push({
      level: 'note',
      text: `the archive was last verified on ${lastVerify.finished_at.slice(0, 10)}: verify weekly, since only a verify finds a damaged blob before a read does`,
    });

  const { auth, backend } = config;
  if (auth.disabled)
    advice.push({
      level: 'fix',
      text: 'AUTH_DISABLED is set: anyone who reaches the port can read, change and delete records; keep it to a private network',
    });
  else if (auth.apiKeys.length === 0 && !auth.token)
    advice.push({
      level: backend.kind === 'azure' ? 'fix' : 'note',
      text:
        backend.kind === 'azure'
          ? 'no credential is configured: the server will not start; make a key with `billing-archive keys create` and set API_KEYS'
          : 'no credential is configured: the server makes a first-start admin key; set API_KEYS for keys of your own (`billing-archive keys create`)',
    });
  if (backend.kind === 'embedded') {
    if (await exists(bootstrapKeyPath(backend.dataDir)))
      advice.push({
        level: 'fix',
        text: `the first-start admin key is still on disk at ${bootstrapKeyPath(backend.dataDir)}: read it, keep it safe, then delete the file`,
      });
    else if (await exists(bootstrapEntryPath(backend.dataDir)))
      advice.push({
        level: 'note',
        text: 'the first-start admin key is accepted (its hash is under DATA_DIR/auth)',
      });
    advice.push({
      level: 'note',
      text: 'the embedded stores are for trying the service out; production runs on Azure (docs/DEPLOYING.md)',
    });
  }
  if (!auth.disabled && !auth.sessions.secret)
    advice.push({
      level: 'note',
      text: 'SESSION_SECRET is not set: console sign-ins end when the server restarts and hold on one instance only',
    });
  if (config.archivalSchedule === undefined)
    advice.push({
      level: 'note',
      text: 'ARCHIVAL_SCHEDULE is empty: the server schedules no run; start them from cron, Functions or `billing-archive archive`',
    });
  for (const problem of lifecycleProblems)
    advice.push({ level: 'fix', text: `the blob lifecycle policy disagrees with retention: ${problem}` });

  const versions = Object.fromEntries(
    await Promise.all(PACKAGES.map(async (name) => [name, await dependencyVersion(name)] as const)),
  );
  return {
    ok: advice.every((item) => item.level !== 'fix'),
    versions: {
      billing_archive: await packageVersion(fileURLToPath(new URL('../../package.json', import.meta.url))),
      node: process.versions.node,
      ...versions,
    },
    configuration: {
      backend: describeBackend(config),
      archive_index:
        backend.archiveIndex.kind === 'blob'
          ? 'files in the archive store (ARCHIVE_INDEX=blob)'
          : "the backend's own",
      layout: config.layout.name,
      archival_days_threshold: config.archivalDaysThreshold,
      retention_days: config.retentionDays,
      schedule: config.archivalSchedule ?? null,
      authentication: authentication(config),
    },
    stores,
    lock_holders: holders,
    last_run: last
      ? {
          run_id: last.run_id,
          status: last.status,
          started_at: last.started_at,
          archived: last.archived,
          failed: last.failed,
        }
      : null,
    last_verify: lastVerify
      ? {
          verification_id: lastVerify.verification_id,
          outcome: lastVerify.outcome,
          finished_at: lastVerify.finished_at,
          findings: lastVerify.findings,
        }
      : null,
    records: stats
      ? { live: stats.live_records, archived: stats.archived_records, archived_bytes: stats.archived_bytes }
      : null,
    advice,
  };
}

/** The report on one screen. */
export function doctorSummary(report: DoctorReport): string {
  const { versions, configuration: c } = report;
  const storeLine = Object.entries(report.stores)
    .map(([name, state]) => `${name} ${state.ok ? 'ok' : 'DOWN'}`)
    .join(', ');
  const lines = [
    `billing-archive ${versions.billing_archive} on Node ${versions.node} (${Object.entries(versions)
      .filter(([name]) => name.includes('/') || name === 'fastify' || name === 'better-sqlite3')
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')})`,
    `backend:   ${c.backend}`,
    `index:     ${c.archive_index}; layout ${c.layout}`,
    `archival:  records untouched ${c.archival_days_threshold} days; kept ${c.retention_days} days; schedule ${c.schedule ?? 'none'}`,
    `auth:      ${c.authentication.join('; ')}`,
    `stores:    ${storeLine}`,
    `records:   ${report.records ? `${report.records.live} live, ${report.records.archived} archived (${report.records.archived_bytes} bytes)` : 'not counted (a store does not answer)'}`,
    `lock:      ${report.lock_holders.length === 0 ? 'free' : report.lock_holders.map((h) => `run ${h.run_id} (slice ${h.slice}) on ${h.host} pid ${h.pid} since ${h.started_at}${h.process_alive === false ? ', process gone' : ''}`).join('; ')}`,
    `last run:  ${report.last_run ? `${report.last_run.run_id} ${report.last_run.status}, ${report.last_run.archived} archived, ${report.last_run.failed} failed` : 'none yet'}`,
    `verified:  ${report.last_verify ? `${report.last_verify.finished_at} ${report.last_verify.outcome}` : 'never'}`,
  ];
  if (report.advice.length > 0) {
    lines.push('', 'advice:');
    for (const item of report.advice) lines.push(`  ${item.level === 'fix' ? 'FIX ' : 'note'}  ${item.text}`);
  }
  lines.push('', report.ok ? 'doctor: nothing to fix' : 'doctor: something needs fixing (FIX above)');
  return lines.join('\n');
}
