import { describe, expect, it } from 'vitest';
import {
  API_KEY_PREFIX,
  ApiKeyRing,
  apiKeyEntry,
  createApiKey,
  hashApiKey,
  parseApiKeyEntries,
} from '../../src/auth/api-keys.js';
import { grants, parseRoles } from '../../src/auth/roles.js';

describe('API keys', () => {
  it('are made with the recognisable prefix and 256 random bits, never twice the same', () => {
    const key = createApiKey();
    expect(key).toMatch(new RegExp(`^${API_KEY_PREFIX}[A-Za-z0-9_-]{43}$`));
    expect(createApiKey()).not.toBe(key);
  });

  it('are configured by their SHA-256 only, and an entry accepts any key with that hash', () => {
    const foreign = 'made-by-another-tool-0123456789';
    const entry = apiKeyEntry('ci', 'operator', foreign);
    expect(entry).toBe(`ci:operator:${hashApiKey(foreign)}`);
    expect(entry).not.toContain(foreign);
    const ring = new ApiKeyRing(parseApiKeyEntries(entry));
    expect(ring.identify(foreign)).toMatchObject({
      id: 'key:ci',
      kind: 'api-key',
      roles: new Set(['operator']),
    });
    expect(ring.identify(`${foreign}x`)).toBeUndefined();
  });

  it('reads several entries with role lists, and upper-case hex', () => {
    const a = createApiKey();
    const b = createApiKey();
    const ring = new ApiKeyRing(
      parseApiKeyEntries(`ci:admin:${hashApiKey(a)}, counsel:reader+legal:${hashApiKey(b).toUpperCase()},`),
    );
    expect(ring.size).toBe(2);
    expect(ring.identify(b)?.roles).toEqual(new Set(['reader', 'legal']));
  });

  it.each([
    ['ci:admin', 'entry 1: it must be name:role[+role…]:sha256-hex'],
    [
      `x:reader:${'0'.repeat(64)},ci:root:${'0'.repeat(64)}`,
      "entry 2: entry 'ci': 'root' is not a list of roles",
    ],
    ['ci:admin:abc', "entry 1: entry 'ci' must end with the key's SHA-256 as 64 hex digits"],
    ['bad name:admin:' + '0'.repeat(64), 'entry 1: its name must be 1 to 64 letters'],
    ['k'.repeat(50), 'entry 1: it must be name:role'],
    [`ci:admin:${'0'.repeat(64)},ci:reader:${'1'.repeat(64)}`, "entry name 'ci' appears twice"],
  ])('refuses %s, saying why and never echoing a hash', (text, message) => {
    expect(() => parseApiKeyEntries(text)).toThrow(message);
    try {
      parseApiKeyEntries(text);
    } catch (error) {
      expect((error as Error).message).not.toMatch(/[0-9a-f]{64}|k{50}/);
    }
  });
});

describe('roles', () => {
  it('rank reader < writer < operator < admin; legal stands apart, even from admin', () => {
    const admin = parseRoles('admin');
    expect(['reader', 'writer', 'operator', 'admin'].every((r) => grants(admin, r as never))).toBe(true);
    expect(grants(admin, 'legal')).toBe(false);
    expect(grants(parseRoles('writer'), 'operator')).toBe(false);
    expect(grants(parseRoles('legal'), 'reader')).toBe(false);
    expect(grants(parseRoles('reader+legal'), 'legal')).toBe(true);
  });
});
