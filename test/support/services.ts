/**
 * Real PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) for tests: started with the
 * machine's own commands when they are down, and a clear failure (never a silent skip) when they
 * cannot be had. Each run gets its own database (`switchyard_test_<random>`, dropped afterwards)
 * and its own Redis key prefix.
 */
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { Redis } from 'ioredis';

const PG_ADMIN = process.env.SWITCHYARD_TEST_PG_ADMIN ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.SWITCHYARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pgUp(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_ADMIN, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function redisUp(): Promise<boolean> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

async function ensure(name: string, up: () => Promise<boolean>, start: () => string): Promise<void> {
  if (await up()) return;
  let cmd = '';
  try {
    cmd = start();
    execSync(cmd, { stdio: 'pipe', timeout: 30_000 });
  } catch (err) {
    throw new Error(`${name} is not running and could not be started (${cmd || 'no start command'}): ${(err as Error).message}`);
  }
  for (let i = 0; i < 60; i++) {
    if (await up()) return;
    await sleep(250);
  }
  throw new Error(`${name} was started (${cmd}) but does not answer`);
}

let ready: Promise<void> | null = null;

/** Starts PostgreSQL and Redis if they are down; throws with the reason when that fails. */
export function ensureServices(): Promise<void> {
  ready ??= (async () => {
    await ensure('PostgreSQL on 127.0.0.1:5432', pgUp, () => {
      const versions = readdirSync('/etc/postgresql');
      return `pg_ctlcluster --skip-systemctl-redirect ${versions[0]} main start`;
    });
    await ensure(
      'Redis on 127.0.0.1:6379',
      redisUp,
      () => 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
    );
  })();
  return ready;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, empty database for this run. */
export async function createTestDatabase(): Promise<TestDatabase> {
  await ensureServices();
  const name = `switchyard_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export interface TestRedis {
  url: string;
  prefix: string;
  /** Deletes every key under the prefix. */
  clear(): Promise<void>;
}

export async function testRedis(): Promise<TestRedis> {
  await ensureServices();
  const prefix = `switchyard-test-${randomBytes(6).toString('hex')}:`;
  return {
    url: REDIS_URL,
    prefix,
    async clear() {
      const r = new Redis(REDIS_URL);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          if (keys.length > 0) await r.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        r.disconnect();
      }
    },
  };
}

/** A fresh Postgres database and Redis prefix as Switchyard environment variables, and their clean-up. */
export async function sharedStateEnv(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> {
  const db = await createTestDatabase();
  const redis = await testRedis();
  return {
    env: { DATABASE_URL: db.url, REDIS_URL: redis.url, SWITCHYARD_REDIS_PREFIX: redis.prefix },
    async cleanup() {
      await db.drop();
      await redis.clear();
    },
  };
}
