/**
 * A TCP proxy on loopback between Switchyard and a real service (PostgreSQL, Redis), for fault
 * tests that must never touch the shared service itself. Faults:
 *
 * - `cut()`: every open connection is destroyed on both sides (`{ reset: true }`: with a TCP RST).
 * - `refuse()`: the listener closes, so new connections are refused; `accept()` listens again on
 *   the same port.
 * - `blackhole()`: connections are accepted but nothing is forwarded either way (open ones stop
 *   too); `forward()` resumes every connection where it stopped, as a server that stopped answering
 *   and came back.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** `postgres://…` / `redis://…` URL with the host and port replaced by the proxy's. */
  url(target: string): string;
  forward(): void;
  blackhole(): void;
  refuse(): Promise<void>;
  accept(): Promise<void>;
  cut(opts?: { reset?: boolean }): void;
  /** Open client connections. */
  readonly connections: number;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | null;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'forward' | 'blackhole' = 'forward';
  const pairs = new Set<Pair>();
  let server: Server | null = null;
  let port = 0;

  const drop = (p: Pair, reset = false) => {
    pairs.delete(p);
    for (const s of [p.client, p.upstream]) {
      if (!s || s.destroyed) continue;
      if (reset) s.resetAndDestroy();
      else s.destroy();
    }
  };

  const link = (p: Pair) => {
    const upstream = connect(target.port, target.host);
    p.upstream = upstream;
    upstream.on('error', () => drop(p, true));
    upstream.on('close', () => drop(p));
    p.client.pipe(upstream);
    upstream.pipe(p.client);
    p.client.resume();
  };

  const onConnection = (client: Socket) => {
    const p: Pair = { client, upstream: null };
    pairs.add(p);
    client.on('error', () => drop(p, true));
    client.on('close', () => drop(p));
    client.pause();
    if (mode === 'forward') link(p);
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer({ pauseOnConnect: true }, onConnection);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        server = s;
        port = (s.address() as { port: number }).port;
        resolve();
      });
    });
  await listen();

  // The listening socket closes at once; close()'s callback would wait for the open connections.
  const refuse = async () => {
    server?.close();
    server = null;
  };

  return {
    get port() {
      return port;
    },
    url(t: string) {
      const u = new URL(t);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    forward() {
      mode = 'forward';
      for (const p of pairs) {
        if (!p.upstream) link(p);
        else if (p.client.isPaused()) {
          p.client.pipe(p.upstream);
          p.upstream.pipe(p.client);
        }
      }
    },
    blackhole() {
      mode = 'blackhole';
      for (const p of pairs) {
        // Unpiped and paused: bytes stay in the kernel buffers until forward() pipes them again.
        if (p.upstream) {
          p.client.unpipe(p.upstream);
          p.upstream.unpipe(p.client);
          p.client.pause();
          p.upstream.pause();
        }
      }
    },
    refuse,
    async accept() {
      if (!server) await listen();
    },
    cut(opts = {}) {
      for (const p of [...pairs]) drop(p, opts.reset);
    },
    get connections() {
      return pairs.size;
    },
    async close() {
      for (const p of [...pairs]) drop(p);
      await refuse();
    },
  };
}
