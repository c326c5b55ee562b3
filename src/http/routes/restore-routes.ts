import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { grants, type Identity } from '../../auth/roles.js';
import { RecordIdSchema, StatusSchema } from '../../domain/billing-record.js';
import { NotFoundError } from '../../domain/errors.js';
import { MAX_JOB_IDS } from '../../domain/restore-jobs.js';
import { PROBLEM } from '../../domain/schema-validator.js';
import type { RestoreJob } from '../../ports/restore-jobs.js';
import type { BulkRestore } from '../../services/bulk-restore.js';
import { callerOf } from '../access.js';
import { RESTORE_JOB_EXAMPLE, RESTORE_REQUEST_EXAMPLE, RESTORE_STARTED_EXAMPLE } from '../examples.js';
import { documented, ErrorSchema } from '../schemas.js';

const tags = ['restore'];

const TIME = {
  maxLength: 64,
  [PROBLEM]: 'must be an RFC 3339 date-time such as 2025-01-01T00:00:00Z',
};

const RestoreRequestSchema = Type.Object(
  {
    customer_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    created_from: Type.Optional(Type.String({ ...TIME, description: 'inclusive, RFC 3339' })),
    created_to: Type.Optional(Type.String({ ...TIME, description: 'exclusive, RFC 3339' })),
    status: Type.Optional(StatusSchema),
    ids: Type.Optional(
      Type.Array(RecordIdSchema, {
        minItems: 1,
        maxItems: MAX_JOB_IDS,
        description: 'instead of the filters: these records',
      }),
    ),
    dry_run: Type.Optional(Type.Boolean({ description: 'count what would be restored; change nothing' })),
  },
  { additionalProperties: false },
);

const JobIdParamsSchema = Type.Object({
  job_id: Type.String({
    pattern: '^restore-[A-Za-z0-9-]{1,100}$',
    // The id reaches Cosmos DB; characters a job id never has stay out.
    [PROBLEM]: 'must be a restore job id such as restore-20261101T000000000Z-abcd1234',
    description: "the job's id, as POST /restore gave it",
  }),
});

const CountSchema = Type.Integer({ minimum: 0 });

export const RestoreJobSchema = Type.Object({
  job_id: Type.String(),
  status: Type.Union(
    [
      Type.Literal('running'),
      Type.Literal('waiting'),
      Type.Literal('succeeded'),
      Type.Literal('failed'),
      Type.Literal('cancelled'),
    ],
    { description: 'waiting: for Archive-tier blobs to rehydrate' },
  ),
  dry_run: Type.Boolean(),
  query: Type.Union([
    Type.Object({
      customer_id: Type.Optional(Type.String()),
      created_from: Type.Optional(Type.String()),
      created_to: Type.Optional(Type.String()),
      status: Type.Optional(Type.String()),
    }),
    Type.Null(),
  ]),
  ids: Type.Union([Type.Integer(), Type.Null()], {
    description: 'how many ids were asked for; null for a query',
  }),
  created_at: Type.String(),
  created_by: Type.String(),
  updated_at: Type.String(),
  finished_at: Type.Union([Type.String(), Type.Null()]),
  pass: Type.Integer({ description: '1, then one more for each batch of blobs back from the Archive tier' }),
  found: Type.Integer({ description: 'restored + already_live + rehydrating + failed' }),
  restored: Type.Integer({ description: 'made live by this job (a dry run: would be)' }),
  already_live: CountSchema,
  rehydrating: Type.Integer({ description: 'waiting for their blob (a dry run: in the Archive tier)' }),
  rehydrating_blobs: Type.Integer({ description: 'blobs whose rehydration the job waits for' }),
  failed: CountSchema,
  not_found: Type.Integer({ description: 'ids neither live nor archived' }),
  next_check_at: Type.Union([Type.String(), Type.Null()]),
  cancel_requested: Type.Union([Type.Object({ at: Type.String(), by: Type.String() }), Type.Null()]),
  errors: Type.Array(Type.String()),
});

