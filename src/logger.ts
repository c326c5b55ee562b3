import { requestContext } from '@fastify/request-context';
import { pino, type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { SIGN_IN_CALLBACK_PATH, type Config } from './config.js';

declare module '@fastify/request-context' {
  interface RequestContextData {
    /** The HTTP request being served (its X-Request-Id), for every log line written on its behalf. */
    requestId: string;
  }
}

/**
 * Logs: to stdout for the server, to stderr for the CLI so its stdout stays the output. JSON lines
 * for a collector, or readable lines when a person watches a terminal. Every line written while a
 * request is served, by the services too, carries its `reqId`, as Fastify's own lines do.
 */
export function createLogger(config: Pick<Config, 'logLevel'>, destination: 'stdout' | 'stderr'): Logger {
  const fd = destination === 'stdout' ? 1 : 2;
  const terminal = (destination === 'stdout' ? process.stdout : process.stderr).isTTY;
  return pino(
    loggerOptions(config.logLevel),
    terminal
      ? pretty({
          destination: fd,
          sync: true,
          colorize: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname,service',
        })
      : pino.destination(fd),
  );
}

/** What Fastify's request logger writes, as Fastify's own: a sign-in's return, which carries a code, is logged without its query. */
function requestForLog(request: {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  headers?: Record<string, unknown>;
  socket?: { remotePort?: number };
}) {
  const url = request.url.startsWith(`${SIGN_IN_CALLBACK_PATH}?`)
    ? `${SIGN_IN_CALLBACK_PATH}?…`
    : request.url;
  return {
    method: request.method,
    url,
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/** The options every logger of the service is made with, whatever it writes to. */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { service: 'billing-archive' },
    serializers: { req: requestForLog },
    mixin(_fields, _level, logger) {
      const requestId = requestContext.get('requestId');
      // Fastify's request logger binds reqId itself.
      if (requestId === undefined || 'reqId' in logger.bindings()) return {};
      return { reqId: requestId };
    },
  };
}
