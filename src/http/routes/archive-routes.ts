import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { describeIdentity, grants } from '../../auth/roles.js';
import { RUN_ID_PATTERN } from '../../domain/archival-runs.js';
import { ForbiddenError, NotFoundError } from '../../domain/errors.js';
import { MAX_OLDER_THAN_DAYS } from '../../domain/run-options.js';
import { PROBLEM } from '../../domain/schema-validator.js';
import type { Archiver } from '../../services/archiver.js';
import type { RecordService } from '../../services/record-service.js';
import type { Verifier } from '../../services/verifier.js';
import { callerOf } from '../access.js';
import { runFor, verificationFor } from '../redaction.js';
import {
  ARCHIVE_ENTRIES_EXAMPLE,
  PAUSE_EXAMPLE,
  RUN_EXAMPLE,
  RUN_OPTIONS_EXAMPLE,
  RUN_STARTED_EXAMPLE,
  VERIFICATION_EXAMPLE,
} from '../examples.js';
import { documented, ErrorSchema, PageQuerySchema, RunSchema, VerificationSchema } from '../schemas.js';

const tags = ['archive'];

// Types only: the ranges are runOptionProblems', which the Archiver applies to every run, so the
// API and the CLI refuse a value in the same words.
const RunOptionsSchema = Type.Object(
  {
    older_than_days: Type.Optional(Type.Integer({ description: `0 to ${MAX_OLDER_THAN_DAYS}` })),
    dry_run: Type.Optional(Type.Boolean({ description: 'count what would move; change nothing' })),
    limit: Type.Optional(Type.Integer({ description: 'archive at most this many records (at least 1)' })),
    keep_live: Type.Optional(
      Type.Boolean({ description: 'copy and index, leave the records live; a later run finishes the move' }),
    ),
  },
  { additionalProperties: false },
);
type RunOptions = Static<typeof RunOptionsSchema>;
const runOptionsBody = documented(
  RunOptionsSchema,
  'All optional; an empty body runs with the configured threshold',
  RUN_OPTIONS_EXAMPLE,
);

const RunIdParamsSchema = Type.Object({
  run_id: Type.String({
    pattern: RUN_ID_PATTERN,
    // The id reaches Cosmos DB; characters a run id never has stay out.
    [PROBLEM]: 'must be a run id such as 20261101T000000000Z-abcd1234',
    description: "the run's id, as POST /archive or GET /archive/runs gave it",
  }),
});

export interface ArchiveRoutesOptions {
  archiver: Archiver;
  verifier: Verifier;
  records: RecordService;
}

