import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseRoles, type Identity, type Role } from './roles.js';

/**
 * Keys this service makes start with this, so secret scanners (and people) can recognise a leaked
 * one. It is how our keys look, not a condition: an entry accepts any key whose hash it holds.
 */
export const API_KEY_PREFIX = 'bkarch_';
const KEY_NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** One configured key: who it is, what it may do, and the SHA-256 of the key (never the key). */
export interface ApiKeyEntry {
  name: string;
  roles: ReadonlySet<Role>;
  sha256: string;
}

/** A new random key: the prefix and 32 random bytes, base64url. */
export function createApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The `API_KEYS` entry that accepts `key`: `name:role[+role…]:sha256hex`. */
export function apiKeyEntry(name: string, roles: string, key: string): string {
  const entry = `${name}:${roles}:${hashApiKey(key)}`;
  parseApiKeyEntry(entry);
  return entry;
}

/**
 * One `name:role[+role…]:sha256hex` entry; throws an Error saying what is wrong. It names the entry
 * only once its name is known to be one: a raw key pasted by mistake is never echoed.
 */
export function parseApiKeyEntry(text: string): ApiKeyEntry {
  const parts = text.trim().split(':');
  const [name = '', roles = '', sha256 = ''] = parts;
  if (parts.length !== 3) throw new Error('it must be name:role[+role…]:sha256-hex');
  if (!KEY_NAME.test(name)) throw new Error('its name must be 1 to 64 letters, digits or . _ @ -');
  if (!SHA256_HEX.test(sha256.toLowerCase()))
    throw new Error(`entry '${name}' must end with the key's SHA-256 as 64 hex digits`);
  try {
    return { name, roles: parseRoles(roles), sha256: sha256.toLowerCase() };
  } catch (error) {
    throw new Error(`entry '${name}': ${(error as Error).message}`, { cause: error });
  }
}

/** The comma-separated entries of `API_KEYS`; names must be unique, since the audit trail names keys. */
export function parseApiKeyEntries(text: string): ApiKeyEntry[] {
  const entries = text
    .split(',')
    .filter((part) => part.trim() !== '')
    .map((part, index) => {
      try {
        return parseApiKeyEntry(part);
      } catch (error) {
        throw new Error(`entry ${index + 1}: ${(error as Error).message}`, { cause: error });
      }
    });
  const seen = new Set<string>();
  for (const { name } of entries) {
    if (seen.has(name)) throw new Error(`entry name '${name}' appears twice`);
    seen.add(name);
  }
  return entries;
}

/** The configured keys, matched by hash in constant time. */
export class ApiKeyRing {
  private readonly hashes: { entry: ApiKeyEntry; digest: Buffer }[];

  constructor(entries: readonly ApiKeyEntry[]) {
    this.hashes = entries.map((entry) => ({ entry, digest: Buffer.from(entry.sha256, 'hex') }));
  }

  get size(): number {
    return this.hashes.length;
  }

  /** The identity of the entry holding `key`'s hash, or undefined. Every entry is compared, match or not. */
  identify(key: string): Identity | undefined {
    return this.match(key)?.identity;
  }

  /** As identify, with a fingerprint of the entry that matched, for a browser session to name it by. */
  match(key: string): { identity: Identity; fingerprint: string } | undefined {
    const digest = createHash('sha256').update(key, 'utf8').digest();
    let found: ApiKeyEntry | undefined;
    for (const { entry, digest: held } of this.hashes) {
      if (timingSafeEqual(digest, held) && !found) found = entry;
    }
    return found && { identity: identityOf(found), fingerprint: fingerprintOf(found) };
  }

  /**
   * The identity, with its current roles, of the entry a session was opened with, or undefined once
   * that entry is gone or holds another key.
   */
  standing(id: string, fingerprint: string): Identity | undefined {
    const entry = this.hashes.find(({ entry }) => `key:${entry.name}` === id)?.entry;
    return entry && fingerprintOf(entry) === fingerprint ? identityOf(entry) : undefined;
  }
}

function identityOf(entry: ApiKeyEntry): Identity {
  return { id: `key:${entry.name}`, kind: 'api-key', roles: entry.roles };
}

/** Names an entry's key without revealing its hash: a hash of the hash, cut short. */
function fingerprintOf(entry: ApiKeyEntry): string {
  return createHash('sha256').update(`session:${entry.sha256}`, 'utf8').digest('hex').slice(0, 32);
}
