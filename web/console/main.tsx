// The console's shell: sign-in with a management key (or none while auth is off), navigation,
// and a router over /console/<page>.
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import './style.css';
import { api, ApiFailure, session, whenUnauthorized, type CurrentKey } from './api';
import { Activity } from './pages/activity';
import { Keys } from './pages/keys';
import { Providers } from './pages/providers';
import { Usage } from './pages/usage';
import { ErrorBox, Spinner } from './ui';

const BASE = '/console';
const PAGES = [
  { path: 'activity', title: 'Activity', icon: 'M3 12h4l3-8 4 16 3-8h4' },
  { path: 'usage', title: 'Usage', icon: 'M4 20V10M10 20V4M16 20v-7M22 20H2' },
  { path: 'providers', title: 'Providers', icon: 'M4 6h16M4 12h16M4 18h16M7 6v0M7 12v0M7 18v0' },
  { path: 'keys', title: 'Keys', icon: 'M15 7a4 4 0 1 1-3.9 5H3v3h3v3h3v-3h2.1A4 4 0 0 1 15 7z' },
];

type Auth = { state: 'checking' } | { state: 'login'; message: string | null } | { state: 'in'; authOff: boolean; label: string | null };

/** The page part of the address: `/console/keys` → ['keys']. */
function route(): string[] {
  const rest = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '';
  return rest.split('/').filter(Boolean).map(decodeURIComponent);
}

async function signIn(key: string | null): Promise<Auth> {
  // Without a key first: an answer means auth is off (no key exists yet) and the console is open.
  try {
    await api<{ data: CurrentKey }>('/key', { key: null });
    return { state: 'in', authOff: true, label: null };
  } catch (e) {
    if (!(e instanceof ApiFailure) || e.status !== 401) return { state: 'login', message: (e as Error).message };
  }
  if (!key) return { state: 'login', message: null };
  try {
    const me = await api<{ data: CurrentKey }>('/key', { key });
    if (!me.data.is_management_key) return { state: 'login', message: 'That is an inference key. The console needs a management key (switchyard keys create --management).' };
    return { state: 'in', authOff: false, label: me.data.label };
  } catch (e) {
    return { state: 'login', message: e instanceof ApiFailure && e.status === 401 ? 'This key is not valid (unknown, disabled or expired).' : (e as Error).message };
  }
}

function Login({ message, onKey }: { message: string | null; onKey: (key: string) => Promise<void> }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <div class="login">
      <form
        class="login-card"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          await onKey(key.trim());
          setBusy(false);
        }}
      >
        <div class="brand big">
          <Logo />
          <span>Switchyard</span>
        </div>
        <h1>Sign in to the console</h1>
        <p class="muted">Paste a management key. It stays in this browser tab only, and is forgotten when the tab closes.</p>
        <label class="field">
          <span>Management key</span>
          <input class="input mono" type="password" name="key" autoComplete="off" autoFocus placeholder="sk-sy-v1-…" value={key} onInput={(e) => setKey(e.currentTarget.value)} required />
        </label>
        <ErrorBox error={message} />
        <button class="button primary wide" type="submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}

function Logo() {
  return (
    <svg class="logo" viewBox="0 0 32 32" aria-hidden="true">
      <rect width="32" height="32" rx="7" />
      <path d="M8 22h6l4-12h6M8 10h6l1.5 4.5M24 22h-6" />
    </svg>
  );
}

function Icon({ d }: { d: string }) {
  return (
    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
      <path d={d} />
    </svg>
  );
}

function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const [path, setPath] = useState(route);

  useEffect(() => {
    void signIn(session.key).then(setAuth);
    whenUnauthorized((message) => {
      session.clear();
      setAuth({ state: 'login', message: `Signed out: ${message}` });
    });
    const onPop = () => setPath(route());
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);

  const navigate = useCallback((to: string) => {
    history.pushState(null, '', BASE + to);
    setPath(route());
  }, []);

  if (auth.state === 'checking') {
    return (
      <div class="login">
        <Spinner />
      </div>
    );
  }
  if (auth.state === 'login') {
    return (
      <Login
        message={auth.message}
        onKey={async (key) => {
          const next = await signIn(key);
          if (next.state === 'in') session.set(key);
          setAuth(next);
        }}
      />
    );
  }

  const page = PAGES.some((p) => p.path === path[0]) ? path[0] : 'activity';
  const link = (to: string) => (e: MouseEvent) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <div class="shell">
      <aside class="sidebar">
        <a class="brand" href={`${BASE}/activity`} onClick={link('/activity')}>
          <Logo />
          <span>Switchyard</span>
        </a>
        <nav class="nav">
          {PAGES.map((p) => (
            <a key={p.path} href={`${BASE}/${p.path}`} class={page === p.path ? 'active' : ''} aria-current={page === p.path ? 'page' : undefined} onClick={link(`/${p.path}`)}>
              <Icon d={p.icon} />
              {p.title}
            </a>
          ))}
        </nav>
        <div class="who">
          {auth.authOff ? (
            <span class="badge badge-warn" title="No key exists: anyone who can reach this gateway can use it">
              auth off
            </span>
          ) : (
            <>
              <span class="mono small who-label" title="Signed in with this management key">
                {auth.label}
              </span>
              <button
                class="button small ghost"
                onClick={() => {
                  session.clear();
                  setAuth({ state: 'login', message: null });
                }}
              >
                Sign out
              </button>
            </>
          )}
        </div>
      </aside>
      <main class="content">
        {page === 'activity' && <Activity genId={path[1] ?? null} navigate={navigate} canManage={!auth.authOff} />}
        {page === 'usage' && <Usage canManage={!auth.authOff} />}
        {page === 'providers' && <Providers />}
        {page === 'keys' && <Keys authOff={auth.authOff} />}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
