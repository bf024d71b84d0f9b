/** The signed-in layout: sidebar (navigation, my conversations), top bar, alert stack. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleClient } from '../client';
import { notificationState, requestNotifications, type NotificationState } from '../notify';
import { chatHref, type Route } from '../router';
import { myConversations, unreadIn, visitorInfo, visitorLabel, type ConsoleState } from '../state';
import { AlertStack } from './AlertStack';
import { Avatar, Icon } from './ui';

interface Props {
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
                    <span class="convo-snippet">{last ? (last.author.kind === 'rep' ? `You: ${last.body}` : last.body) : 'No messages yet'}</span>
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

function UserMenu({ s, onLogout }: { s: ConsoleState; onLogout: () => void }) {
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

function NotificationButton() {
  const [state, setState] = useState<NotificationState>(notificationState);
  if (state !== 'default') return null;
  return (
    <button type="button" class="btn btn-ghost btn-sm" onClick={() => void requestNotifications().then(setState)} data-testid="enable-notifications">
      <Icon name="bell" size={16} /> Enable desktop alerts
    </button>
  );
}

export function Shell({ client, s, route, title, onLogout, children }: Props) {
  const admin = s.me?.role === 'admin';
  const online = Object.keys(s.visitors).length;
  return (
    <div class="shell">
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
          {admin ? (
            <NavLink href="#/sites" active={route.name === 'sites'} testid="nav-sites">
              <Icon name="sites" /> Sites
            </NavLink>
          ) : null}
        </nav>
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
            <AvailabilityToggle client={client} s={s} />
            <UserMenu s={s} onLogout={onLogout} />
          </div>
        </header>
        <main id="main" class="content" tabIndex={-1}>
          {children}
        </main>
      </div>
      <AlertStack s={s} />
    </div>
  );
}
