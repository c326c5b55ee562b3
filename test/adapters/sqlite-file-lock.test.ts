import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteFileLock } from '../../src/adapters/sqlite/sqlite-file-lock.js';
import { LockHeldError } from '../../src/domain/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

const owner = { runId: 'parent-run', description: 'the test process' };

describe('SqliteFileLock across processes', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let lock: SqliteFileLock;
  beforeEach(async () => {
    dir = await tempDir();
    lock = new SqliteFileLock(join(dir.path, 'locks'));
    await lock.init();
  });
  afterEach(async () => {
    await lock.close();
    await dir.remove();
  });

  it('is held while another process holds it and free the instant that process is SIGKILLed', async () => {
    const moduleUrl = new URL('../../dist/adapters/sqlite/sqlite-file-lock.js', import.meta.url).href;
    const script = `
      const { SqliteFileLock } = await import(${JSON.stringify(moduleUrl)});
      const lock = new SqliteFileLock(${JSON.stringify(join(dir.path, 'locks'))});
      await lock.init();
      await lock.acquire('archival-all', { runId: 'child-run', description: 'child' });
      process.stdout.write('held\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
      expect(chunk.toString()).toContain('held');
      await expect(lock.acquire('archival-all', owner)).rejects.toSatisfy(
        (error) => error instanceof LockHeldError && error.message.includes('child-run'),
      );
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    const lease = await lock.acquire('archival-all', owner);
    await lease.release();
  });
});
