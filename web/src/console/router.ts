/** Hash routes of the console (hash-based, so the server only ever serves /app/index.html). */

export type Route =
  | { name: 'home' }
  | { name: 'live' }
  | { name: 'sites' }
  | { name: 'chat'; visitorId: string; conversationId: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case 'live':
      return { name: 'live' };
    case 'sites':
      return { name: 'sites' };
    case 'chat':
      if (parts[1] && parts[2]) return { name: 'chat', visitorId: parts[1], conversationId: parts[2] };
      return { name: 'home' };
    default:
      return { name: 'home' };
  }
}

export function href(route: Route): string {
  switch (route.name) {
    case 'home':
      return '#/';
    case 'live':
      return '#/live';
    case 'sites':
      return '#/sites';
    case 'chat':
      return `#/chat/${encodeURIComponent(route.visitorId)}/${encodeURIComponent(route.conversationId)}`;
  }
}

export const chatHref = (visitorId: string, conversationId: string): string =>
  href({ name: 'chat', visitorId, conversationId });
