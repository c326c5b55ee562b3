import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, type AuthSettings, type Config } from '../config.js';
import { apiKeyEntry, createApiKey, parseApiKeyEntry } from './api-keys.js';

const BOOTSTRAP_KEY_NAME = 'first-start-admin';

/** Where the first-start admin key's entry (its hash, never the key) is kept under DATA_DIR. */
export function bootstrapEntryPath(dataDir: string): string {
  return join(dataDir, 'auth', `${BOOTSTRAP_KEY_NAME}.entry`);
}

/** Where the key itself is handed over when no terminal can show it; its reader should delete it. */
export function bootstrapKeyPath(dataDir: string): string {
  return join(dataDir, 'auth', `${BOOTSTRAP_KEY_NAME}.key`);
}

/**
 * The credentials the server accepts. With none configured: on the embedded stores an admin key is
 * made on first start and only its hash kept under DATA_DIR; the key is shown once on a terminal
 * (as a Jupyter server shows its token), or, when the output goes to a log (a container, a service
 * manager), left in a file only its owner can read, so it never reaches a log. On Azure the server
 * refuses to start, since nothing there is private by default. AUTH_DISABLED is honoured, loudly.
 */
export async function serverAuth(
  config: Pick<Config, 'auth' | 'backend' | 'apiPort'>,
  announce: (text: string) => void,
  terminal: boolean,
): Promise<AuthSettings> {
  const { auth, backend } = config;
  if (auth.disabled) {
    announce(
      'AUTHENTICATION IS DISABLED (AUTH_DISABLED=true): anyone who reaches this port can read, change and delete billing records.',
    );
    return auth;
  }
  if (auth.apiKeys.length > 0 || auth.token) return auth;
  if (backend.kind === 'azure') {
    throw new ConfigError(
      'No credential is configured: set API_KEYS (make a key with `billing-archive keys create`), or AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE and AUTH_JWT_JWKS_URL, or AUTH_DISABLED=true on a private network',
    );
  }
  const path = bootstrapEntryPath(backend.dataDir);
  const existing = await readFile(path, 'utf8').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing !== undefined) {
    announce(
      `Accepting the admin key made on first start (its hash is in ${path}). Lost it? Delete that file and restart for a new one, or set API_KEYS.`,
    );
    return { ...auth, apiKeys: [parseApiKeyEntry(existing)] };
  }
  const key = createApiKey();
  const entry = apiKeyEntry(BOOTSTRAP_KEY_NAME, 'admin+legal', key);
  await mkdir(join(backend.dataDir, 'auth'), { recursive: true, mode: 0o700 });
  // 'wx': two servers starting at once on one DATA_DIR never overwrite each other's key.
  await writeFile(path, `${entry}\n`, { flag: 'wx', mode: 0o600 });
  const usage = [
    '  Send it with every request:',
    `      curl -H "Authorization: Bearer $KEY" http://localhost:${config.apiPort}/stats`,
    '  Make keys for other people with `npx billing-archive keys create --name NAME --role reader`',
    '  and list them in API_KEYS.',
    '',
  ];
  if (terminal) {
    announce(
      [
        '',
        '  No credential was configured, so this server made an admin key. It is shown this once;',
        `  only its hash is kept, in ${path}.`,
        '',
        `      ${key}`,
        '',
        ...usage,
      ].join('\n'),
    );
  } else {
    const keyPath = bootstrapKeyPath(backend.dataDir);
    await writeFile(keyPath, `${key}\n`, { flag: 'wx', mode: 0o600 });
    announce(
      [
        '',
        '  No credential was configured, so this server made an admin key. Output is not a terminal,',
        `  so the key is not printed: read it from ${keyPath} (only its owner can), then delete that`,
        `  file. Only the key's hash is kept, in ${path}.`,
        ...usage,
      ].join('\n'),
    );
  }
  return { ...auth, apiKeys: [parseApiKeyEntry(entry)] };
}
