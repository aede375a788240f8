import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Sql } from '../storage/sql.js';

/**
 * Fan-out of small invalidation messages to every replica (key disabled, deleted, changed).
 * Redis pub/sub when Redis is configured, PostgreSQL LISTEN/NOTIFY when the database is shared,
 * through the cluster primary for the workers of `serve --workers N` (state/cluster-ipc.ts),
 * in-process otherwise. Delivery is best effort: caches that depend on it also expire on their own.
 */
export interface Bus {
  readonly kind: 'redis' | 'postgres' | 'local' | 'cluster';
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, handler: (message: string) => void): Promise<void>;
  /**
   * Called each time the bus is delivering again after its connection was lost: messages sent
   * meanwhile were missed, so whatever they would have invalidated is to be invalidated now.
   */
  onReconnect?(fn: () => void): void;
  close(): Promise<void>;
}

export class LocalBus implements Bus {
  readonly kind = 'local' as const;
  private readonly emitter = new EventEmitter();
  async publish(channel: string, message: string): Promise<void> {
    this.emitter.emit(channel, message);
  }
  async subscribe(channel: string, handler: (message: string) => void): Promise<void> {
    this.emitter.on(channel, handler);
  }
  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

export class PostgresBus implements Bus {
  readonly kind = 'postgres' as const;
  constructor(
    private readonly sql: Sql,
    private readonly prefix: string,
  ) {}
  private name(channel: string): string {
    return `${this.prefix}${channel}`.replace(/[^a-zA-Z0-9_]/g, '_').slice(0, 63);
  }
  async publish(channel: string, message: string): Promise<void> {
    await this.sql.notify!(this.name(channel), message);
  }
  async subscribe(channel: string, handler: (message: string) => void): Promise<void> {
    await this.sql.listen!(this.name(channel), handler);
  }
  /** The LISTEN connection reconnects and re-subscribes by itself (storage/sql.ts). */
  onReconnect(fn: () => void): void {
    this.sql.onListenRestored?.(fn);
  }
  async close(): Promise<void> {}
}

export class RedisBus implements Bus {
  readonly kind = 'redis' as const;
  private sub: Redis | null = null;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  private readonly reconnected = new Set<() => void>();
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}
  async publish(channel: string, message: string): Promise<void> {
    await this.redis.publish(this.prefix + channel, message);
  }
  async subscribe(channel: string, handler: (message: string) => void): Promise<void> {
    if (!this.sub) {
      // A subscribed connection can do nothing else: a dedicated one. keyPrefix does not apply to
      // channels. Its SUBSCRIBE may wait for the connection (the main one fails fast instead);
      // ioredis re-subscribes after a reconnect.
      this.sub = this.redis.duplicate({ enableOfflineQueue: true });
      this.sub.on('error', () => undefined);
      let connected = false;
      this.sub.on('ready', () => {
        if (connected) for (const fn of this.reconnected) fn();
        connected = true;
      });
      this.sub.on('message', (ch: string, msg: string) => {
        for (const h of this.handlers.get(ch) ?? []) h(msg);
      });
    }
    const full = this.prefix + channel;
    let set = this.handlers.get(full);
    if (!set) {
      set = new Set();
      this.handlers.set(full, set);
      await this.sub.subscribe(full);
    }
    set.add(handler);
  }
  onReconnect(fn: () => void): void {
    this.reconnected.add(fn);
  }
  async close(): Promise<void> {
    if (this.sub) this.sub.disconnect();
    this.sub = null;
  }
}
