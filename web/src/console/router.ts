/** Hash routes of the console (hash-based, so the server only ever serves /app/index.html). */

export type Route =
  | { name: 'home' }
  | { name: 'live' }
  | { name: 'sites' }
  | { name: 'shortcuts' }
  | { name: 'knowledge' }
  | { name: 'auto-pounce' }
  | { name: 'reports' }
  | { name: 'blocks' }
  | { name: 'chat'; visitorId: string; conversationId: string }
  /** A one-time link from `pounce org add`: choose a password (shown signed in or not). */
  | { name: 'set-password'; token: string };

/** Pages whose route is just their name. */
const PAGES = ['live', 'sites', 'shortcuts', 'knowledge', 'auto-pounce', 'reports', 'blocks'] as const;
type Page = (typeof PAGES)[number];

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const first = parts[0] ?? '';
  if ((PAGES as readonly string[]).includes(first)) return { name: first as Page };
  if (first === 'chat' && parts[1] && parts[2]) return { name: 'chat', visitorId: parts[1], conversationId: parts[2] };
  if (first === 'set-password' && parts[1]) return { name: 'set-password', token: parts[1] };
  return { name: 'home' };
}

export function href(route: Route): string {
  switch (route.name) {
    case 'home':
      return '#/';
    case 'chat':
      return `#/chat/${encodeURIComponent(route.visitorId)}/${encodeURIComponent(route.conversationId)}`;
    case 'set-password':
      return `#/set-password/${encodeURIComponent(route.token)}`;
    default:
      return `#/${route.name}`;
  }
}

export const chatHref = (visitorId: string, conversationId: string): string =>
  href({ name: 'chat', visitorId, conversationId });
