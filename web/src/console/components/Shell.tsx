/** The signed-in layout: sidebar (navigation, my conversations), top bar, alert stack. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { previewText } from '../../shared/format';
import type { Api } from '../api';
import type { ConsoleClient } from '../client';
import { notificationState, requestNotifications, type NotificationState } from '../notify';
import { chatHref, type Route } from '../router';
import { myConversations, unreadIn, visitorInfo, visitorLabel, type ConsoleState } from '../state';
import { AlertStack } from './AlertStack';
import { TransferNotices } from './Owner';
import { Avatar, Icon, problem, Switch } from './ui';
import { VisitorPanel } from './VisitorPanel';
import { Waiting } from './Waiting';

interface Props {
  api: Api;
  client: ConsoleClient;
  s: ConsoleState;
  route: Route;
  title: string;
  onLogout: () => void;
  children: ComponentChildren;
}

function NavLink(props: { href: string; active: boolean; children: ComponentChildren; testid?: string }) {
  return (
    <a href={props.href} class={`nav-link${props.active ? ' active' : ''}`} aria-current={props.active ? 'page' : undefined} data-testid={props.testid}>
      {props.children}
    </a>
  );
}

function MyConversations({ s, route }: { s: ConsoleState; route: Route }) {
  const list = myConversations(s);
  return (
    <section class="side-section" aria-labelledby="my-conversations-title" data-testid="my-conversations">
      <h2 id="my-conversations-title" class="side-heading">
        My conversations <span class="side-count">{list.length}</span>
      </h2>
      {list.length === 0 ? (
        <p class="side-empty">No open conversations. Start one from an alert.</p>
      ) : (
        <ul class="convo-list">
          {list.map((c) => {
            const v = visitorInfo(s, c.visitor_id);
            const name = visitorLabel(v, c.visitor_id);
            const msgs = s.log[c.id];
            const last = msgs && msgs.length ? msgs[msgs.length - 1]! : null;
            const unread = unreadIn(s, c.id);
            const active = route.name === 'chat' && route.conversationId === c.id;
            return (
              <li key={c.id}>
                <a
                  href={chatHref(c.visitor_id, c.id)}
                  class={`convo-item${active ? ' active' : ''}${unread ? ' unread' : ''}`}
                  aria-current={active ? 'page' : undefined}
                  data-conversation-id={c.id}
                >
                  <Avatar name={name} tone="visitor" size={30} />
                  <span class="convo-text">
                    <span class="convo-name">{name}</span>
                    <span class="convo-snippet">{last ? (last.author.kind === 'rep' ? `${last.author.id === s.me?.id ? 'You' : (last.author.name ?? 'Rep')}: ${previewText(last.html)}` : previewText(last.html)) : 'No messages yet'}</span>
                  </span>
                  {unread ? (
                    <span class="unread-dot" data-testid="unread-dot">
                      <span class="sr-only">{unread} unread</span>
                    </span>
                  ) : null}
                </a>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

function AutoPounceSwitch({ client, s }: { client: ConsoleClient; s: ConsoleState }) {
  const [error, setError] = useState<string | null>(null);
  const on = !!s.me?.auto_pounce;
  const orgOff = s.proactive ? !s.proactive.auto_pounce_enabled : false;
  return (
    <div class="menu-switch">
      <Switch
        on={on}
        tone="purple"
        label="Enable auto pounce"
        testid="auto-pounce-toggle"
        onChange={(next) => {
          setError(null);
          client.setAutoPounce(next).catch((e: unknown) => setError(problem(e, 'Could not change auto pounce.')));
        }}
      />
      <p class={`menu-note${error ? ' is-error' : ''}`}>
        {error ??
          (orgOff
            ? 'Auto pounce is off for your organisation; an admin can turn it on.'
            : on
              ? 'Greets matching visitors as you while you are Available. Turn it off when you step away.'
              : 'Off: visitors are not greeted on your behalf.')}
      </p>
    </div>
  );
}

function UserMenu({ client, s, onLogout }: { client: ConsoleClient; s: ConsoleState; onLogout: () => void }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: Event): void => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') setOpen(false);
    };
    document.addEventListener('pointerdown', onDown);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('pointerdown', onDown);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);
  const me = s.me;
  if (!me) return null;
  return (
    <div class="user-menu" ref={ref}>
      <button type="button" class="user-button" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="user-menu">
        <Avatar name={me.name} url={me.avatar_url} size={30} />
        <span class="user-name">{me.name}</span>
        <span class="chevron" aria-hidden="true">▾</span>
      </button>
      {open ? (
        <div class="menu" role="menu">
          <div class="menu-head">
            <strong>{me.name}</strong>
            <span>{me.email}</span>
            <span class="role-pill">{me.role}</span>
          </div>
          <AutoPounceSwitch client={client} s={s} />
          <button type="button" role="menuitem" class="menu-item" onClick={onLogout} data-testid="logout">
            <Icon name="logout" size={16} /> Log out
          </button>
        </div>
      ) : null}
    </div>
  );
}

function AvailabilityToggle({ client, s }: { client: ConsoleClient; s: ConsoleState }) {
  const available = s.me?.availability === 'available';
  return (
    <button
      type="button"
      role="switch"
      aria-checked={available}
      class={`availability ${available ? 'is-available' : 'is-away'}`}
      onClick={() => client.setAvailability(available ? 'away' : 'available')}
      disabled={s.connection !== 'online'}
      data-testid="availability-toggle"
      data-status={available ? 'available' : 'away'}
    >
      <span class="availability-track" aria-hidden="true">
        <span class="availability-thumb" />
      </span>
      <span>{available ? 'Available' : 'Away'}</span>
    </button>
  );
}

/** The server switched my auto pounce off (a missed response): why, and the way back. */
function AutoPounceNotice({ client, s }: { client: ConsoleClient; s: ConsoleState }) {
  const n = s.autoPounceNotice;
  if (!n || s.me?.auto_pounce) return null;
  const c = n.conversationId ? s.conversations[n.conversationId] : undefined;
  const who = c ? visitorLabel(visitorInfo(s, c.visitor_id), c.visitor_id) : null;
  return (
    <div class="notice notice-purple" role="alert" data-testid="auto-pounce-notice" data-reason={n.reason}>
      <Icon name="bolt" size={18} />
      <div class="notice-text">
        <strong>Auto pounce was switched off</strong>
        <span>
          {n.reason === 'missed_response'
            ? `You missed a response${who ? ` from ${who}` : ''}: the visitor replied and the rep timeout ran out. The chat was handed to another rep.`
            : 'It was switched off.'}
        </span>
      </div>
      <button type="button" class="btn btn-secondary btn-sm" onClick={() => void client.setAutoPounce(true).catch(() => {})} data-testid="auto-pounce-reenable">
        Turn it back on
      </button>
      <button type="button" class="icon-button" aria-label="Dismiss" onClick={() => client.dispatch({ type: 'dismiss_auto_pounce_notice' })}>
        <Icon name="x" size={16} />
      </button>
    </div>
  );
}

