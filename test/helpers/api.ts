import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { bearer, TEST_KEYS } from './keys.js';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * Thin client over app.inject for the tests. It authenticates as real clients do, with a bearer
 * key (the all-roles test key unless told otherwise; `null` sends none).
 */
export function apiClient(app: FastifyInstance, key: string | null = TEST_KEYS.root) {
  const auth = key === null ? {} : bearer(key);
  const call = (method: Method, url: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method,
      url,
      headers: { ...auth, ...headers },
      ...(body !== undefined && { payload: body as object }),
    });
  return {
    get: (url: string, headers?: Record<string, string>) => call('GET', url, undefined, headers),
    post: (url: string, body?: unknown, headers?: Record<string, string>) => call('POST', url, body, headers),
    put: (url: string, body?: unknown, headers?: Record<string, string>) => call('PUT', url, body, headers),
    delete: (url: string, headers?: Record<string, string>) => call('DELETE', url, undefined, headers),
    raw: (options: InjectOptions) =>
      app.inject({ ...options, headers: { ...auth, ...(options.headers as Record<string, string>) } }),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/** Asserts a JSON error answer with the given status and code; returns its message. */
export function expectError(response: LightMyRequestResponse, status: number, code: string): string {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.json<{ error: string; message: string }>();
  expect(body.error).toBe(code);
  expect(body.message.length).toBeGreaterThan(0);
  return body.message;
}
