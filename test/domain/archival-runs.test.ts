import { describe, expect, it } from 'vitest';
import { crashedRun, startedRun } from '../../src/domain/archival-runs.js';

const started = startedRun({
  run_id: 'r1',
  slice: 'all',
  dry_run: false,
  older_than_days: 90,
  limit: null,
  started_at: '2026-11-01T00:00:00.000Z',
  host: 'test',
  pid: 1,
});

describe('archival runs', () => {
  it('starts a run as running, every count at zero', () => {
    expect(started).toMatchObject({
      status: 'running',
      finished_at: null,
      batches: 0,
      archived: 0,
      errors: [],
    });
  });

  it('records a run whose process died as crashed, keeping its counts and errors', () => {
    const dead = { ...started, archived: 7, errors: ['a record failed'] };
    const crashed = crashedRun(dead, new Date('2026-11-02T00:00:01.000Z'));
    expect(crashed).toMatchObject({
      status: 'crashed',
      finished_at: '2026-11-02T00:00:01.000Z',
      archived: 7,
    });
    expect(crashed.errors[0]).toBe('a record failed');
    expect(crashed.errors.at(-1)).toMatch(/stopped without finishing/);
    expect(dead.status).toBe('running');
  });
});
