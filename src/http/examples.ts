/**
 * Example bodies for the OpenAPI document (Swagger UI at /docs shows them), taken from answers the
 * API gave on the embedded stores. Only the document reads them.
 */

const RUN_ID = '20261201T231600097Z-8e7de468';
const JOB_ID = 'restore-20261201T231603217Z-57609115';

export const NEW_RECORD_EXAMPLE = {
  id: 'inv-2025-000123',
  customer_id: 'cust-0042',
  amount: 129.5,
  currency: 'EUR',
  status: 'paid',
  description: 'Hosting, January 2025',
  due_date: '2025-02-14',
  created_at: '2025-01-15T10:00:00.000Z',
};

export const RECORD_EXAMPLE = { ...NEW_RECORD_EXAMPLE, updated_at: '2025-01-15T10:00:00.000Z' };

export const REPLACEMENT_EXAMPLE = { ...RECORD_EXAMPLE, status: 'refunded' };

export const LISTING_EXAMPLE = {
  items: [
    {
      source: 'archive',
      tier: 'Cool',
      etag: '"sha256-3aeda177c0f11022d28daef6a2e8fc873f53664f32a5e40607ebcde7a07b1f12"',
      rehydration_required: false,
      record: RECORD_EXAMPLE,
    },
  ],
  next_cursor: 'eyJ2IjoxLCJjIjoiMjAyNS0wMS0xNVQxMDowMDowMC4wMDBaIiwiaSI6Imludi0yMDI1LTAwMDEyMyJ9',
};

export const REHYDRATING_EXAMPLE = {
  error: 'rehydrating',
  message: `blob 'segments/created=2025-01/${RUN_ID}-0002.ndjson.gz' is in the Archive tier; rehydration to Cool has started (Standard priority)`,
  retry_after_seconds: 900,
};

const HOLD = {
  record_id: 'inv-2025-000123',
  since: '2026-12-01T23:16:03.108Z',
  by: 'key:counsel',
  reason: 'Tax audit 2025, case 4711',
};

export const HOLD_REQUEST_EXAMPLE = { held: true, reason: 'Tax audit 2025, case 4711' };

export const HOLD_VIEW_EXAMPLE = {
  record_id: HOLD.record_id,
  legal_hold: true,
  hold: HOLD,
  history: [{ record_id: HOLD.record_id, action: 'set', at: HOLD.since, by: HOLD.by, reason: HOLD.reason }],
};

export const HOLDS_EXAMPLE = { items: [HOLD], next_after: null };

export const RUN_OPTIONS_EXAMPLE = { dry_run: false, limit: 50000 };

export const RUN_EXAMPLE = {
  run_id: RUN_ID,
  status: 'succeeded',
  dry_run: false,
  archived: 31,
  skipped: 0,
  failed: 0,
  batches: 1,
  duration_ms: 88,
  slice: 'all',
  older_than_days: 90,
  limit: null,
  started_at: '2026-12-01T23:16:00.100Z',
  finished_at: '2026-12-01T23:16:00.192Z',
  host: 'billing-archive-7c9d',
  pid: 3923,
  eligible: 31,
  bytes: 10280,
  garbage_collected: 0,
  expired: 0,
  kept_on_hold: 0,
  held_copied: 0,
  held_copy_pending: 0,
  not_archivable: 0,
  errors: [],
  notes: [],
  started_by: 'key:scheduler',
};

export const VERIFICATION_EXAMPLE = {
  verification_id: 'verify-20261202T020000000Z-5f0c2a91',
  started_at: '2026-12-02T02:00:00.000Z',
  finished_at: '2026-12-02T02:00:04.210Z',
  duration_ms: 4210,
  outcome: 'failed',
  repair: false,
  started_by: 'cli:ops@billing-archive-7c9d',
  host: 'billing-archive-7c9d',
  checked: { entries: 31, segments: 1, segment_records: 31, record_blobs: 0, live_records: 1200 },
  findings: {
    missing: 0,
    corrupt: 1,
    unindexed: 0,
    orphans: 0,
    dead_records: 0,
    live_and_archived: 0,
    offline: 0,
    not_archivable: 0,
    unconfirmed_deletes: 0,
  },
  problems: [
    {
      kind: 'corrupt',
      blob: `segments/created=2025-01/${RUN_ID}-0002.ndjson.gz`,
      id: 'inv-2025-000123',
      message: "record 'inv-2025-000123' does not verify",
    },
  ],
};

