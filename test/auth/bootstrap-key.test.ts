import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { bootstrapEntryPath, bootstrapKeyPath, serverAuth } from '../../src/auth/bootstrap-key.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('the credentials a server starts with', () => {
  let dir: { path: string; remove(): Promise<void> };
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('on a terminal shows a new admin key once, keeps only its hash, and accepts it after a restart', async () => {
    const config = loadConfig({ DATA_DIR: dir.path });
    const said: string[] = [];
    const auth = await serverAuth(config, (text) => said.push(text), true);
    const key = /^ {6}(bkarch_[A-Za-z0-9_-]{43})$/m.exec(said.join('\n'))?.[1] ?? '';
    expect(key).not.toBe('');
    expect(auth.apiKeys).toMatchObject([{ name: 'first-start-admin', sha256: hashApiKey(key) }]);
    expect(await readFile(bootstrapEntryPath(dir.path), 'utf8')).not.toContain(key);
    await expect(readFile(bootstrapKeyPath(dir.path))).rejects.toThrow(/ENOENT/);

    const again: string[] = [];
    const restarted = await serverAuth(config, (text) => again.push(text), true);
    expect(again.join('\n')).not.toContain(key);
    expect(restarted.apiKeys).toEqual(auth.apiKeys);
  });

  it('uses the configured credentials and makes nothing', async () => {
    const config = loadConfig({ DATA_DIR: dir.path, API_KEYS: `ci:reader:${'a'.repeat(64)}` });
    const said: string[] = [];
    expect((await serverAuth(config, (text) => said.push(text), true)).apiKeys).toHaveLength(1);
    expect(said).toEqual([]);
    await expect(readFile(bootstrapEntryPath(dir.path))).rejects.toThrow(/ENOENT/);
  });

  it('on Azure with nothing configured refuses, saying what to set', async () => {
    const config = loadConfig({
      COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
      BLOB_ACCOUNT_URL: 'https://acct.blob.core.windows.net',
    });
    await expect(serverAuth(config, () => undefined, true)).rejects.toThrow(ConfigError);
    await expect(serverAuth(config, () => undefined, true)).rejects.toThrow(/set API_KEYS/);
  });
});