function AutoPounceIndicator({ s }: { s: ConsoleState }) {
  if (!s.me?.auto_pounce) return null;
  const orgOff = s.proactive ? !s.proactive.auto_pounce_enabled : false;
  const title = orgOff ? 'Auto pounce is on for you, but off for your organisation' : 'Auto pounce is on: visitors may be greeted as you';
  return (
    <span class={`auto-indicator${orgOff ? ' is-idle' : ''}`} title={title} role="img" aria-label={title} data-testid="auto-pounce-indicator">
      <Icon name="bolt" size={16} />
    </span>
  );
}

function NotificationButton() {
  const [state, setState] = useState<NotificationState>(notificationState);
  if (state !== 'default') return null;
  return (
    <button type="button" class="btn btn-ghost btn-sm" onClick={() => void requestNotifications().then(setState)} data-testid="enable-notifications">
      <Icon name="bell" size={16} /> Enable desktop alerts
    </button>
  );
}

export function Shell({ api, client, s, route, title, onLogout, children }: Props) {
  const admin = s.me?.role === 'admin';
  const online = Object.keys(s.visitors).length;
  return (
    <div class="shell" data-ready={s.welcomed ? 'true' : 'false'}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <aside class="sidebar">
        <div class="brand">
          <span class="logo-mark" aria-hidden="true">P</span>
          <span class="brand-text">
            <span class="logo-word">Pounce</span>
            <span class="brand-org">{s.org?.name ?? ''}</span>
          </span>
        </div>
        <nav class="nav" aria-label="Main">
          <NavLink href="#/" active={route.name === 'home'} testid="nav-home">
            <Icon name="home" /> Home
          </NavLink>
          <NavLink href="#/live" active={route.name === 'live'} testid="nav-live">
            <Icon name="live" /> Live View {online ? <span class="nav-count">{online}</span> : null}
          </NavLink>
          <NavLink href="#/shortcuts" active={route.name === 'shortcuts'} testid="nav-shortcuts">
            <Icon name="slash" /> Shortcuts
          </NavLink>
          <NavLink href="#/reports" active={route.name === 'reports'} testid="nav-reports">
            <Icon name="chart" /> Reports
          </NavLink>
          {admin ? (
            <>
              <span class="nav-heading">Admin</span>
              <NavLink href="#/auto-pounce" active={route.name === 'auto-pounce'} testid="nav-auto-pounce">
                <Icon name="bolt" /> Auto pounce
              </NavLink>
              <NavLink href="#/knowledge" active={route.name === 'knowledge'} testid="nav-knowledge">
                <Icon name="book" /> Knowledge
              </NavLink>
              <NavLink href="#/sites" active={route.name === 'sites'} testid="nav-sites">
                <Icon name="sites" /> Sites
              </NavLink>
              <NavLink href="#/blocks" active={route.name === 'blocks'} testid="nav-blocks">
                <Icon name="page" /> Blocks
              </NavLink>
            </>
          ) : null}
        </nav>
        <Waiting api={api} s={s} route={route} />
        <MyConversations s={s} route={route} />
      </aside>
      <div class="main-col">
        <header class="topbar">
          <h1 class="page-title">{title}</h1>
          <div class="topbar-actions">
            {s.connection === 'offline' || s.connection === 'connecting' ? (
              <span class="conn-status" role="status" data-testid="connection-status">
                <span class="spinner" aria-hidden="true" /> {s.me ? 'Reconnecting…' : 'Connecting…'}
              </span>
            ) : null}
            <NotificationButton />
            <AutoPounceIndicator s={s} />
            <AvailabilityToggle client={client} s={s} />
            <UserMenu client={client} s={s} onLogout={onLogout} />
          </div>
        </header>
        <AutoPounceNotice client={client} s={s} />
        <TransferNotices client={client} s={s} />
        <div class="main-row">
          <main id="main" class="content" tabIndex={-1}>
            {children}
          </main>
          {s.panelVisitor && route.name !== 'chat' ? <VisitorDrawer client={client} s={s} visitorId={s.panelVisitor} /> : null}
        </div>
      </div>
      <AlertStack s={s} />
    </div>
  );
}

/** Visitor 360 opened from a list (Live View): beside the page until closed. */
function VisitorDrawer({ client, s, visitorId }: { client: ConsoleClient; s: ConsoleState; visitorId: string }) {
  const close = (): void => client.dispatch({ type: 'open_visitor', visitorId: null });
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') close();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [client]);
  return (
    <div class="v360-drawer">
      <VisitorPanel s={s} client={client} visitorId={visitorId} onClose={close} />
    </div>
  );
}
