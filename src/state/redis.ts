import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { Settings } from '../config/load.js';

// ioredis is loaded only when REDIS_URL is set: a single process does not pay its memory.
const require = createRequire(import.meta.url);
const loadRedis = (): typeof Redis => (require('ioredis') as typeof import('ioredis')).Redis;

/**
 * The Redis connection, not yet connected. Redis is never waited for longer than a command
 * timeout: commands fail at once while it is disconnected (no offline queue), and a command lost
 * with its connection is not replayed after the reconnect (a rate-limit hit counted twice).
 */
export function openRedis(settings: Settings): Redis {
  return new (loadRedis())(settings.redisUrl!, {
    keyPrefix: settings.redisPrefix,
    lazyConnect: true,
    connectTimeout: settings.redisConnectTimeoutMs,
    commandTimeout: settings.redisCommandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times: number) => Math.min(times * 100, 2000),
  });
}

/** The Redis URL without credentials, for messages. */
export const redisName = (url: string): string => `Redis at ${url.replace(/\/\/[^@]*@/, '//…@')}`;

/**
 * Connects and waits for a PING answer for at most `ms`; throws the reason otherwise. ioredis
 * retries meanwhile, so a first attempt that fails (a ready check slower than the command timeout
 * on a busy machine) is not the end.
 */
export async function reachRedis(redis: Redis, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  let last: Error | null = null;
  const onError = (err: Error) => (last = err);
  redis.on('error', onError);
  redis.connect().catch(onError);
  try {
    while (performance.now() < deadline) {
      if (redis.status === 'ready') {
        try {
          await redis.ping();
          return;
        } catch (err) {
          last = err as Error;
        }
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const reason: Error | null = last;
    throw new Error(`no answer within ${ms} ms${reason ? ` (${reason.message})` : ''}`);
  } finally {
    redis.off('error', onError);
  }
}
