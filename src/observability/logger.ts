import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * The process's JSON log: pino with readable timestamps (`"time":"2026-12-03T10:00:00.000Z"`) and
 * level names (`"level":"info"`) instead of epoch milliseconds and numbers. `base`: fields on every
 * line (a cluster worker names itself); none by default.
 *
 * Without a destination it writes to stdout asynchronously: a line is handed to the kernel at once
 * when no write is in flight, and lines logged meanwhile go out together with the next write, so
 * the access log (a line per request) does not cost a blocking system call per request under load.
 * pino flushes what is pending when the process exits.
 */
export function createLogger(level: string, base?: Record<string, unknown>, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: base ?? undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
