import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { NotFoundError } from '../../domain/errors.js';
import { PROBLEM } from '../../domain/schema-validator.js';
import { errorResponses, IdParamsSchema } from '../schemas.js';

const tags = ['console'];
/** The console's own pages and scripts, beside src/ and dist/ (same depth from either). */
const CONSOLE_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));
const require = createRequire(import.meta.url);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** What the sign-in form needs before anyone is signed in: no data, only its own script and style. */
const PUBLIC_ASSETS = { 'console.css': CONSOLE_DIR, 'login.js': CONSOLE_DIR };

/** Everything else the pages load, from the console folder or the packages that ship it. */
function privateAssets(): Record<string, string> {
  const chartDist = dirname(require.resolve('chart.js'));
  const swaggerUi = dirname(require.resolve('swagger-ui-dist/package.json'));
  return {
    'common.js': CONSOLE_DIR,
    'dashboard.js': CONSOLE_DIR,
    'record.js': CONSOLE_DIR,
    'run.js': CONSOLE_DIR,
    'docs.js': CONSOLE_DIR,
    'chart.umd.min.js': chartDist,
    'swagger-ui-bundle.js': swaggerUi,
    'swagger-ui.css': swaggerUi,
  };
}

interface Asset {
  body: Buffer;
  type: string;
}

async function load(files: Record<string, string>): Promise<Map<string, Asset>> {
  const loaded = await Promise.all(
    Object.entries(files).map(async ([name, dir]) => {
      const type = TYPES[extname(name)];
      if (!type) throw new Error(`the console serves no ${extname(name)} files (${name})`);
      return [name, { body: await readFile(join(dir, name)), type }] as const;
    }),
  );
  return new Map(loaded);
}

const FileParamsSchema = Type.Object({
  file: Type.String({
    pattern: '^[a-z0-9][a-z0-9.-]{0,63}$',
    [PROBLEM]: 'must be a file name such as dashboard.js',
    description: 'the file, such as dashboard.js',
  }),
});

const RunIdParamsSchema = Type.Object({
  run_id: Type.String({
    pattern: '^[A-Za-z0-9-]{1,128}$',
    [PROBLEM]: 'must be a run id',
    description: "the run's id, as GET /archive/runs gives it",
  }),
});

function html(description: string) {
  return { description, content: { 'text/html': { schema: Type.String() } } };
}

/** What a browser that is not signed in gets instead of a page. */
const TO_SIGN_IN = Type.Null({
  description: 'A browser (Accept: text/html) not signed in is sent to /login; other clients get 401',
  headers: { Location: Type.String({ description: '/login' }) },
});

const ASSET_RESPONSE = {
  description: 'The file: JavaScript or CSS',
  content: { 'text/javascript': { schema: Type.String() }, 'text/css': { schema: Type.String() } },
};

/**
 * The operator's console: a dashboard at `/`, pages for a record and a run, and the API's
 * documentation at `/docs`, all served from this package (no CDN) and all behind the same
 * authentication as the API. Only the sign-in form and its script and style are public.
 */
export interface ConsoleRoutesOptions {
  /** Whether the sign-in page offers Entra ID sign-in by redirect (AUTH_OIDC_CLIENT_ID is set). */
  redirectSignIn: boolean;
}

/** The sign-in page's offer of sign-in by redirect, hidden unless configured. */
const REDIRECT_OFFER = '<div id="redirect-sign-in" hidden>';

export const consoleRoutes: FastifyPluginAsyncTypebox<ConsoleRoutesOptions> = async (
  app,
  { redirectSignIn },
) => {
  const pages = await load({
    'login.html': CONSOLE_DIR,
    'dashboard.html': CONSOLE_DIR,
    'record.html': CONSOLE_DIR,
    'run.html': CONSOLE_DIR,
    'docs.html': CONSOLE_DIR,
  });
  const login = pages.get('login.html');
  if (!login?.body.includes(REDIRECT_OFFER)) throw new Error(`login.html lacks '${REDIRECT_OFFER}'`);
  if (redirectSignIn)
    pages.set('login.html', {
      ...login,
      body: Buffer.from(login.body.toString('utf8').replace(REDIRECT_OFFER, '<div id="redirect-sign-in">')),
    });
  const publicAssets = await load(PUBLIC_ASSETS);
  const assets = await load(privateAssets());
  const send = (reply: FastifyReply, from: Map<string, Asset>, name: string): void => {
    const asset = from.get(name);
    if (!asset) throw new NotFoundError(`the console has no file named '${name}'`);
    void reply.type(asset.type).send(asset.body);
  };

  app.get(
    '/',
    {
      config: { access: 'reader', page: true },
      schema: {
        tags,
        summary: 'The dashboard: live and archived records, costs, runs, charts, legal holds',
        description: 'A browser that is not signed in is sent to /login (303).',
        response: { 200: html('The dashboard page'), 303: TO_SIGN_IN, ...errorResponses(401, 403, 429) },
      },
    },
    (_request, reply) => {
      send(reply, pages, 'dashboard.html');
    },
  );

  app.get(
    '/login',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary:
          'The sign-in form: an API key or a token opens a browser session (POST /session); or Entra ID sign-in, where configured',
        security: [],
        response: { 200: html('The sign-in page'), ...errorResponses(429) },
      },
    },
    (_request, reply) => {
      send(reply, pages, 'login.html');
    },
  );

  app.get(
    '/console/records/:id',
    {
      config: { access: 'reader', page: true },
      schema: {
        tags,
        summary: "A record's page: its fields, its history and its legal hold",
        params: IdParamsSchema,
        response: { 200: html('The record page'), 303: TO_SIGN_IN, ...errorResponses(400, 401, 403, 429) },
      },
    },
    (_request, reply) => {
      send(reply, pages, 'record.html');
    },
  );

  app.get(
    '/console/runs/:run_id',
    {
      config: { access: 'reader', page: true },
      schema: {
        tags,
        summary: "An archival run's page, refreshed while it runs",
        params: RunIdParamsSchema,
        response: { 200: html('The run page'), 303: TO_SIGN_IN, ...errorResponses(400, 401, 403, 429) },
      },
    },
    (_request, reply) => {
      send(reply, pages, 'run.html');
    },
  );

  app.get(
    '/docs',
    {
      config: { access: 'reader', page: true },
      schema: {
        tags,
        summary: 'This API, documented: Swagger UI over /openapi.json',
        response: { 200: html('The documentation page'), 303: TO_SIGN_IN, ...errorResponses(401, 403, 429) },
      },
    },
    (_request, reply) => {
      send(reply, pages, 'docs.html');
    },
  );

  app.get(
    '/console/public/:file',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: "The sign-in form's script and the console's stylesheet",
        security: [],
        params: FileParamsSchema,
        response: { 200: ASSET_RESPONSE, ...errorResponses(400, 404, 429) },
      },
    },
    (request, reply) => {
      send(reply, publicAssets, request.params.file);
    },
  );

  app.get(
    '/console/assets/:file',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary: "The console's scripts, Chart.js and Swagger UI, served from this package",
        params: FileParamsSchema,
        response: { 200: ASSET_RESPONSE, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    (request, reply) => {
      send(reply, assets, request.params.file);
    },
  );
};
