import { defineConfig } from 'vitest/config';

/** Pure logic: no server, no build, seconds. */
const UNIT = [
  'test/domain/**/*.test.ts',
  'test/config.test.ts',
  'test/error-codes.test.ts',
  'test/cli/**/*.test.ts',
  'test/http/record-reply.test.ts',
  'test/http/listing-reply.test.ts',
  'test/auth/api-keys.test.ts',
  'test/auth/bootstrap-key.test.ts',
  'test/auth/browser-sessions.test.ts',
  'test/lifecycle/lifecycle-plan.test.ts',
  'test/services/usage-tally.test.ts',
  'test/services/retired-index-guard.test.ts',
  'test/adapters/cosmos-bulk.test.ts',
  'test/adapters/cosmos-quota.test.ts',
  'test/adapters/cosmos-indexing-policy.test.ts',
];
/** Processes: the server, the CLI under SIGKILL and in races, the Functions handler. */
const SYSTEM = ['test/system/**/*.test.ts', 'test/functions/**/*.test.ts'];
/** Kill timing adapts to the machine's speed, but these files still run alone, as a user's machine would. */
const CRASH = ['test/system/crash-*.test.ts'];

/**
 * Four projects in three groups: `npm test` runs them all. The two cores run two files at a time,
 * except the crash suites, which run one by one after everything else. The integration and system
 * tiers start Azurite and the Cosmos test server (once per project) and need a fresh dist/, since
 * some of their tests run the built CLI or server.
 */
const SERVERS = ['test/helpers/check-build.ts', 'test/helpers/azure-setup.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT, maxWorkers: 2, sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...UNIT, ...SYSTEM],
          globalSetup: SERVERS,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: SYSTEM,
          exclude: CRASH,
          globalSetup: SERVERS,
          // A test here starts several processes (the CLI, the server) one after another, each
          // some seconds on a busy machine: 30 s timed a few out while two files ran at once.
          testTimeout: 90_000,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'crash',
          include: CRASH,
          globalSetup: SERVERS,
          // Rounds of kills, each a process started and killed: the Azure rebuild matrix took 29 to
          // 30 s of the default 30 and timed out once. The suites time their own kills.
          testTimeout: 180_000,
          maxWorkers: 1,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
