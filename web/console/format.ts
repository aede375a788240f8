// How figures read in the console: money in USD with enough digits for fractions of a cent,
// tokens grouped, durations in ms or s, times relative when recent.

const grouped = new Intl.NumberFormat('en-US');
const compactFormat = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

export function usd(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (v === 0) return '$0';
  const abs = Math.abs(v);
  if (abs >= 100) return `$${v.toFixed(0)}`;
  if (abs >= 1) return `$${v.toFixed(2)}`;
  if (abs >= 0.01) return `$${v.toFixed(4)}`;
  return `$${v.toPrecision(3).replace(/\.?0+(e|$)/, '$1')}`;
}

export function int(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : grouped.format(v);
}

export function compact(v: number): string {
  return compactFormat.format(v);
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(v < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(v / 60_000)} m ${Math.round((v % 60_000) / 1000)} s`;
}

/** A fraction (0.25) as a percentage (25%). */
export function percent(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  const p = Math.round(v * 1000) / 10;
  return `${Number.isInteger(p) ? p : p.toFixed(1)}%`;
}

export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function date(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' }) : '—';
}

export function shortTime(iso: string): string {
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return d.toLocaleString(undefined, today ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** A model id without its author, for narrow columns (`moonshotai/kimi-k2` → `kimi-k2`). */
export function modelShort(id: string | null): string {
  if (!id) return '—';
  const i = id.indexOf('/');
  return i >= 0 ? id.slice(i + 1) : id;
}

/** Price per token (catalog strings) as USD per million tokens. */
export function perMillion(price: string | undefined): string {
  const n = Number(price ?? 0) * 1e6;
  if (!Number.isFinite(n)) return '—';
  return `$${n < 1 ? n.toFixed(3) : n.toFixed(2)}`;
}
