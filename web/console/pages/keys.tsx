// Keys: list, create (the key shown once), disable and enable, limits and rate limits, delete;
// the account's credits, and changing them (credits.tsx). Everything through the key management API (README: "Keys, credits and limits").
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type ApiKey, type Credits } from '../api';
import { date, dateTime, int, usd } from '../format';
import { Empty, ErrorBox, Modal, PageHeader, Spinner, Stat } from '../ui';
import { CreditsDialog } from './credits';

const INTERVALS = ['10s', '1m', '1h', '1d'];

/** The form's fields as typed; empty means "none". */
interface KeyForm {
  name: string;
  management: boolean;
  limit: string;
  limitReset: string;
  requests: string;
  interval: string;
  tokensPerMinute: string;
  expiresAt: string;
}

const BLANK: KeyForm = { name: '', management: false, limit: '', limitReset: '', requests: '', interval: '1m', tokensPerMinute: '', expiresAt: '' };

function formOf(k: ApiKey): KeyForm {
  const rl = k.rate_limit;
  const local = k.expires_at ? new Date(Date.parse(k.expires_at) - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16) : '';
  return {
    name: k.name,
    management: k.is_management_key,
    limit: k.limit === null ? '' : String(k.limit),
    limitReset: k.limit_reset ?? '',
    requests: rl.requests > 0 ? String(rl.requests) : '',
    interval: rl.requests > 0 ? rl.interval : '1m',
    tokensPerMinute: rl.tokens_per_minute ? String(rl.tokens_per_minute) : '',
    expiresAt: local,
  };
}

/** The API body of a form: limits and rate limits in the key API's fields. */
function bodyOf(f: KeyForm, creating: boolean): Record<string, unknown> {
  const num = (v: string, what: string, integer: boolean) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || (integer && (!Number.isInteger(n) || n < 1))) throw new Error(`${what} must be ${integer ? 'a whole number of at least 1' : 'a number of at least 0'}`);
    return n;
  };
  const body: Record<string, unknown> = {
    name: f.name.trim(),
    limit: f.limit.trim() === '' ? null : num(f.limit, 'Credit limit', false),
    limit_reset: f.limitReset || null,
    rate_limit:
      f.requests.trim() === '' && f.tokensPerMinute.trim() === ''
        ? null
        : {
            requests: f.requests.trim() === '' ? null : num(f.requests, 'Requests', true),
            interval: f.interval,
            tokens_per_minute: f.tokensPerMinute.trim() === '' ? null : num(f.tokensPerMinute, 'Tokens per minute', true),
          },
  };
  if (!body.name) throw new Error('A name is required');
  if (creating) {
    body.management = f.management;
    if (f.expiresAt) body.expires_at = new Date(f.expiresAt).toISOString();
  } else {
    body.expires_at = f.expiresAt ? new Date(f.expiresAt).toISOString() : null;
  }
  return body;
}

function rateText(k: ApiKey): string {
  const parts: string[] = [];
  if (k.rate_limit.requests > 0) parts.push(`${int(k.rate_limit.requests)} / ${k.rate_limit.interval}`);
  if (k.rate_limit.tokens_per_minute) parts.push(`${int(k.rate_limit.tokens_per_minute)} tok/min`);
  return parts.length > 0 ? parts.join(' · ') : 'default';
}

