import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

/** JSON logs: to stdout for the server, to stderr for the CLI so its stdout stays the output. */
export function createLogger(config: Pick<Config, 'logLevel'>, destination: 'stdout' | 'stderr'): Logger {
  return pino(
    { level: config.logLevel, base: { service: 'billing-archive' } },
    pino.destination(destination === 'stdout' ? 1 : 2),
  );
}
