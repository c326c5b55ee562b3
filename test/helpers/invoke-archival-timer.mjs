// Invokes the built Azure Functions timer handler once, as the Functions worker would: in a process
// of its own whose environment holds the app settings (so NODE_EXTRA_CA_CERTS applies), with a real
// InvocationContext and a timer payload. Prints {"run": ..., "lines": [...]} or {"error": ...}.
import functions from '@azure/functions';
import { archivalTimerHandler } from '../../dist/functions/archival-timer.js';

/** @type {{ level: string, text: string }[]} */
const lines = [];
const context = new functions.InvocationContext({
  invocationId: 'test-invocation',
  functionName: 'archival',
  logHandler: (level, ...args) => lines.push({ level, text: args.map(String).join(' ') }),
});
const now = Date.now();
/** @type {import('@azure/functions').Timer} */
const timer = {
  isPastDue: process.argv.includes('--past-due'),
  schedule: { adjustForDST: false },
  scheduleStatus: {
    last: new Date(now - 86_400_000).toISOString(),
    next: new Date(now + 86_400_000).toISOString(),
    lastUpdated: new Date(now).toISOString(),
  },
};
try {
  const run = await archivalTimerHandler()(timer, context);
  process.stdout.write(`${JSON.stringify({ run: run ?? null, lines })}\n`);
} catch (error) {
  process.stdout.write(
    `${JSON.stringify({ error: error instanceof Error ? error.message : String(error), lines })}\n`,
  );
  process.exitCode = 1;
}