export function Keys({ authOff }: { authOff: boolean }) {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [credits, setCredits] = useState<Credits | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<ApiKey | 'new' | null>(null);
  const [created, setCreated] = useState<{ key: string; name: string } | null>(null);
  const [deleting, setDeleting] = useState<ApiKey | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [changingCredits, setChangingCredits] = useState(false);

  const load = () => {
    api<{ data: Credits }>('/credits').then(
      (r) => setCredits(r.data),
      () => undefined,
    );
    if (authOff) return;
    api<{ data: ApiKey[] }>('/keys?include_disabled=true').then(
      (r) => {
        setKeys(r.data);
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  };
  useEffect(load, [authOff]);

  const toggle = async (k: ApiKey) => {
    setBusy(k.hash);
    try {
      await api(`/keys/${k.hash}`, { method: 'PATCH', body: { disabled: !k.disabled } });
      load();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(null);
    }
  };

  const remove = async (k: ApiKey) => {
    try {
      await api(`/keys/${k.hash}`, { method: 'DELETE' });
      setDeleting(null);
      load();
    } catch (e) {
      setError((e as Error).message);
      setDeleting(null);
    }
  };

  const remaining = credits && !credits.unlimited ? credits.total_credits - credits.total_usage : null;

  return (
    <section>
      <PageHeader title="Keys" subtitle="API keys of this gateway and the account's credits.">
        {!authOff && credits && (
          <button class="button" onClick={() => setChangingCredits(true)}>
            Change credits
          </button>
        )}
        {!authOff && (
          <button class="button primary" onClick={() => setEditing('new')}>
            Create key
          </button>
        )}
      </PageHeader>
      {credits && (
        <div class="stats">
          <Stat label="Credits" value={credits.unlimited ? 'Unlimited' : usd(credits.total_credits)} hint={credits.unlimited ? 'No account balance set' : undefined} />
          <Stat label="Used" value={usd(credits.total_usage)} />
          <Stat label="Remaining" value={remaining === null ? '∞' : usd(remaining)} />
          <Stat label="Keys" value={keys ? `${keys.filter((k) => !k.disabled).length} active` : authOff ? 'none' : '—'} hint={keys ? `${keys.filter((k) => k.disabled).length} disabled` : undefined} />
        </div>
      )}
      <ErrorBox error={error} />
      {authOff ? (
        <div class="card">
          <Empty>
            Auth is off: no key exists yet, so the gateway answers anyone on this host. Create the first management key with{' '}
            <code>switchyard keys create --management --label ops</code>, then sign in here with it.
          </Empty>
        </div>
      ) : !keys ? (
        !error && (
          <div class="card pad center">
            <Spinner />
          </div>
        )
      ) : keys.length === 0 ? (
        <div class="card">
          <Empty>No keys.</Empty>
        </div>
      ) : (
        <div class="card flush">
          <table class="table keys-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>State</th>
                <th class="num">Usage</th>
                <th class="num">Limit</th>
                <th>Rate limit</th>
                <th>Created</th>
                <th class="actions-col" />
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => {
                const expired = k.expires_at !== null && Date.parse(k.expires_at) <= Date.now();
                return (
                  <tr key={k.hash} data-key={k.name} class={k.disabled ? 'dim' : ''}>
                    <td data-label="Name">
                      <div class="key-name">
                        {k.name}
                        {k.is_management_key && <span class="tag tag-accent">management</span>}
                      </div>
                      <div class="mono muted small nowrap" title={`hash ${k.hash}`}>
                        {k.label}
                      </div>
                    </td>
                    <td data-label="State">
                      <span class={`badge badge-${k.disabled ? 'muted' : expired ? 'warn' : 'ok'}`} data-state>
                        {k.disabled ? 'disabled' : expired ? 'expired' : 'active'}
                      </span>
                    </td>
                    <td class="num" data-label="Usage" title={`today ${usd(k.usage_daily)} · this month ${usd(k.usage_monthly)}`}>
                      {usd(k.usage)}
                      <div class="muted small">{usd(k.usage_monthly)} this month</div>
                    </td>
                    <td class="num" data-label="Limit">
                      {k.limit === null ? (
                        <span class="muted">none</span>
                      ) : (
                        <>
                          {usd(k.limit_remaining)} left of {usd(k.limit)}
                          <div class="muted small">{k.limit_reset ? `resets ${k.limit_reset}` : 'never resets'}</div>
                        </>
                      )}
                    </td>
                    <td data-label="Rate limit">{rateText(k)}</td>
                    <td data-label="Created" class="nowrap" title={dateTime(k.created_at)}>
                      {date(k.created_at)}
                      {k.expires_at && <div class="muted small">expires {date(k.expires_at)}</div>}
                    </td>
                    <td class="actions-col">
                      <div class="row-actions">
                        <button class="button small" onClick={() => setEditing(k)}>
                          Edit
                        </button>
                        <button class="button small" disabled={busy === k.hash} onClick={() => toggle(k)}>
                          {k.disabled ? 'Enable' : 'Disable'}
                        </button>
                        <button class="button small danger" onClick={() => setDeleting(k)}>
                          Delete
                        </button>
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {editing && (
        <KeyDialog
          existing={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(plaintext, name) => {
            setEditing(null);
            if (plaintext) setCreated({ key: plaintext, name });
            load();
          }}
        />
      )}
      {changingCredits && credits && (
        <CreditsDialog
          credits={credits}
          onClose={() => setChangingCredits(false)}
          onSaved={(c) => {
            setChangingCredits(false);
            setCredits(c);
          }}
        />
      )}
      {created && <CreatedDialog created={created} onClose={() => setCreated(null)} />}
      {deleting && (
        <Modal
          title="Delete key"
          onClose={() => setDeleting(null)}
          footer={
            <>
              <button class="button" onClick={() => setDeleting(null)}>
                Cancel
              </button>
              <button class="button danger solid" onClick={() => remove(deleting)}>
                Delete key
              </button>
            </>
          }
        >
          <p>
            Delete <strong>{deleting.name}</strong> (<span class="mono">{deleting.label}</span>)? Requests with it are refused at once, on every replica. Its generation records stay. This cannot
            be undone.
          </p>
        </Modal>
      )}
    </section>
  );
}

function KeyDialog({ existing, onClose, onSaved }: { existing: ApiKey | null; onClose: () => void; onSaved: (plaintext: string | null, name: string) => void }) {
  const [form, setForm] = useState<KeyForm>(existing ? formOf(existing) : BLANK);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const set = (patch: Partial<KeyForm>) => setForm((f) => ({ ...f, ...patch }));
  const submit = async (e: Event) => {
    e.preventDefault();
    setSaving(true);
    setError(null);
    try {
      const body = bodyOf(form, existing === null);
      // An unchanged expiry is left alone (one already past could not be set again).
      if (existing && form.expiresAt === formOf(existing).expiresAt) delete body.expires_at;
      if (existing) {
        await api(`/keys/${existing.hash}`, { method: 'PATCH', body });
        onSaved(null, form.name);
      } else {
        const r = await api<{ key: string }>('/keys', { method: 'POST', body });
        onSaved(r.key, form.name);
      }
    } catch (err) {
      setError((err as Error).message);
      setSaving(false);
    }
  };
  return (
    <Modal title={existing ? `Edit ${existing.name}` : 'Create key'} onClose={onClose} label={existing ? 'Edit key' : 'Create key'}>
      <form class="form" onSubmit={submit}>
        <label class="field">
          <span>Name</span>
          <input class="input" name="name" required maxLength={200} value={form.name} onInput={(e) => set({ name: e.currentTarget.value })} placeholder="e.g. team-a production" />
        </label>
        {!existing && (
          <fieldset class="field">
            <legend>Kind</legend>
            <div class="radios">
              <label>
                <input type="radio" name="kind" checked={!form.management} onChange={() => set({ management: false })} /> Inference <span class="muted small">calls models</span>
              </label>
              <label>
                <input type="radio" name="kind" checked={form.management} onChange={() => set({ management: true })} /> Management <span class="muted small">manages keys, reads everything</span>
              </label>
            </div>
          </fieldset>
        )}
        <div class="field-row">
          <label class="field">
            <span>Credit limit (USD)</span>
            <input class="input" name="limit" inputMode="decimal" placeholder="none" value={form.limit} onInput={(e) => set({ limit: e.currentTarget.value })} />
          </label>
          <label class="field">
            <span>Limit resets</span>
            <select class="input" name="limit_reset" value={form.limitReset} onChange={(e) => set({ limitReset: e.currentTarget.value })}>
              <option value="">never</option>
              <option value="daily">daily</option>
              <option value="weekly">weekly (Monday)</option>
              <option value="monthly">monthly</option>
            </select>
          </label>
        </div>
        <div class="field-row">
          <label class="field">
            <span>Rate limit: requests</span>
            <input class="input" name="requests" inputMode="numeric" placeholder="default" value={form.requests} onInput={(e) => set({ requests: e.currentTarget.value })} />
          </label>
          <label class="field">
            <span>per</span>
            <select class="input" name="interval" value={form.interval} onChange={(e) => set({ interval: e.currentTarget.value })}>
              {[...new Set([...INTERVALS, form.interval])].map((i) => (
                <option value={i} key={i}>
                  {i}
                </option>
              ))}
            </select>
          </label>
          <label class="field">
            <span>Tokens per minute</span>
            <input class="input" name="tokens_per_minute" inputMode="numeric" placeholder="none" value={form.tokensPerMinute} onInput={(e) => set({ tokensPerMinute: e.currentTarget.value })} />
          </label>
        </div>
        <label class="field">
          <span>Expires</span>
          <input class="input" type="datetime-local" name="expires_at" value={form.expiresAt} onInput={(e) => set({ expiresAt: e.currentTarget.value })} />
        </label>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <button type="button" class="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={saving}>
            {existing ? 'Save' : 'Create key'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function CreatedDialog({ created, onClose }: { created: { key: string; name: string }; onClose: () => void }) {
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    field.current?.select();
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied(true);
    } catch {
      // No clipboard access (plain HTTP on another host): the key is selected for Ctrl+C.
    }
  };
  return (
    <Modal
      title="Key created"
      onClose={onClose}
      label="Key created"
      footer={
        <button class="button primary" onClick={onClose}>
          Done
        </button>
      }
    >
      <p>
        Copy the key of <strong>{created.name}</strong> now. <strong>It is shown only once</strong>: the gateway keeps only its hash.
      </p>
      <div class="secret">
        <input class="input mono" readOnly value={created.key} ref={field} onFocus={(e) => e.currentTarget.select()} aria-label="New key" data-secret />
        <button class="button" onClick={copy}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
    </Modal>
  );
}
