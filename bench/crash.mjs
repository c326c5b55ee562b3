#!/usr/bin/env node
// The long crash matrix: the crash suites of `npm test` (SIGKILL at random instants of archival
// runs, restores, compactions, index rebuilds and updates, then a byte-for-byte check of every
// record) with CRASH_SCALE times their rounds. `npm test` runs them sized to prove the point in
// minutes; this runs them for as long as you give it. Prints each suite's kill count and the time.
//
//   npm run build && node bench/crash.mjs [--scale 5] [--only record,segment]
//
// --only narrows to test/system/crash-<name>.test.ts files. Azurite and the Cosmos DB test server
// start on loopback as the tests start them.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { scale: { type: 'string', default: '5' }, only: { type: 'string' } },
});
const scale = Number(values.scale);
if (!Number.isFinite(scale) || scale < 1) throw new Error(`--scale takes a number ≥ 1 (got ${values.scale})`);
const files = values.only
  ? values.only.split(',').map((name) => `test/system/crash-${name.trim()}.test.ts`)
  : [];

const started = performance.now();
const child = spawn('npx', ['vitest', 'run', '--project', 'crash', ...files], {
  env: { ...process.env, CRASH_SCALE: String(scale) },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
child.stdout.on('data', (/** @type {Buffer} */ chunk) => {
  output += chunk.toString();
  process.stdout.write(chunk);
});
/** @type {number | null} */
const code = await new Promise((resolve) => child.on('exit', resolve));
const minutes = (performance.now() - started) / 60_000;
console.log(`\ncrash bench: CRASH_SCALE=${scale}, ${minutes.toFixed(1)} min, vitest exit ${code}`);
for (const line of output.split('\n').filter((l) => l.includes('crash matrix:')))
  console.log(`  ${line.trim()}`);
process.exit(code ?? 1);
