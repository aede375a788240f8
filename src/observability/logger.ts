import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * The process's JSON log: pino with readable timestamps (`"time":"2026-12-03T10:00:00.000Z"`) and
 * level names (`"level":"info"`) instead of epoch milliseconds and numbers. `base`: fields on every
 * line (a cluster worker names itself); none by default. Without a destination it writes to stdout
 * synchronously: pino's own default hands each line to libuv's thread pool, which with the access
 * log (a line per request) cost more CPU per request than one write(2) (README, "What it costs").
 */
export function createLogger(level: string, base?: Record<string, unknown>, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: base ?? undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}
