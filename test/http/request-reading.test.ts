import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, expectError, type ApiClient } from '../helpers/api.js';
import { recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { TEST_KEYS, bearer } from '../helpers/keys.js';
import { rawHttpClient, type RawHttpClient } from '../helpers/raw-http.js';

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

  const record = '{"customer_id":"c","amount":1}';

  /** Posts `payload` as a new record, and checks that the request stored nothing. */
  async function postRefused(headers: Record<string, string>, payload: string | Buffer) {
    const before = (await harness.adapters.live.summary()).count;
    const response = await api.raw({ method: 'POST', url: '/billing', headers, payload });
    expect((await harness.adapters.live.summary()).count).toBe(before);
    return response;
  }

  it.each([
    ['text/plain', "(got 'text/plain')"],
    ['application/vnd.api+json', "(got 'application/vnd.api+json')"],
  ])('answers 415 for Content-Type %s, saying what to send and what came', async (type, got) => {
    const response = await postRefused({ 'content-type': type }, record);
    expect(expectError(response, 415, 'unsupported_media_type')).toBe(
      `the body must be JSON in UTF-8, sent with Content-Type: application/json ${got}`,
    );
  });

  it.each(['latin1', 'ISO-8859-1', 'utf-16'])(
    'answers 415 for JSON declared in charset %s, which would be read as UTF-8 regardless',
    async (charset) => {
      // "Ã©" in Latin-1 is the UTF-8 bytes of "é": accepted, it would be stored as other text.
      const body = Buffer.from('{"customer_id":"Ã©","amount":1}', 'latin1');
      const response = await postRefused({ 'content-type': `application/json; charset=${charset}` }, body);
      expect(expectError(response, 415, 'unsupported_media_type')).toContain(
        `(got 'application/json; charset=${charset}')`,
      );
    },
  );

  it.each([
    'application/json; charset=utf-8',
    'application/json;charset="UTF-8"',
    'Application/JSON; charset=utf8',
  ])('reads JSON sent as %s', async (type) => {
    const response = await api.raw({
      method: 'POST',
      url: '/billing',
      headers: { 'content-type': type },
      payload: record,
    });
    expect(response.statusCode).toBe(201);
  });

  it('answers 415 for a body without Content-Type', async () => {
    const response = await postRefused({}, record);
    expect(expectError(response, 415, 'unsupported_media_type')).toContain('(got no Content-Type)');
  });

  it.each([
    ['a UTF-8 encoded lone surrogate', [0xed, 0xa0, 0x80]],
    ['a byte that is never UTF-8', [0xff]],
    ['a truncated sequence', [0xc3]],
    ['an overlong encoding of /', [0xc0, 0xaf]],
    ['Latin-1 é', [0xe9]],
  ])('answers 400 for a body with %s, which decoding would turn into U+FFFD', async (_case, bad) => {
    const body = Buffer.concat([
      Buffer.from('{"customer_id":"c'),
      Buffer.from(bad),
      Buffer.from('","amount":1}'),
    ]);
    const response = await postRefused({ 'content-type': 'application/json' }, body);
    expect(expectError(response, 400, 'validation_error')).toBe(
      'the body is not valid UTF-8, which JSON must be; send its text as UTF-8',
    );
  });

  it('reads UTF-8 text beyond ASCII as it was sent', async () => {
    const customer = 'Ünïcødé 😀';
    const response = await api.raw({
      method: 'POST',
      url: '/billing',
      headers: { 'content-type': 'application/json' },
      payload: Buffer.from(JSON.stringify({ customer_id: customer, amount: 1 })),
    });
    expect(response.statusCode).toBe(201);
    expect(response.json<{ customer_id: string }>().customer_id).toBe(customer);
  });

  describe('over a socket (inject, fetch and URL would drop a fragment before the app sees it)', () => {
    let client: RawHttpClient;
    let port: number;
    beforeAll(async () => {
      await api.post('/billing', recordBody({ id: 'k0' }));
      port = Number(new URL(await harness.app.listen({ host: '127.0.0.1', port: 0 })).port);
      client = rawHttpClient(port);
    });

    /** Writes `text` to a fresh connection and reads until the server closes it. */
    async function exchange(text: string): Promise<{ head: string; body: unknown }> {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.on('error', () => undefined);
      socket.write(text);
      await once(socket, 'close');
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      return { head, body: JSON.parse(body) };
    }
    afterAll(() => {
      client.close();
    });

    it.each([
      ['DELETE', '/billing/k0#x'],
      ['GET', '/billing/k0#x'],
      ['PUT', '/billing/k0#/legal-hold'],
    ])(
      "answers 400 for %s %s: a '#' is an id the client did not encode, not a fragment to drop",
      async (method, path) => {
        const answer = await client.send({ method, path, headers: bearer(TEST_KEYS.root) });
        expect(answer.status).toBe(400);
        expect(JSON.parse(answer.body)).toEqual({
          error: 'bad_request',
          message: "the request target holds '#', which HTTP never sends; percent-encode it as %23",
        });
        expect((await api.get('/billing/k0')).statusCode).toBe(200);
      },
    );

    it.each([
      ['a method HTTP does not have', 'BREW /billing HTTP/1.1\r\nHost: x\r\n\r\n'],
      [
        'a Content-Length that is no number',
        'GET /billing HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      ],
      ['a space in a header name', 'GET /billing HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n'],
      [
        'both Content-Length and Transfer-Encoding',
        'POST /billing HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      ],
    ])('answers 400 in JSON, saying why, for HTTP it cannot read: %s', async (_case, text) => {
      const { head, body } = await exchange(text);
      expect(head).toMatch(/^HTTP\/1\.1 400 .*\r\nContent-Type: application\/json/s);
      const { error, message } = body as { error: unknown; message: unknown };
      expect(error).toBe('bad_request');
      expect(message).toMatch(/^the request is not valid HTTP\/1\.1: \w/);
    });

    it('answers 431 in JSON for headers larger than the server reads', async () => {
      const { head, body } = await exchange(
        `GET /billing HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      );
      expect(head).toMatch(/^HTTP\/1\.1 431 /);
      expect(body).toEqual({
        error: 'headers_too_large',
        message: 'the request headers are larger than the server reads',
      });
    });
  });
});
