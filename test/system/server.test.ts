import type { ChildProcess } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freePort } from '../../scripts/local-azure.mjs';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { bootstrapEntryPath, bootstrapKeyPath } from '../../src/auth/bootstrap-key.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { finished } from '../helpers/cli.js';
import { bearer, TEST_KEYS } from '../helpers/keys.js';
import { startServer, untilReady } from '../helpers/server-process.js';

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
    expect(await ready.json()).toEqual({ ready: true });
    expect((await fetch(`${base}/billing/over-http`)).status).toBe(401);
    const created = await fetch(`${base}/billing`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(TEST_KEYS.writer) },
      body: JSON.stringify(recordBody({ id: 'over-http' })),
    });
    expect(created.status).toBe(201);
    const read = await fetch(`${base}/billing/over-http`, { headers: { 'x-api-key': TEST_KEYS.reader } });
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
        headers: { 'content-type': 'application/json', ...bearer(TEST_KEYS.writer) },
        body: JSON.stringify(recordBody({ id: 'on-schedule', created_at: daysAgo(100) })),
      });
      expect(created.status).toBe(201);
      await vi.waitFor(
        async () => {
          const read = await fetch(`${base}/billing/on-schedule`, { headers: bearer(TEST_KEYS.reader) });
          expect(read.headers.get('x-record-source')).toBe('archive');
        },
        { timeout: 10_000, interval: 100 },
      );
      expect(log).toContain('"msg":"archival scheduled"');
      // The run ends (its audit entry written) a moment after its records moved.
      await vi.waitFor(() => {
        expect(log).toContain('"msg":"scheduled archival run finished"');
      });
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

describe('the server process with no credential configured', () => {
  it('on the embedded stores makes an admin key on first start, hands it over outside the log, keeps its hash', async () => {
    const harness = await startHarness();
    await harness.close();
    const { API_KEYS: _none, ...env } = harness.env;
    const run = async (): Promise<{ stderr: string; child: ChildProcess; base: string }> => {
      const port = await freePort();
      const child = startServer({ ...env, API_HOST: '127.0.0.1', API_PORT: String(port), LOG_LEVEL: 'warn' });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const base = `http://127.0.0.1:${port}`;
      await untilReady(base, child);
      return { stderr, child, base };
    };
    const stop = async (child: ChildProcess): Promise<void> => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    };
    try {
      const first = await run();
      // Not a terminal: the key goes to a file only its owner reads, never to the log.
      const keyPath = bootstrapKeyPath(harness.env.DATA_DIR ?? '');
      expect(first.stderr).toContain(keyPath);
      const key = (await readFile(keyPath, 'utf8')).trim();
      expect(key).toMatch(/^bkarch_[A-Za-z0-9_-]{43}$/);
      expect(first.stderr).not.toContain(key);
      expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
      const headers = bearer(key);
      expect((await fetch(`${first.base}/stats`, { headers })).status).toBe(200);
      expect((await fetch(`${first.base}/stats`)).status).toBe(401);
      const kept = await readFile(bootstrapEntryPath(harness.env.DATA_DIR ?? ''), 'utf8');
      expect(kept).not.toContain(key);
      expect(kept.trim()).toBe(`first-start-admin:admin+legal:${hashApiKey(key)}`);
      await stop(first.child);

      // A restart accepts the same key and never shows it again.
      const second = await run();
      expect(second.stderr).not.toContain(key);
      expect(second.stderr).toContain('Accepting the admin key made on first start');
      expect((await fetch(`${second.base}/stats`, { headers })).status).toBe(200);
      await stop(second.child);
    } finally {
      await harness.destroy();
    }
  });

  it('on Azure refuses to start and says how to configure a credential', async () => {
    const harness = await startHarness({ backend: 'azure' });
    await harness.close();
    try {
      const { API_KEYS: _none, ...env } = harness.env;
      const child = startServer({ ...env, API_HOST: '127.0.0.1', API_PORT: String(await freePort()) });
      const result = await finished(child);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('No credential is configured: set API_KEYS');
    } finally {
      await harness.destroy();
    }
  });

  it('with AUTH_DISABLED=true lets anyone in, warns at start, and /health says so', async () => {
    const harness = await startHarness();
    await harness.close();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const { API_KEYS: _none, ...env } = harness.env;
    const child = startServer({
      ...env,
      AUTH_DISABLED: 'true',
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      LOG_LEVEL: 'warn',
    });
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      await untilReady(base, child);
      expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok', auth: 'disabled' });
      expect((await fetch(`${base}/stats`)).status).toBe(200);
      expect(stdout).toContain('authentication is disabled');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
      await harness.destroy();
    }
  });
});
