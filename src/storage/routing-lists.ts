import { createHash } from 'node:crypto';
import type { ProviderAttempt, TailStore } from './routing-codec.js';
import { insertRows, type Queryable } from './sql.js';

/** Distinct tails kept in memory; beyond that the cache starts over (ids are stable, writes idempotent). */
const MAX_CACHED = 1024;
/** Tails compared entry by entry before the text is built: the few a deployment's traffic repeats. */
const RECENT = 8;

interface Tail {
  id: string;
  /** Known to be in the database: a committed transaction wrote it, or it was read from there. */
  stored: boolean;
  /** What identifies each entry of a compactable tail: endpoint, provider, model, outcome, reason. */
  fields?: (string | undefined)[];
}

/**
 * The shared tails of routing explanations (routing-codec.ts), table `routing_lists`. A tail's
 * id is a hash of its text, so every process, and every replica on PostgreSQL, derives the same
 * id for the same tail, and writing a tail twice is harmless (`ON CONFLICT DO NOTHING`).
 *
 * A tail is written in the transaction of the first record batch that refers to it and is not
 * known to be stored yet: a record never commits without its tail. The cache maps tail text to id
 * (so a known tail costs one Map look-up, no hashing) and id to text (reads of recent records).
 */
export class RoutingLists {
  private readonly byText = new Map<string, Tail>();
  private readonly byId = new Map<string, string>();
  /**
   * The tails met last, most recent first. Building a tail's text (compact form and stringify, then
   * hashing that fresh string for the Map) cost ~4 µs per record for a dozen endpoints, the same
   * work on every request; comparing the entries' strings with a recent tail's is ~10× cheaper.
   */
  private readonly recent: Tail[] = [];

  /** A TailStore for one batch; `rows` collects the tails the batch must write. */
  batch(rows: Map<string, string>): TailStore {
    const need = (tail: Tail): string => {
      if (!tail.stored) rows.set(tail.id, this.byId.get(tail.id)!);
      return tail.id;
    };
    return {
      known: (entries, from) => {
        const tail = this.match(entries, from);
        return tail && need(tail);
      },
      ref: (text, entries, from) => {
        const tail = this.tail(text);
        tail.fields ??= fieldsOf(entries, from);
        this.remember(tail);
        return need(tail);
      },
    };
  }

  private match(entries: readonly ProviderAttempt[], from: number): Tail | undefined {
    const n = (entries.length - from) * 5;
    for (const tail of this.recent) {
      const f = tail.fields!;
      if (f.length !== n) continue;
      let same = true;
      for (let i = from, j = 0; same && i < entries.length; i++, j += 5) {
        const a = entries[i]!;
        same = a.endpoint === f[j] && a.provider === f[j + 1] && a.model === f[j + 2] && a.outcome === f[j + 3] && a.reason === f[j + 4];
      }
      if (!same) continue;
      // Through the text cache: its entry carries the current stored flag, and a tail evicted
      // from it is not used (its text is needed to write it).
      const text = this.byId.get(tail.id);
      return text === undefined ? undefined : this.byText.get(text);
    }
    return undefined;
  }

  private remember(tail: Tail): void {
    const at = this.recent.indexOf(tail);
    if (at >= 0) this.recent.splice(at, 1);
    else if (this.recent.length >= RECENT) this.recent.pop();
    this.recent.unshift(tail);
  }

  /** After the batch's transaction committed: its tails are stored. */
  stored(ids: Iterable<string>): void {
    for (const id of ids) {
      const text = this.byId.get(id);
      const tail = text === undefined ? undefined : this.byText.get(text);
      if (tail) tail.stored = true;
    }
  }

  /** The text of a tail: from the cache, else from the database (null: not there). */
  async text(q: Queryable, id: string): Promise<string | null> {
    const cached = this.byId.get(id);
    if (cached !== undefined) return cached;
    const rows = await q.query<{ body: string }>('SELECT body FROM routing_lists WHERE id = $1', [id]);
    if (!rows[0]) return null;
    this.tail(rows[0].body).stored = true;
    return rows[0].body;
  }

  private tail(text: string): Tail {
    let tail = this.byText.get(text);
    if (tail) return tail;
    if (this.byText.size >= MAX_CACHED) {
      this.byText.clear();
      this.byId.clear();
    }
    // 128 bits of SHA-256, base64url: 22 characters; a collision would need ~2^64 distinct tails.
    tail = { id: createHash('sha256').update(text).digest('base64url').slice(0, 22), stored: false };
    this.byText.set(text, tail);
    this.byId.set(tail.id, text);
    return tail;
  }
}

/** Entries of a compactable tail are fully described by these five fields (routing-codec.ts). */
function fieldsOf(entries: readonly ProviderAttempt[], from: number): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  for (let i = from; i < entries.length; i++) {
    const a = entries[i]!;
    out.push(a.endpoint, a.provider, a.model, a.outcome, a.reason);
  }
  return out;
}

export function insertRoutingLists(q: Queryable, rows: Map<string, string>): Promise<void> {
  return insertRows(q, 'INSERT INTO routing_lists (id, body)', [...rows], 'ON CONFLICT (id) DO NOTHING', 1000);
}
