import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKENDS, startHarness, type BackendKind, type Harness } from '../helpers/harness.js';
import { rawHttpClient, type RawHttpClient } from '../helpers/raw-http.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { command, type Command } from './api-commands.js';
import { describeCommand, Session, SERVER_SETTINGS, type Counts } from './api-session.js';

/**
 * Property: whatever valid, near-valid or hostile requests arrive, alone or at once, the server
 * process never answers 5xx, refuses in plain sentences, and its stores hold exactly what the
 * model of accepted requests says, byte for byte, through archival runs, retention and holds.
 */

/** Generated requests per backend for each `npm test` (the checks' own reads come on top). */
const GENERATED_REQUESTS: Record<BackendKind, number> = { embedded: 10_000, azure: 1_000 };
/** Fixed, so every run sends the same requests; fast-check prints it with any counterexample. */
const SEED = 20_261_129;
const COMMANDS_PER_ROUND = 300;
/** The stores are compared with the model this often within a round, and at its end. */
const CHECKPOINT_EVERY = 150;

/** A server process over fresh stores, restarted fresh after a failed round so shrinking starts clean. */
class ServerUnderTest {
  private harness: Harness | undefined;
  private server: ServerProcess | undefined;
  client: RawHttpClient | undefined;
  /** Ids with a hold history on this server: the history outlives the records. */
  everHeld = new Set<string>();
  clean = false;

  constructor(private readonly backend: BackendKind) {}

  async ensureClean(): Promise<void> {
    if (this.clean && this.client) return;
    await this.stop();
    // The harness makes the stores (a temp dir, or a fresh Cosmos database and containers).
    this.harness = await startHarness({ backend: this.backend });
    await this.harness.close();
    this.server = await startServerProcess({
      ...this.harness.env,
      LOG_LEVEL: 'warn',
      ARCHIVE_LAYOUT: this.backend === 'embedded' ? 'segment' : 'record',
      ARCHIVAL_SCHEDULE: '',
      ARCHIVAL_DAYS_THRESHOLD: String(SERVER_SETTINGS.archivalDaysThreshold),
      RETENTION_DAYS: String(SERVER_SETTINGS.retentionDays),
      BATCH_SIZE: '3',
      SEGMENT_MAX_RECORDS: '4',
      RATE_LIMIT_PER_MINUTE: '0',
      RATE_LIMIT_ANONYMOUS_PER_MINUTE: '0',
    });
    this.client = rawHttpClient(this.server.port);
    this.everHeld = new Set();
    this.clean = true;
  }

  log(): string {
    return this.server?.output() ?? '';
  }

  async stop(): Promise<void> {
    this.client?.close();
    this.client = undefined;
    const code = await this.server?.stop();
    this.server = undefined;
    await this.harness?.destroy();
    this.harness = undefined;
    if (code !== undefined && code !== 0) throw new Error(`the server exited with ${String(code)}`);
  }
}

const describedCommand = command.map((value) =>
  Object.assign(value, { [fc.toStringMethod]: () => describeCommand(value) }),
);

describe.each(BACKENDS)('the API under generated requests (%s)', (backend) => {
  const server = new ServerUnderTest(backend);
  afterAll(async () => {
    await server.stop();
  });

  it(`answers ${GENERATED_REQUESTS[backend]} generated requests as the model of accepted requests says`, async () => {
    const counts: Counts = { generated: 0, checks: 0, outcomes: {} };
    const started = Date.now();
    const runRound = async (commands: Command[]): Promise<void> => {
      await server.ensureClean();
      const client = server.client;
      if (!client) throw new Error('no server');
      server.clean = false;
      const session = new Session(client, counts, server.everHeld, () => server.log());
      for (const [i, next] of commands.entries()) {
        await session.run(next);
        if ((i + 1) % CHECKPOINT_EVERY === 0) await session.checkpoint();
      }
      await session.checkpoint();
      await session.wipe();
      server.clean = true;
    };
    // Rounds until the generated requests reach the goal (each sends at least one); a failing
    // round is shrunk, on fresh stores for every try.
    let round = 0;
    while (counts.generated < GENERATED_REQUESTS[backend]) {
      await fc.assert(
        fc.asyncProperty(
          fc.array(describedCommand, { minLength: 1, maxLength: COMMANDS_PER_ROUND, size: 'max' }),
          runRound,
        ),
        {
          seed: SEED + round,
          numRuns: 1,
          plugins: [fc.interruptAfterTimeLimit(5 * 60_000)],
        },
      );
      round += 1;
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `${backend}: ${counts.generated} generated requests in ${round} rounds (seeds ${SEED}…${SEED + round - 1}), ${counts.checks} checking reads, ${seconds} s`,
    );
    console.log(
      Object.entries(counts.outcomes)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([outcome, times]) => `${outcome}: ${times}`)
        .join(', '),
    );
    // The answers were checked as they came; this checks the requests reached what matters most.
    for (const reached of ['records archived', 'read 200 archived', 'update 200 archived', 'records expired'])
      expect(counts.outcomes[reached] ?? 0, reached).toBeGreaterThan(0);
  }, 1_200_000);
});
