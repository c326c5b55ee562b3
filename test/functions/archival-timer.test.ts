import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { invokeArchivalTimer } from '../helpers/functions.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { tempDir } from '../helpers/temp-dir.js';

describe.each(BACKENDS)('the Azure Functions timer trigger (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  it('builds the services from the app settings, archives, and logs the run summary', async () => {
    harness = await startHarness({ backend });
    for (const id of ['f1', 'f2'])
      await harness.services.records.create(recordBody({ id, created_at: daysAgo(120) }));
    const invocation = await invokeArchivalTimer({ ...harness.env, LOG_LEVEL: 'silent' }, ['--past-due']);
    expect(invocation.code, invocation.error).toBe(0);
    expect(invocation.run).toMatchObject({ status: 'succeeded', archived: 2 });
    expect(invocation.lines).toContainEqual({
      level: 'warning',
      text: 'the timer is past due: this run starts late',
    });
    expect(invocation.lines.find((line) => line.level === 'information')?.text).toMatch(
      /^archival run \S+ succeeded: 2 archived, 0 skipped, 0 failed, 0 blobs collected in \d+ ms$/,
    );
    expect((await harness.services.records.get('f1')).source).toBe('archive');
    expect(await harness.services.archiver.history(10)).toHaveLength(1);
  });
});

describe('the Azure Functions timer trigger when it cannot run', () => {
  it('throws when the run cannot happen, so the platform records the failure', async () => {
    const dir = await tempDir();
    try {
      // The archive directory is a file: the stores cannot open.
      await writeFile(join(dir.path, 'archive'), 'not a directory');
      const broken = await invokeArchivalTimer({ DATA_DIR: dir.path, LOG_LEVEL: 'silent' });
      expect(broken.code).toBe(1);
      expect(broken.error).toContain('archive');
      const misconfigured = await invokeArchivalTimer({ BATCH_SIZE: 'many', LOG_LEVEL: 'silent' });
      expect(misconfigured.code).toBe(1);
      expect(misconfigured.error).toContain('BATCH_SIZE');
    } finally {
      await dir.remove();
    }
  });
});
