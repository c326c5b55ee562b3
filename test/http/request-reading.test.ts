import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, expectError, type ApiClient } from '../helpers/api.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * How the app reads a request before any store sees it: what it refuses, and in which words.
 * Nothing here depends on the backend, so one embedded harness serves every case.
 */
describe('reading requests', () => {
  let harness: Harness;
  let api: ApiClient;
  beforeAll(async () => {
    harness = await startHarness();
    api = apiClient(harness.app);
  });
  afterAll(async () => {
    await harness.destroy();
  });

  const post = (headers: Record<string, string>, payload: string | Buffer) =>
    api.raw({ method: 'POST', url: '/billing', headers, payload });

  async function liveCount(): Promise<number> {
    return (await harness.adapters.live.summary()).count;
  }

  it.each([
    ['text/plain', "(got 'text/plain')"],
    ['application/vnd.api+json', "(got 'application/vnd.api+json')"],
  ])('answers 415 for Content-Type %s, saying what to send and what came', async (type, got) => {
    const message = expectError(
      await post({ 'content-type': type }, '{"customer_id":"c","amount":1}'),
      415,
      'unsupported_media_type',
    );
    expect(message).toBe(`the body must be JSON in UTF-8, sent with Content-Type: application/json ${got}`);
    expect(await liveCount()).toBe(0);
  });

  it('answers 415 for a body without Content-Type', async () => {
    const message = expectError(
      await post({}, '{"customer_id":"c","amount":1}'),
      415,
      'unsupported_media_type',
    );
    expect(message).toContain('(got no Content-Type)');
  });
});
