import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions } from '../../src/logger.js';
import { apiClient } from '../helpers/api.js';
import { daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('a request id follows each request through the services and back', () => {
  let harness: Harness;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    // The API's own logger options, writing where the test can read.
    harness = await startHarness({ backend: 'embedded', logger: pino(loggerOptions('info'), sink) });
  });
  afterAll(async () => {
    await harness.destroy();
  });

  it("answers with the request's id, and the services' log lines and the audit entry carry it", async () => {
    const api = apiClient(harness.app);
    await api.post('/billing', recordBody({ id: 'rid-1', created_at: daysAgo(200) }));
    const response = await api.post('/archive/sync');
    expect(response.statusCode).toBe(200);
    const id = String(response.headers['x-request-id']);
    expect(id).toMatch(UUID);
    const { run_id: runId } = response.json<{ run_id: string }>();
    // The archiver logs with its own logger, not the request's: the id reaches it all the same.
    const started = lines.find((line) => line.msg === 'archival run started' && line.runId === runId);
    expect(started?.reqId).toBe(id);
    // Fastify's own lines for the request carry it once, not twice.
    const served = lines.filter((line) => line.reqId === id && line.msg === 'request completed');
    expect(served).toHaveLength(1);
    const audit = await harness.services.audit.query({ limit: 100 });
    expect(audit.items.find((entry) => entry.action === 'archive.request')?.request_id).toBe(id);
  });

  it('makes a new id for every request, whatever X-Request-Id the caller sends', async () => {
    const api = apiClient(harness.app);
    const first = String((await api.get('/health')).headers['x-request-id']);
    const second = String((await api.get('/health', { 'x-request-id': first })).headers['x-request-id']);
    expect(first).toMatch(UUID);
    expect(second).toMatch(UUID);
    // An id another request had is never taken up: the audit trail's request_id names one request.
    expect(second).not.toBe(first);
  });

  it('logs nothing with a request id outside a request', async () => {
    const before = lines.length;
    await harness.services.archiver.runOnce({ dryRun: true });
    const outside = lines.slice(before).filter((line) => line.msg === 'archival run started');
    expect(outside).toHaveLength(1);
    expect(outside[0]).not.toHaveProperty('reqId');
  });
});
