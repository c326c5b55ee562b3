// The Azure stand-ins (local-azure.mjs) in a process of their own, for the benches: the Cosmos DB
// test server answers a query by scanning and sorting in JavaScript, which in the bench's own
// process would stall its event loop for seconds at tens of thousands of documents (long enough to
// lose a lock lease), as a real Cosmos DB never would.
//
// Run as a child it starts the stand-ins, prints what startLocalAzure returns (less the TLS key)
// as one JSON line, and stops them when its standard input closes or it is told to terminate.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startLocalAzure } from './local-azure.mjs';

/** @typedef {Omit<import('./local-azure.mjs').LocalAzure, 'tlsKey'>} LocalAzureProcess */

/** @returns {Promise<LocalAzureProcess>} the stand-ins, started in a child process */
export async function startLocalAzureProcess() {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the Azure stand-ins exited with code ${String(code)} before they started`);
  });
  const first = /** @type {unknown[]} */ (await Promise.race([once(lines, 'line'), exited]));
  lines.close();
  /** @type {unknown} */
  let parsed;
  try {
    parsed = JSON.parse(String(first[0]));
  } catch (error) {
    child.kill('SIGTERM');
    throw error;
  }
  const facts = /** @type {Omit<LocalAzureProcess, 'stop'>} */ (parsed);
  return {
    ...facts,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exit = once(child, 'exit');
      child.stdin.end();
      await exit;
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const azure = await startLocalAzure();
  const { stop, tlsKey: _tlsKey, ...facts } = azure;
  process.stdout.write(`${JSON.stringify(facts)}\n`);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await stop();
    process.exit(0);
  };
  process.stdin.on('end', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  // Ctrl-C reaches the whole process group: stop cleanly rather than leave Azurite behind.
  process.on('SIGINT', () => void shutdown());
  process.stdin.resume();
}
