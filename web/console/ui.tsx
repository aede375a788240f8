// Small pieces every page uses.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export function StatusBadge({ status, cancelled }: { status: number | null; cancelled?: boolean }) {
  if (cancelled) return <span class="badge badge-muted">cancelled</span>;
  if (status === null) return <span class="badge badge-muted">—</span>;
  const tone = status < 300 ? 'ok' : status === 429 ? 'warn' : status < 500 ? 'warn' : 'bad';
  return <span class={`badge badge-${tone}`}>{status}</span>;
}

const OUTCOME_TONE: Record<string, string> = { served: 'ok', failed: 'bad', skipped: 'muted', 'not tried': 'faint' };

export function OutcomeBadge({ outcome }: { outcome: string }) {
  return <span class={`badge badge-${OUTCOME_TONE[outcome] ?? 'muted'}`}>{outcome}</span>;
}

export function ErrorBox({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <div class="error-box" role="alert">
      {error}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

export function Spinner() {
  return <span class="spinner" aria-label="Loading" />;
}

export function PageHeader({ title, subtitle, children }: { title: string; subtitle?: string; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle && <p class="subtitle">{subtitle}</p>}
      </div>
      {children && <div class="page-actions">{children}</div>}
    </header>
  );
}

export function Stat({ label, value, hint }: { label: string; value: ComponentChildren; hint?: ComponentChildren }) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {hint && <div class="stat-hint">{hint}</div>}
    </div>
  );
}

/** A dialog over the page; Escape or the backdrop closes it. `side` slides it in from the right. */
export function Modal({ title, onClose, children, side, footer, label }: { title: ComponentChildren; onClose: () => void; children: ComponentChildren; side?: boolean; footer?: ComponentChildren; label?: string }) {
  const box = useRef<HTMLDivElement>(null);
  // The latest onClose, so the page behind re-rendering (live polling) neither re-binds nor re-focuses.
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && close.current();
    document.addEventListener('keydown', onKey);
    box.current?.focus();
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  return (
    <div class={`backdrop${side ? ' backdrop-side' : ''}`} onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class={side ? 'drawer' : 'dialog'} role="dialog" aria-modal="true" aria-label={label} tabIndex={-1} ref={box}>
        <div class="dialog-head">
          <h2>{title}</h2>
          <button class="icon-button" onClick={onClose} aria-label="Close">
            ×
          </button>
        </div>
        <div class="dialog-body">{children}</div>
        {footer && <div class="dialog-foot">{footer}</div>}
      </div>
    </div>
  );
}

/** Calls `f` every `ms` while the tab is visible, and once at once. */
export function usePolling(f: () => void, ms: number, active = true, deps: unknown[] = []) {
  const latest = useRef(f);
  latest.current = f;
  useEffect(() => {
    if (!active) return;
    latest.current();
    const timer = setInterval(() => document.visibilityState === 'visible' && latest.current(), ms);
    return () => clearInterval(timer);
  }, [ms, active, ...deps]);
}
