// The real processes the soak drives: the built server over HTTP, and the built CLI for what the
// API does not offer (compaction, verify) and for making API keys the way an operator does.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../../scripts/local-azure.mjs';
import { parseJson } from './json.mjs';

/**
 * @typedef {object} CliResult
 * @property {number | null} code
 * @property {string} stdout
 * @property {string} stderr
 */

/**
 * Runs the built CLI with the stores' environment and collects its output.
 * @param {string} cliPath
 * @param {string[]} args
 * @param {Record<string, string>} env
 * @returns {Promise<CliResult>}
 */
export async function runCli(cliPath, args, env) {
  // --json: the soak reads each command's result.
  const child = spawn(process.execPath, [cliPath, '--json', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (/** @type {Buffer} */ chunk) => (stdout += chunk.toString()));
  child.stderr.on('data', (/** @type {Buffer} */ chunk) => (stderr += chunk.toString()));
  await once(child, 'exit');
  return { code: child.exitCode, stdout, stderr };
}

/**
 * A new API key with `roles`, made by `billing-archive keys create` as an operator would.
 * @param {string} cliPath
 * @param {string} name
 * @param {string} roles
 * @returns {Promise<{ key: string, entry: string }>}
 */
export async function createKey(cliPath, name, roles) {
  const result = await runCli(cliPath, ['keys', 'create', '--name', name, '--role', roles], {});
  if (result.code !== 0) throw new Error(`keys create failed (${String(result.code)}): ${result.stderr}`);
  const made = /** @type {{ key: string, api_keys_entry: string }} */ (parseJson(result.stdout));
  return { key: made.key, entry: made.api_keys_entry };
}

/**
 * @typedef {object} ServerProcess
 * @property {string} base e.g. http://127.0.0.1:41234
 * @property {Map<string, number>} logged warnings and errors the server logged, by message
 * @property {() => boolean} running
 * @property {() => Promise<number | null>} stop SIGTERM, then its exit code
 */

/**
 * Starts the built server on a free loopback port with the scheduler off, and waits for /health.
 * @param {string} serverPath
 * @param {Record<string, string>} env the stores' environment and API_KEYS
 * @returns {Promise<ServerProcess>}
 */
export async function startServer(serverPath, env) {
  const port = await freePort();
  const child = spawn(process.execPath, [serverPath], {
    env: {
      ...process.env,
      ...env,
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      // Runs come from the soak only, each with its own threshold.
      ARCHIVAL_SCHEDULE: '',
      RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** @type {Map<string, number>} */
  const logged = new Map();
  let partial = '';
  let stderr = '';
  child.stdout.on('data', (/** @type {Buffer} */ chunk) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const message = logMessage(line);
      logged.set(message, (logged.get(message) ?? 0) + 1);
    }
  });
  child.stderr.on('data', (/** @type {Buffer} */ chunk) => (stderr += chunk.toString()));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not answer /health within 30 s: ${stderr}`);
    }
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  return {
    base,
    logged,
    running: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      await once(child, 'exit');
      return child.exitCode;
    },
  };
}

/**
 * A pino line as "level: message (error code)", so repeats of one problem count together.
 * @param {string} line
 */
function logMessage(line) {
  try {
    const entry = /** @type {{ level?: number, msg?: string, err?: { code?: string, message?: string } }} */ (
      parseJson(line)
    );
    const level = (entry.level ?? 0) >= 50 ? 'error' : 'warn';
    const error = entry.err?.message ? `: ${entry.err.message.slice(0, 200)}` : '';
    return `${level}: ${entry.msg ?? ''}${error}`;
  } catch {
    return `unparsed: ${line.slice(0, 200)}`;
  }
}
