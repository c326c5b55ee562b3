import { defineConfig } from 'vitest/config';

/** Pure logic: no server, no build, seconds. */
const UNIT = [
  'test/domain/**/*.test.ts',
  'test/config.test.ts',
  'test/error-codes.test.ts',
  'test/http/record-reply.test.ts',
  'test/auth/api-keys.test.ts',
  'test/auth/bootstrap-key.test.ts',
  'test/lifecycle/lifecycle-plan.test.ts',
  'test/services/usage-tally.test.ts',
  'test/adapters/cosmos-bulk.test.ts',
  'test/adapters/cosmos-quota.test.ts',
  'test/adapters/cosmos-indexing-policy.test.ts',
];
/** Processes: the server, the CLI under SIGKILL and in races, the Functions handler. */
const SYSTEM = ['test/system/**/*.test.ts', 'test/functions/**/*.test.ts'];

/**
 * Three tiers, as three projects: `npm test` runs them all. The integration and system tiers start
 * Azurite and the Cosmos test server (once per tier) and need a fresh dist/, since some of their
 * tests run the built CLI or server.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...UNIT, ...SYSTEM],
          globalSetup: ['test/helpers/check-build.ts', 'test/helpers/azure-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: SYSTEM,
          globalSetup: ['test/helpers/check-build.ts', 'test/helpers/azure-setup.ts'],
        },
      },
    ],
  },
});
