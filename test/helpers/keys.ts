import { apiKeyEntry, createApiKey } from '../../src/auth/api-keys.js';

/** One key per role the tests call with, made fresh for each run: no key is ever committed. */
const ROLE_SETS = {
  reader: 'reader',
  writer: 'writer',
  operator: 'operator',
  admin: 'admin',
  legal: 'legal',
  counsel: 'reader+legal',
  /** What most tests call with: everything, as one identity. */
  root: 'admin+legal',
} as const;

export type TestKeyName = keyof typeof ROLE_SETS;

export const TEST_KEYS: Record<TestKeyName, string> = Object.fromEntries(
  Object.keys(ROLE_SETS).map((name) => [name, createApiKey()]),
) as Record<TestKeyName, string>;

/** The API_KEYS value that accepts every test key, each under its own name. */
export const TEST_API_KEYS = Object.entries(ROLE_SETS)
  .map(([name, roles]) => apiKeyEntry(name, roles, TEST_KEYS[name as TestKeyName]))
  .join(',');

export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}
