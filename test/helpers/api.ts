import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Thin client over app.inject for the tests. */
export function apiClient(app: FastifyInstance) {
  const call = (method: Method, url: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method, url, headers, ...(body !== undefined && { payload: body as object }) });
  return {
    get: (url: string, headers?: Record<string, string>) => call('GET', url, undefined, headers),
    post: (url: string, body?: unknown, headers?: Record<string, string>) => call('POST', url, body, headers),
    put: (url: string, body?: unknown, headers?: Record<string, string>) => call('PUT', url, body, headers),
    delete: (url: string, headers?: Record<string, string>) => call('DELETE', url, undefined, headers),
    raw: (options: InjectOptions) => app.inject(options),
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
