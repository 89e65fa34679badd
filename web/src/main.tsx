// The runway dashboard: sign-in, the navigation, the live stream and the pages.
import './style.css';
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, call, SessionInfo, setCsrfToken, setUnauthenticatedHandler } from './api';
import { LiveState, LiveStream } from './live';
import { ErrorBox } from './components';
import { EnvironmentsPage } from './pages/environments';
import { DeploymentPage } from './pages/deployment';
import { HistoryPage } from './pages/history';
import { AuditPage } from './pages/audit';
import { IncidentsPage } from './pages/incidents';
import { NotificationsPage } from './pages/notifications';

export interface PageProps {
  session: SessionInfo;
  tick: number;
  params: URLSearchParams;
  path: string[];
}

function currentRoute(): { path: string[]; params: URLSearchParams } {
  const hash = window.location.hash.replace(/^#\/?/, '');
  const [path, search] = hash.split('?');
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(search ?? '') };
}

const kNav: [string, string][] = [
  ['environments', 'Environments'],
  ['history', 'History'],
  ['incidents', 'Incidents'],
  ['notifications', 'Notifications'],
  ['audit', 'Audit'],
];

function SignIn({ message, onSignedIn }: { message: string | null; onSignedIn: (s: SessionInfo) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await call<SessionInfo>('POST', '/api/v1/session', { token: token.trim() });
      setToken('');
      onSignedIn(session);
    } catch (err) {
      setError(err instanceof ApiError ? `Sign-in refused: ${err.message}` : String(err));
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <h1>Sign in to runway</h1>
      {message && (
        <p class="notice" role="status">
          {message}
        </p>
      )}
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellcheck={false}
          required
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          aria-describedby="token-help"
        />
        <p id="token-help" class="help">
          A token from <code>runway token create</code> (or the server's <code>admin.token</code>). It is exchanged for a
          session cookie and not kept by the page.
        </p>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy || !token.trim()}>
          Sign in
        </button>
      </form>
    </main>
  );
}

function LiveIndicator({ state }: { state: LiveState }) {
  const text = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', stopped: 'Offline' }[state];
  const glyph = { connecting: '…', live: '●', reconnecting: '↻', stopped: '○' }[state];
  return (
    <span class={`live live-${state}`} role="status" aria-live="polite" data-live={state}>
      <span aria-hidden="true">{glyph}</span> {text}
    </span>
  );
}

function App() {
  const [session, setSession] = useState<SessionInfo | null>(null);
  const [checked, setChecked] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [route, setRoute] = useState(currentRoute());
  const [tick, setTick] = useState(0);
  const [live, setLive] = useState<LiveState>('connecting');
  const stream = useRef<LiveStream | null>(null);

  const signedOut = (why: string | null) => {
    stream.current?.stop();
    stream.current = null;
    setCsrfToken(null);
    setSession(null);
    setMessage(why);
  };

  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    window.addEventListener('hashchange', onHash);
    // A 401 on the first look only means "not signed in yet"; after it, a 401 ends the session.
    const watch = () => setUnauthenticatedHandler(() => signedOut('Your session has ended. Sign in again.'));
    call<SessionInfo>('GET', '/api/v1/session').then(
      (s) => {
        watch();
        setSession(s);
        setChecked(true);
      },
      () => {
        watch();
        setChecked(true);
      },
    );
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  // One live stream while signed in; every batch of events (and every reconnect) makes the
  // page re-read what it shows, at most every 300 ms.
  useEffect(() => {
    if (!session) return;
    setCsrfToken(session.csrfToken);
    let pending: ReturnType<typeof setTimeout> | null = null;
    const bump = () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = null;
        setTick((t) => t + 1);
      }, 300);
    };
    const s = new LiveStream(session.lastEventSeq, {
      events: bump,
      connected: (afterGap) => afterGap && bump(),
      state: setLive,
      unauthenticated: () => signedOut('Your session has ended. Sign in again.'),
    });
    // When the session's time is up, ask the server (which decides) and go to the sign-in.
    const expiry = session.expiresAt
      ? setTimeout(() => {
          call('GET', '/api/v1/session').catch(() => {});
        }, Math.max(0, Date.parse(session.expiresAt) - Date.now()) + 500)
      : null;
    stream.current = s;
    (window as unknown as { runwayLive: LiveStream }).runwayLive = s;
    s.start();
    return () => {
      s.stop();
      if (pending) clearTimeout(pending);
      if (expiry) clearTimeout(expiry);
    };
  }, [session]);

  if (!checked) return <p aria-busy="true">Loading…</p>;
  if (!session) {
    return (
      <SignIn
        message={message}
        onSignedIn={(s) => {
          setMessage(null);
          setSession(s);
        }}
      />
    );
  }

  const signOut = async () => {
    try {
      await call('DELETE', '/api/v1/session');
    } finally {
      signedOut('You signed out.');
    }
  };

  const [section = 'environments'] = route.path;
  const props: PageProps = { session, tick, params: route.params, path: route.path };
  let page;
  switch (section) {
    case 'deployments':
      page = <DeploymentPage {...props} />;
      break;
    case 'history':
      page = <HistoryPage {...props} />;
      break;
    case 'audit':
      page = <AuditPage {...props} />;
      break;
    case 'incidents':
      page = <IncidentsPage {...props} />;
      break;
    case 'notifications':
      page = <NotificationsPage {...props} />;
      break;
    default:
      page = <EnvironmentsPage {...props} />;
  }
  const current = section === 'deployments' ? 'environments' : section;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/environments">
          <img src="/assets/icon.svg" alt="" width={24} height={24} /> runway
        </a>
        <nav aria-label="Sections">
          <ul>
            {kNav.map(([id, label]) => (
              <li key={id}>
                <a href={`#/${id}`} aria-current={current === id ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <LiveIndicator state={live} />
          <span class="identity">
            {session.name} <span class="roles">({session.roles.join(', ')})</span>
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