export const archiveRoutes: FastifyPluginAsyncTypebox<ArchiveRoutesOptions> = (
  app,
  { archiver, records, verifier },
) => {
  // The options body is optional: an empty POST means "all defaults".
  app.addHook('preValidation', (request, _reply, done) => {
    request.body ??= {};
    done();
  });

  /** The run's options; overriding the configured threshold is an admin's decision. */
  const runOptions = (request: FastifyRequest, body: RunOptions) => {
    const caller = callerOf(request);
    if (body.older_than_days !== undefined && !grants(caller.roles, 'admin')) {
      throw new ForbiddenError(
        'older_than_days overrides ARCHIVAL_DAYS_THRESHOLD, which only an admin may do; leave it out to run with the configured threshold',
      );
    }
    return {
      olderThanDays: body.older_than_days,
      dryRun: body.dry_run,
      limit: body.limit,
      keepLive: body.keep_live,
      startedBy: { actor: caller.id, requestId: request.id, client: request.ip },
    };
  };

  app.post(
    '/archive/sync',
    {
      config: { access: 'operator', audit: 'archive.request' },
      schema: {
        tags,
        summary: 'Run one archival run and answer with its summary',
        body: runOptionsBody,
        response: {
          200: documented(RunSchema, 'The run, ended: what it archived, skipped and failed', RUN_EXAMPLE),
          403: ErrorSchema,
          409: ErrorSchema,
        },
      },
    },
    async (request) => runFor(request.identity, await archiver.runOnce(runOptions(request, request.body))),
  );

  app.post(
    '/archive',
    {
      config: { access: 'operator', audit: 'archive.request' },
      schema: {
        tags,
        summary: 'Start an archival run in the background',
        body: runOptionsBody,
        response: {
          202: documented(
            Type.Object({ run_id: Type.String(), status: Type.String(), status_url: Type.String() }),
            'Started: status_url (also in Location) follows it',
            RUN_STARTED_EXAMPLE,
          ),
          403: ErrorSchema,
          409: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const { run, done } = await archiver.start(runOptions(request, request.body));
      // Nobody awaits a background run, so a failure to record its end is logged here; shutdown
      // waits for the run through the Archiver.
      done.catch((error: unknown) => {
        request.log.error({ err: error, runId: run.run_id }, 'background archival run could not be recorded');
      });
      const statusUrl = `/archive/runs/${run.run_id}`;
      return reply
        .code(202)
        .header('Location', statusUrl)
        .send({ run_id: run.run_id, status: run.status, status_url: statusUrl });
    },
  );

  app.get(
    '/archive/runs',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary: 'Archival run history, newest first',
        querystring: Type.Object({
          limit: Type.Integer({
            minimum: 1,
            maximum: 1000,
            default: 50,
            description: 'runs to list at most',
          }),
        }),
        response: {
          200: documented(Type.Object({ items: Type.Array(RunSchema) }), 'The runs, newest first', {
            items: [RUN_EXAMPLE],
          }),
        },
      },
    },
    async (request) => ({
      items: (await archiver.history(request.query.limit)).map((run) => runFor(request.identity, run)),
    }),
  );

  app.get(
    '/archive/verifications',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary: 'Verify passes (`billing-archive verify`), newest first: outcome, counts, first problems',
        querystring: Type.Object({
          limit: Type.Integer({
            minimum: 1,
            maximum: 100,
            default: 20,
            description: 'passes to list at most',
          }),
        }),
        response: {
          200: documented(
            Type.Object({ items: Type.Array(VerificationSchema) }),
            'The passes, newest first; where one ran and why it stopped are shown to admins',
            { items: [VERIFICATION_EXAMPLE] },
          ),
        },
      },
    },
    async (request) => ({
      items: (await verifier.history(request.query.limit)).map((pass) =>
        verificationFor(request.identity, pass),
      ),
    }),
  );

  app.get(
    '/archive/runs/:run_id',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary: 'One archival run, with progress while it runs',
        params: RunIdParamsSchema,
        response: {
          200: documented(RunSchema, 'The run; while it runs, its progress so far', RUN_EXAMPLE),
          404: ErrorSchema,
        },
      },
    },
    async (request) => {
      const run = await archiver.run(request.params.run_id);
      if (!run) throw new NotFoundError(`archival run '${request.params.run_id}' not found`);
      return runFor(request.identity, run);
    },
  );

  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const)
    app.post(
      `/archive/runs/:run_id/${action}`,
      {
        config: { access: 'operator', audit: `archive.run.${action}` },
        schema: {
          tags,
          summary: paused
            ? 'Ask a running run to pause between batches; it keeps its lock (ARCHIVAL_MAX_PAUSE_MINUTES at most)'
            : 'Ask a paused run to go on',
          description:
            'The run reads the request before its next batch, in whichever process runs it: its history says paused_at while it waits.',
          params: RunIdParamsSchema,
          response: {
            202: documented(
              Type.Object({
                run_id: Type.String(),
                paused: Type.Boolean({ description: 'what was asked' }),
                requested_at: Type.String(),
                status_url: Type.String(),
              }),
              'Asked: the run acts on it before its next batch',
              { ...PAUSE_EXAMPLE, paused },
            ),
            404: ErrorSchema,
            409: ErrorSchema,
          },
        },
      },
      async (request, reply) => {
        const runId = request.params.run_id;
        const asked = await archiver.askToPause(runId, paused, describeIdentity(callerOf(request)));
        return reply.code(202).send({
          run_id: runId,
          paused: asked.paused,
          requested_at: asked.at,
          status_url: `/archive/runs/${runId}`,
        });
      },
    );

  app.get(
    '/archive/records',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary: 'Index entries of archived records, in id order',
        querystring: Type.Object({
          ...PageQuerySchema,
          customer_id: Type.Optional(
            Type.String({ minLength: 1, maxLength: 128, description: "only this customer's records" }),
          ),
        }),
        response: {
          200: documented(
            Type.Object({
              items: Type.Array(Type.Object({}, { additionalProperties: true })),
              next_after: Type.Union([Type.String(), Type.Null()]),
            }),
            'A page of index entries: where each record is archived, its SHA-256 and size; next_after (null on the last page) goes in after for the next',
            ARCHIVE_ENTRIES_EXAMPLE,
          ),
        },
      },
    },
    async (request) => {
      const { limit, after, customer_id: customerId } = request.query;
      const items = await records.listArchived({ limit, afterId: after, customerId });
      return { items, next_after: items.length === limit ? (items.at(-1)?.id ?? null) : null };
    },
  );

  return Promise.resolve();
};