export const RUN_STARTED_EXAMPLE = {
  run_id: RUN_ID,
  status: 'running',
  status_url: `/archive/runs/${RUN_ID}`,
};

export const PAUSE_EXAMPLE = {
  run_id: RUN_ID,
  paused: true,
  requested_at: '2026-12-01T23:16:02.500Z',
  status_url: `/archive/runs/${RUN_ID}`,
};

export const ARCHIVE_ENTRIES_EXAMPLE = {
  items: [
    {
      id: 'inv-2025-000123',
      customer_id: 'cust-0042',
      created_at: '2025-01-15T10:00:00.000Z',
      location: {
        layout: 'segment',
        blob: `segments/created=2025-01/${RUN_ID}-0002.ndjson.gz`,
        offset: 0,
        length: 1950,
        line: { offset: 8737, length: 332 },
      },
      sha256: '457ac10bcb3fd52e05cd314c73a761be36501b42804a643f3317338603c5dcba',
      size: 332,
      archived_at: '2026-12-01T23:16:00.100Z',
      run_id: RUN_ID,
      etag: 'ffa4beeb-af7f-4929-afa4-8c0620913eb6',
    },
  ],
  next_after: 'inv-2025-000123',
};

export const RESTORE_REQUEST_EXAMPLE = { customer_id: 'cust-0042', dry_run: false };

export const RESTORE_STARTED_EXAMPLE = {
  job_id: JOB_ID,
  status: 'running',
  status_url: `/restore/jobs/${JOB_ID}`,
};

export const RESTORE_JOB_EXAMPLE = {
  job_id: JOB_ID,
  status: 'succeeded',
  dry_run: false,
  query: { customer_id: 'cust-0042' },
  ids: null,
  created_at: '2026-12-01T23:16:03.217Z',
  created_by: 'key:operator',
  updated_at: '2026-12-01T23:16:03.240Z',
  finished_at: '2026-12-01T23:16:03.240Z',
  pass: 1,
  found: 1,
  restored: 1,
  already_live: 0,
  rehydrating: 0,
  rehydrating_blobs: 0,
  failed: 0,
  not_found: 0,
  next_check_at: null,
  cancel_requested: null,
  errors: [],
};

export const AUDIT_EXAMPLE = {
  items: [
    {
      at: '2026-12-01T23:16:00.044Z',
      actor: 'key:billing-writer',
      action: 'record.create',
      outcome: 'succeeded',
      status: 201,
      record_id: 'inv-2025-000123',
      request_id: 'req-1',
      client: '10.0.4.17',
    },
  ],
  next_cursor: 'MjAyNi0xMi0wMS8wLzI',
};

export const READY_EXAMPLE = {
  ready: true,
  stores: {
    live: { ok: true },
    index: { ok: true },
    store: { ok: true },
    runLog: { ok: true },
    holds: { ok: true },
    restoreJobs: { ok: true },
    audit: { ok: true },
  },
};

export const STATS_EXAMPLE = {
  live_records: 1200,
  archived_records: 31,
  archived_bytes: 10280,
  archived_by_month: [
    { month: '2025-01', count: 1, bytes: 240 },
    { month: '2026-08', count: 30, bytes: 10040 },
  ],
  oldest_live_touched_at: '2026-09-02T08:00:00.000Z',
  oldest_live_age_days: 90.6,
  archival_days_threshold: 90,
  last_run: RUN_EXAMPLE,
  runs: { count: 1, succeeded: 1, failed: 0, crashed: 0, running: 0 },
  cost: {
    as_of: '2026-12-01T23:16:00.371Z',
    currency: 'USD',
    live: { records: 1200, bytes: 480000, bytes_from: 'counted', usd_per_month: 0.00011 },
    archive: { records: 31, usd_per_month: 0.000013 },
    if_left_live: { bytes: 10280, usd_per_month: 0.0000024 },
    saving_usd_per_month: -0.000011,
    notes: ['Storage at list prices per GB-month.'],
  },
};

export const OPENAPI_EXAMPLE = {
  openapi: '3.0.3',
  info: { title: 'billing-archive', version: '0.1.0' },
  paths: { '/health': { get: { summary: 'The process is up' } } },
};