/** What a caller sees of a job: counts flat, not its ids, its position or who works on it. */
export function jobView(caller: Identity | undefined, job: RestoreJob) {
  const { counts } = job;
  const admin = caller !== undefined && grants(caller.roles, 'admin');
  return {
    job_id: job.job_id,
    status: job.status,
    dry_run: job.dry_run,
    query: job.query,
    ids: job.ids?.length ?? null,
    created_at: job.created_at,
    created_by: job.created_by,
    updated_at: job.updated_at,
    finished_at: job.finished_at,
    pass: job.pass,
    found: counts.restored + counts.already_live + counts.rehydrating + counts.failed,
    ...counts,
    rehydrating_blobs: job.waiting.length,
    next_check_at: job.next_check_at,
    cancel_requested: job.cancel,
    // Errors name records and stores: admins see them, others how many there were.
    errors:
      admin || job.errors.length === 0
        ? job.errors
        : [`${job.errors.length} errors: shown to admins and in the server log`],
  };
}

export const restoreRoutes: FastifyPluginAsyncTypebox<{ bulkRestore: BulkRestore }> = (
  app,
  { bulkRestore },
) => {
  app.post(
    '/restore',
    {
      config: { access: 'operator', audit: 'restore.job.request' },
      schema: {
        tags,
        summary: 'Start a bulk restore job: the archived records a query or a list of ids names, made live',
        description:
          'Give a customer_id or both created_from (inclusive) and created_to (exclusive), and a status if you like; or ids (at most 1000). The job runs in the background, survives a restart (another process takes it over) and never restores a record twice. Archive-tier blobs are rehydrated once each; the job waits for them (status waiting) and restores their records once they are back. dry_run counts without changing anything.',
        body: documented(RestoreRequestSchema, 'A query, or a list of ids', RESTORE_REQUEST_EXAMPLE),
        response: {
          202: documented(
            Type.Object({ job_id: Type.String(), status: Type.String(), status_url: Type.String() }),
            'Started: status_url (also in Location) follows it',
            RESTORE_STARTED_EXAMPLE,
          ),
        },
      },
    },
    async (request, reply) => {
      const { ids, dry_run, ...query } = request.body;
      const job = await bulkRestore.start({
        ids,
        query,
        dryRun: dry_run,
        by: callerOf(request).id,
        requestId: request.id,
        client: request.ip,
      });
      const statusUrl = `/restore/jobs/${job.job_id}`;
      return reply
        .code(202)
        .header('Location', statusUrl)
        .send({ job_id: job.job_id, status: job.status, status_url: statusUrl });
    },
  );

  app.get(
    '/restore/jobs',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary: 'Bulk restore jobs, newest first',
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'jobs to list at most' }),
        }),
        response: {
          200: documented(Type.Object({ items: Type.Array(RestoreJobSchema) }), 'The jobs, newest first', {
            items: [RESTORE_JOB_EXAMPLE],
          }),
        },
      },
    },
    async (request) => ({
      items: (await bulkRestore.jobs(request.query.limit)).map((job) => jobView(request.identity, job)),
    }),
  );

  app.get(
    '/restore/jobs/:job_id',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary: 'One bulk restore job, with its progress',
        params: JobIdParamsSchema,
        response: {
          200: documented(RestoreJobSchema, 'The job and its counts so far', RESTORE_JOB_EXAMPLE),
          404: ErrorSchema,
        },
      },
    },
    async (request) => {
      const job = await bulkRestore.job(request.params.job_id);
      if (!job) throw new NotFoundError(`restore job '${request.params.job_id}' not found`);
      return jobView(request.identity, job);
    },
  );

  app.delete(
    '/restore/jobs/:job_id',
    {
      config: { access: 'operator', audit: 'restore.job.cancel' },
      schema: {
        tags,
        summary: 'Cancel a bulk restore job; what it restored stays live',
        description:
          '200 when the job ended at once (nobody was working on it), 202 when its process stops before its next page. 409 job_finished once it has ended.',
        params: JobIdParamsSchema,
        response: {
          200: documented(RestoreJobSchema, 'Cancelled at once: nobody was working on it', {
            ...RESTORE_JOB_EXAMPLE,
            status: 'cancelled',
          }),
          202: documented(RestoreJobSchema, 'Cancel asked: its process stops before its next page', {
            ...RESTORE_JOB_EXAMPLE,
            status: 'running',
            finished_at: null,
            cancel_requested: { at: '2026-12-01T23:16:03.230Z', by: 'key:operator' },
          }),
          404: ErrorSchema,
          409: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const job = await bulkRestore.cancel(request.params.job_id, callerOf(request).id);
      return reply.code(job.status === 'cancelled' ? 200 : 202).send(jobView(request.identity, job));
    },
  );

  return Promise.resolve();
};
