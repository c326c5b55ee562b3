import type { Command } from 'commander';
import { ERROR_CODES, EXIT } from '../error-codes.js';

/** What each exit code means to a script, beside the errors that end in it. */
const EXIT_MEANINGS: Record<keyof typeof EXIT, string> = {
  ok: 'done',
  failed: 'the work failed, a check found a problem, or a store did not answer',
  usage: 'the arguments, the configuration or the credential are wrong; nothing was changed',
  locked: 'another archival run holds the lock: try again later',
  notFound: 'no such record, run or job, or its archived copy is gone',
  conflict: 'the record, run or job is in another state than the command needs',
  pending: 'not ready yet (rehydrating, or the index is being rebuilt): try again later',
};

/**
 * The exit codes, each with the error codes that end in it and their HTTP statuses: one table
 * (src/error-codes.ts) for both edges, so a script reads a failure the same either way.
 */
export function exitCodeTable(): string {
  const lines = (Object.keys(EXIT) as (keyof typeof EXIT)[]).map((name) => {
    const code = EXIT[name];
    const errors = Object.entries(ERROR_CODES)
      .filter(([, edges]) => edges.exit === code)
      .map(([error, edges]) => `${error} (HTTP ${edges.http})`);
    const list = errors.length > 0 ? `\n       ${errors.join(', ')}` : '';
    return `  ${code}  ${EXIT_MEANINGS[name]}${list}`;
  });
  return `Exit codes (the API answers the same errors with the HTTP statuses shown):\n${lines.join('\n')}`;
}

/** An example for each command, by its path (`index migrate`), shown at the end of its --help. */
const EXAMPLES: Record<string, string[]> = {
  '': [
    'billing-archive doctor',
    'billing-archive archive --dry-run',
    'billing-archive stats --json | jq .cost',
  ],
  serve: ['API_PORT=8000 billing-archive serve'],
  archive: [
    'billing-archive archive --dry-run              # count what would move',
    'billing-archive archive --older-than 120 --limit 50000',
    'billing-archive archive --json | jq .archived',
  ],
  'archive pause': ['billing-archive archive pause 20261101T000000000Z-abcd1234'],
  'archive resume': ['billing-archive archive resume 20261101T000000000Z-abcd1234'],
  restore: [
    'billing-archive restore inv-2025-000123',
    'billing-archive restore --customer cust-0042 --from 2025-01-01 --to 2025-04-01 --dry-run',
  ],
  keys: ['billing-archive keys create --name ops-dashboard --role reader'],
  'keys create': ['billing-archive keys create --name counsel --role reader+legal --json'],
  'keys hash': ['billing-archive keys hash --name ops --role operator < ops.key'],
  audit: [
    'billing-archive audit --record-id inv-2025-000123',
    'billing-archive audit --actor key:ops --from 2026-11-01T00:00:00Z',
  ],
  verify: ['billing-archive verify', 'billing-archive verify --repair --grace-hours 48'],
  compact: ['billing-archive compact --dry-run', 'billing-archive compact --min-dead-share 0.3'],
  index: ['billing-archive index migrate'],
  'index migrate': [
    'billing-archive index migrate             # repeat until in step',
    'billing-archive index migrate --finish',
  ],
  lifecycle: ['billing-archive lifecycle deploy --dry-run'],
  'lifecycle deploy': ['billing-archive lifecycle deploy --dry-run', 'billing-archive lifecycle deploy'],
  'lifecycle simulate': ['billing-archive lifecycle simulate --days 200 --dry-run'],
  cost: ['billing-archive cost', 'billing-archive cost --next-run --json | jq .next_run'],
  stats: ['billing-archive stats', 'billing-archive stats --json | jq .archived_records'],
  seed: ['billing-archive seed --count 1000 --age-days 120'],
  doctor: ['billing-archive doctor', 'billing-archive doctor --json | jq .advice'],
};

function pathOf(command: Command): string {
  const names: string[] = [];
  for (let at = command; at.parent; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/**
 * Ends every command's --help with its examples and the exit codes; a command without an example
 * is a mistake caught at start, not a help page missing one.
 */
export function addExamplesAndExitCodes(command: Command): void {
  const path = pathOf(command);
  const examples = EXAMPLES[path];
  if (!examples) throw new Error(`the command '${path}' has no example for its --help`);
  command.addHelpText(
    'after',
    `\nExamples:\n${examples.map((line) => `  $ ${line}`).join('\n')}\n\n${exitCodeTable()}\n`,
  );
  for (const sub of command.commands) addExamplesAndExitCodes(sub);
}
