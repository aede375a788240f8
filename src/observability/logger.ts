import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * The process's JSON log: pino with readable timestamps (`"time":"2026-12-03T10:00:00.000Z"`) and
 * level names (`"level":"info"`) instead of epoch milliseconds and numbers. `base`: fields on every
 * line (a cluster worker names itself); none by default. Without a destination it writes to stdout
 * synchronously, as pino does by default: one write(2) per line is cheaper in CPU than handing
 * lines to libuv's thread pool (measured with the access log on, a line per request).
 */
export function createLogger(level: string, base?: Record<string, unknown>, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: base ?? undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
