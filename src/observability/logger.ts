// Structured logs (pino, JSON lines). Secrets never reach a log: known secret fields are redacted
// wherever they appear, and request logs carry no headers or bodies.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'password',
  'secret',
  '*.password',
  '*.secret',
  '*.*.secret',
  'tlsKey',
  '*.tlsKey',
  '*.*.tlsKey',
  'req.headers.authorization',
  'headers.authorization',
];

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.TANDEM_LOG_LEVEL ?? 'info';
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stdout,
  );
}
