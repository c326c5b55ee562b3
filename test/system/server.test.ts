import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/local-azure.mjs';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { finished } from '../helpers/cli.js';

const SERVER = fileURLToPath(new URL('../../dist/server.js', import.meta.url));

function startServer(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [SERVER], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function untilReady(base: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${String(child.exitCode)}`);
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('server did not start within 10 s');
}

describe.each(BACKENDS)('the server process (%s)', (backend) => {
  let harness: Harness | undefined;
  let server: ChildProcess | undefined;
  afterEach(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
    server = undefined;
    await harness?.destroy();
    harness = undefined;
  });

  it('serves the API over HTTP on the configured stores and shuts down cleanly on SIGTERM', async () => {
    harness = await startHarness({ backend });
    await harness.close();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // On Azure the server trusts the Cosmos test server only through NODE_EXTRA_CA_CERTS (in harness.env).
    server = startServer({
      ...harness.env,
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      LOG_LEVEL: 'warn',
    });
    await untilReady(base, server);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    const created = await fetch(`${base}/billing`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(recordBody({ id: 'over-http' })),
    });
    expect(created.status).toBe(201);
    const read = await fetch(`${base}/billing/over-http`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id: 'over-http', amount: 129.9 });
    server.kill('SIGTERM');
    const [code] = (await once(server, 'exit')) as [number | null];
    expect(code).toBe(0);
  });
});

describe('the server process on a schedule', () => {
  it('archives by itself on ARCHIVAL_SCHEDULE, and logs the schedule', async () => {
    const harness = await startHarness();
    await harness.close();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = startServer({
      ...harness.env,
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      ARCHIVAL_SCHEDULE: '* * * * * *',
      LOG_LEVEL: 'info',
    });
    let log = '';
    server.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      await untilReady(base, server);
      const created = await fetch(`${base}/billing`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(recordBody({ id: 'on-schedule', created_at: daysAgo(100) })),
      });
      expect(created.status).toBe(201);
      let source: string | null = 'live';
      for (let i = 0; i < 100 && source !== 'archive'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        source = (await fetch(`${base}/billing/on-schedule`)).headers.get('x-record-source');
      }
      expect(source).toBe('archive');
      expect(log).toContain('"msg":"archival scheduled"');
      expect(log).toContain('"msg":"scheduled archival run finished"');
      server.kill('SIGTERM');
      const [code] = (await once(server, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (server.exitCode === null) server.kill('SIGKILL');
      await harness.destroy();
    }
  });
});

describe('the server process with an unreachable store', () => {
  it('exits at start with a message naming the store, never falling back to local disk', async () => {
    const harness = await startHarness({ backend: 'azure' });
    await harness.close();
    try {
      const deadPort = await freePort();
      const child = startServer({
        ...harness.env,
        COSMOS_ENDPOINT: `https://127.0.0.1:${deadPort}/`,
        API_HOST: '127.0.0.1',
        API_PORT: String(await freePort()),
      });
      const result = await finished(child);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/Cosmos DB: opening container 'records' in database '.*' failed/);
    } finally {
      await harness.destroy();
    }
  }, 60_000);

  it('refuses the Cosmos test server without NODE_EXTRA_CA_CERTS: TLS checks stay on', async () => {
    const harness = await startHarness({ backend: 'azure' });
    await harness.close();
    try {
      const { NODE_EXTRA_CA_CERTS: _trusted, ...untrusting } = harness.env;
      const child = startServer({ ...untrusting, API_HOST: '127.0.0.1', API_PORT: String(await freePort()) });
      const result = await finished(child);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/Cosmos DB: .*(certificate|self.signed)/i);
    } finally {
      await harness.destroy();
    }
  }, 60_000);
});
