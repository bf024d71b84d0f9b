/** The console app: session gate, then the signed-in shell and its pages. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { useStore } from '../shared/hooks';
import type { Api, Session } from './api';
import { ConsoleClient } from './client';
import { AutoPounce } from './components/AutoPounce';
import { ConversationView } from './components/ConversationView';
import { Home } from './components/Home';
import { Knowledge } from './components/Knowledge';
import { LiveView } from './components/LiveView';
import { Login } from './components/Login';
import { FirstRun, SetPassword } from './components/Setup';
import { Blocks } from './components/Blocks';
import { Reports } from './components/Reports';
import { Shell } from './components/Shell';
import { Shortcuts } from './components/Shortcuts';
import { Sites } from './components/Sites';
import { parseRoute, type Route } from './router';

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

const TITLES: Record<Route['name'], string> = {
  home: 'Home',
  live: 'Live View',
  sites: 'Sites',
  shortcuts: 'Shortcuts',
  knowledge: 'Knowledge',
  'auto-pounce': 'Auto pounce',
  reports: 'Reports',
  blocks: 'Blocks',
  chat: 'Conversation',
  'set-password': 'Choose a password',
};

function SignedIn({ api, session, onLogout }: { api: Api; session: Session; onLogout: () => void }) {
  const client = useMemo(() => new ConsoleClient(api, session.user.id, onLogout), [api, session.user.id]);
  useEffect(() => {
    client.start();
    return () => client.stop();
  }, [client]);
  const s = useStore(client);
  const route = useRoute();
  const logout = (): void => {
    client.stop();
    void api.logout().finally(onLogout);
  };
  const admin = (s.me?.role ?? session.user.role) === 'admin';
  let page;
  switch (route.name) {
    case 'live':
      page = <LiveView s={s} client={client} />;
      break;
    case 'sites':
      page = <Sites api={api} admin={admin} />;
      break;
    case 'shortcuts':
      page = <Shortcuts api={api} admin={admin} />;
      break;
    case 'knowledge':
      page = <Knowledge api={api} admin={admin} />;
      break;
    case 'auto-pounce':
      page = <AutoPounce api={api} client={client} s={s} />;
      break;
    case 'reports':
      page = <Reports api={api} s={s} />;
      break;
    case 'blocks':
      page = <Blocks api={api} />;
      break;
    case 'chat':
      page = <ConversationView client={client} api={api} s={s} visitorId={route.visitorId} conversationId={route.conversationId} />;
      break;
    default:
      page = <Home s={s} />;
  }
  return (
    <Shell api={api} client={client} s={s} route={route} title={TITLES[route.name]} onLogout={logout}>
      {page}
    </Shell>
  );
}

export function App({ api }: { api: Api }) {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [setupRequired, setSetupRequired] = useState(false);
  const [bootError, setBootError] = useState(false);
  const route = useRoute();
  useEffect(() => {
    api.onUnauthorized = () => setSession(null);
    // Always a 200 (signed out included), so loading the console logs no failed request.
    api.start().then(
      (start) => {
        setSetupRequired(start.setupRequired);
        setSession(start.session);
      },
      () => setBootError(true),
    );
  }, [api]);
  useEffect(() => {
    if (session === null) document.title = setupRequired ? 'Set up · Pounce' : 'Sign in · Pounce';
  }, [session, setupRequired]);

  if (route.name === 'set-password') {
    return <SetPassword api={api} token={route.token} onDone={setSession} />;
  }
  if (bootError) {
    return (
      <main class="login">
        <div class="login-card" role="alert">
          <h1>Pounce is unreachable</h1>
          <p class="login-sub">Check your connection, then reload the page.</p>
          <button type="button" class="btn btn-primary btn-block" onClick={() => location.reload()}>
            Reload
          </button>
        </div>
      </main>
    );
  }
  if (session === undefined) return <div class="boot" aria-busy="true" />;
  if (session === null && setupRequired) {
    const done = (s: Session): void => {
      setSetupRequired(false);
      setSession(s);
    };
    return <FirstRun api={api} onDone={done} onTaken={() => setSetupRequired(false)} />;
  }
  if (session === null) return <Login api={api} onLogin={setSession} />;
  return <SignedIn key={session.user.id} api={api} session={session} onLogout={() => setSession(null)} />;
}

