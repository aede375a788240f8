// The account's credits changed from the Keys page: add (or take off), set the total, or make the
// account unlimited, each confirmed before it is sent (POST /credits, README: "Keys, credits and limits").
import { useState } from 'preact/hooks';
import { api, type Credits } from '../api';
import { usd } from '../format';
import { ErrorBox, Modal } from '../ui';

type Mode = 'add' | 'set' | 'unlimited';

interface Change {
  mode: Mode;
  /** USD: the amount to add, or the new total; null when unlimited. */
  amount: number | null;
}

/** The change a form describes, or why it cannot be sent. */
function changeOf(mode: Mode, typed: string): Change {
  if (mode === 'unlimited') return { mode, amount: null };
  const text = typed.trim().replace(/^\$/, '');
  const amount = Number(text);
  if (text === '' || !Number.isFinite(amount)) throw new Error('Enter an amount in USD, e.g. 25 or 12.50');
  if (mode === 'set' && amount < 0) throw new Error('The total cannot be below $0');
  if (mode === 'add' && amount === 0) throw new Error('Adding $0 changes nothing');
  return { mode, amount };
}

/** The total the change leaves (null: unlimited); an addition to an unlimited account starts from what is used. */
function totalAfter(c: Change, now: Credits): number | null {
  if (c.mode === 'unlimited') return null;
  if (c.mode === 'set') return c.amount;
  return (now.unlimited ? now.total_usage : now.total_credits) + c.amount!;
}

const bodyOf = (c: Change) => (c.mode === 'unlimited' ? { set: null } : c.mode === 'set' ? { set: c.amount } : { add: c.amount });

export function CreditsDialog({ credits, onClose, onSaved }: { credits: Credits; onClose: () => void; onSaved: (c: Credits) => void }) {
  const [mode, setMode] = useState<Mode>('add');
  const [amount, setAmount] = useState('');
  const [review, setReview] = useState<Change | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const toReview = (e: Event) => {
    e.preventDefault();
    try {
      setReview(changeOf(mode, amount));
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const confirm = async () => {
    if (!review) return;
    setSaving(true);
    setError(null);
    try {
      const r = await api<{ data: Credits }>('/credits', { method: 'POST', body: bodyOf(review) });
      onSaved(r.data);
    } catch (err) {
      setError((err as Error).message);
      setSaving(false);
    }
  };

  const current = credits.unlimited ? 'unlimited' : usd(credits.total_credits);
  if (review) {
    const total = totalAfter(review, credits);
    const what =
      review.mode === 'unlimited'
        ? 'Make the account unlimited: requests are no longer refused for want of credits.'
        : review.mode === 'set'
          ? `Set the total credits to ${usd(review.amount)}.`
          : review.amount! > 0
            ? `Add ${usd(review.amount)} to the credits.`
            : `Take ${usd(-review.amount!)} off the credits.`;
    return (
      <Modal title="Confirm the change" onClose={onClose} label="Confirm credits change">
        <p data-confirm>{what}</p>
        <dl class="facts credits-preview">
          <div class="fact">
            <dt>Total credits now</dt>
            <dd>{current}</dd>
          </div>
          <div class="fact">
            <dt>Afterwards</dt>
            <dd data-after>{total === null ? 'unlimited' : usd(total)}</dd>
          </div>
          {total !== null && (
            <div class="fact">
              <dt>Left to spend</dt>
              <dd>{usd(total - credits.total_usage)}</dd>
            </div>
          )}
        </dl>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <button
            type="button"
            class="button"
            onClick={() => {
              setReview(null);
              setError(null);
            }}
          >
            Back
          </button>
          <button type="button" class="button primary" disabled={saving} onClick={confirm}>
            Confirm
          </button>
        </div>
      </Modal>
    );
  }

  return (
    <Modal title="Change credits" onClose={onClose} label="Change credits">
      <form class="form" onSubmit={toReview}>
        <p class="muted">
          Total credits now: <strong>{current}</strong>, used {usd(credits.total_usage)}. Every key's requests are refused (402) once the credits are used up.
        </p>
        <fieldset class="field">
          <legend>Change</legend>
          <div class="radios">
            <label>
              <input type="radio" name="mode" value="add" checked={mode === 'add'} onChange={() => setMode('add')} /> Add credits <span class="muted small">a negative amount takes some off</span>
            </label>
            <label>
              <input type="radio" name="mode" value="set" checked={mode === 'set'} onChange={() => setMode('set')} /> Set the total
            </label>
            <label>
              <input type="radio" name="mode" value="unlimited" checked={mode === 'unlimited'} onChange={() => setMode('unlimited')} /> Unlimited <span class="muted small">no account balance</span>
            </label>
          </div>
        </fieldset>
        {mode !== 'unlimited' && (
          <label class="field">
            <span>{mode === 'add' ? 'Amount to add (USD)' : 'New total (USD)'}</span>
            <input class="input" name="amount" inputMode="decimal" autoComplete="off" placeholder="e.g. 25" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
          </label>
        )}
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <button type="button" class="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="button primary">
            Review
          </button>
        </div>
      </form>
    </Modal>
  );
}
