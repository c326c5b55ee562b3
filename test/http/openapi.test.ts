import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from '../helpers/api.js';
import { startHarness, type Harness } from '../helpers/harness.js';

interface Media {
  schema?: { example?: unknown; examples?: unknown[] };
  example?: unknown;
  examples?: Record<string, unknown>;
}
interface Operation {
  summary?: string;
  tags?: string[];
  /** Empty on a public route: it overrides the document's. */
  security?: object[];
  parameters?: { name: string; in: string; description?: string; schema?: object }[];
  requestBody?: { content?: Record<string, Media> };
  responses?: Record<string, { description?: string; content?: Record<string, Media> }>;
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

/** Every route the router holds, as `METHOD /path` with `{param}`s, read off Fastify's own listing. */
function registeredRoutes(tree: string): string[] {
  const routes: string[] = [];
  const prefixes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│├└─\s]*)(\S.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    const segment = match[2] ?? '';
    prefixes.length = depth;
    prefixes.push(segment);
    for (const method of (match[3] ?? '').split(', ').filter(Boolean))
      routes.push(`${method} ${prefixes.join('').replace(/:(\w+)/g, '{$1}')}`);
  }
  return routes;
}

const hasExample = (media: Media | undefined): boolean =>
  media !== undefined &&
  (media.example !== undefined ||
    media.examples !== undefined ||
    media.schema?.example !== undefined ||
    media.schema?.examples !== undefined);

describe('the OpenAPI document', () => {
  let harness: Harness;
  let doc: OpenApiDocument;
  const operations: [string, Operation][] = [];

  beforeAll(async () => {
    // Sign-in by redirect configured, so its routes are documented too (nothing is fetched from the
    // issuer until a browser signs in).
    harness = await startHarness({
      backend: 'embedded',
      env: {
        AUTH_JWT_ISSUER: 'http://127.0.0.1:9/issuer',
        AUTH_JWT_AUDIENCE: 'api://docs',
        AUTH_JWT_JWKS_URL: 'http://127.0.0.1:9/issuer/jwks',
        AUTH_OIDC_CLIENT_ID: 'console',
        AUTH_OIDC_REDIRECT_URL: 'http://127.0.0.1:8080/login/entra/callback',
      },
    });
    const response = await apiClient(harness.app).get('/openapi.json');
    expect(response.statusCode).toBe(200);
    doc = response.json<OpenApiDocument>();
    for (const [path, item] of Object.entries(doc.paths))
      for (const [method, operation] of Object.entries(item))
        if (method !== 'head') operations.push([`${method.toUpperCase()} ${path}`, operation]);
  });
  afterAll(async () => {
    await harness.destroy();
  });

  it('is a valid OpenAPI 3 document, by a maintained validator', async () => {
    const result = await new Validator().validate({ ...doc });
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\.0\./);
  });

  it('lists every route the server answers, and none it does not', () => {
    const tree = harness.app.printRoutes({ commonPrefix: false });
    const registered = registeredRoutes(tree).filter((route) => !route.startsWith('HEAD '));
    // Guards the parsing: a listing read wrongly would find nothing to compare.
    expect(registered).toContain('GET /billing/{id}/legal-hold');
    expect(registered).toContain('GET /login/entra/callback');
    expect(registered.length).toBeGreaterThan(30);
    expect(new Set(operations.map(([route]) => route))).toEqual(new Set(registered));
  });

  it('gives every operation a summary, a tag, and a described answer for each status', () => {
    const gaps = operations.flatMap(([route, operation]) => [
      ...(operation.summary ? [] : [`${route} has no summary`]),
      ...(operation.tags?.length ? [] : [`${route} has no tag`]),
      ...Object.entries(operation.responses ?? {})
        .filter(([, response]) => !response.description || response.description === 'Default Response')
        .map(([status]) => `${route} answers ${status} without saying what it means`),
    ]);
    expect(gaps).toEqual([]);
  });

  it('documents every error a route can answer, each with an example', () => {
    const gaps = operations.flatMap(([route, operation]) => {
      const statuses = Object.keys(operation.responses ?? {});
      const missing = [
        // Every route but the health probe is behind the rate limit.
        ...(statuses.includes('429') || route === 'GET /health' ? [] : [`${route} does not document 429`]),
        ...(operation.security?.length === 0 || (statuses.includes('401') && statuses.includes('403'))
          ? []
          : [`${route} is behind a role but does not document 401 and 403`]),
        ...(statuses.some((status) => status < '400') ? [] : [`${route} documents no answer for success`]),
        ...(operation.parameters?.length && !statuses.includes('400')
          ? [`${route} takes parameters but does not document 400`]
          : []),
        ...(operation.requestBody && !statuses.includes('400')
          ? [`${route} takes a body but does not document 400`]
          : []),
      ];
      const unexampled = statuses
        .filter((status) => status >= '400')
        .filter((status) => !hasExample(operation.responses?.[status]?.content?.['application/json']))
        .map((status) => `${route}'s ${status} has no example`);
      return [...missing, ...unexampled];
    });
    expect(gaps).toEqual([]);
  });

  it('shows an example of every JSON body a route takes or gives', () => {
    const gaps = operations.flatMap(([route, operation]) => {
      const body = operation.requestBody?.content?.['application/json'];
      const bodyGap = body && !hasExample(body) ? [`${route}'s request body has no example`] : [];
      const answerGaps = Object.entries(operation.responses ?? {})
        .filter(([status]) => status < '400')
        .filter(([, response]) => {
          const json = response.content?.['application/json'];
          return json !== undefined && !hasExample(json);
        })
        .map(([status]) => `${route}'s ${status} answer has no example`);
      return [...bodyGap, ...answerGaps];
    });
    expect(gaps).toEqual([]);
  });

  it('says what every parameter is', () => {
    const gaps = operations.flatMap(([route, operation]) =>
      (operation.parameters ?? [])
        .filter((parameter) => !parameter.description)
        .map((parameter) => `${route}: ${parameter.in} parameter '${parameter.name}' has no description`),
    );
    expect(gaps).toEqual([]);
  });

  it('the parser of the route listing reads nested routes and their methods', () => {
    const tree = [
      '└── /',
      '    ├── billing (GET, POST)',
      '    │   └── /',
      '    │       └── :id (GET, PUT)',
    ].join('\n');
    expect(registeredRoutes(tree)).toEqual([
      'GET /billing',
      'POST /billing',
      'GET /billing/{id}',
      'PUT /billing/{id}',
    ]);
  });
});
