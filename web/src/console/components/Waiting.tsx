/** The Waiting list: inbound chats nobody has started (the visitor may have left an email
 * while everyone was away), oldest first. Opening one shows its Start button. */
import { useEffect, useState } from 'preact/hooks';
import { formatDuration } from '../../shared/format';
import { useNow } from '../../shared/hooks';
import type { Api, WaitingItem } from '../api';
import { chatHref, type Route } from '../router';
import type { ConsoleState } from '../state';
import { Avatar } from './ui';

const REFRESH_MS = 30_000;

/** What changes the list: alerts coming and going, conversations being started, reconnects. */
function changeKey(s: ConsoleState): string {
  const open = Object.values(s.conversations)
    .filter((c) => c.status === 'open')
    .map((c) => c.id)
    .sort()
    .join(',');
  const alerts = s.alerts.map((a) => `${a.alert.conversation.id}:${a.takenBy ? 1 : 0}`).join(',');
  // A visitor who starts a chat while nobody is alerted shows up in Live View as in a conversation.
  const chatting = Object.values(s.visitors)
    .map((v) => v.conversation_id ?? '')
    .filter(Boolean)
    .sort()
    .join(',');
  return `${s.connection}|${s.me?.availability ?? ''}|${open}|${alerts}|${chatting}|${Object.keys(s.conversations).length}`;
}

export function Waiting({ api, s, route }: { api: Api; s: ConsoleState; route: Route }) {
  const [items, setItems] = useState<WaitingItem[] | null>(null);
  const now = useNow(REFRESH_MS);
  const key = changeKey(s);
  useEffect(() => {
    let live = true;
    api.waiting().then(
      (list) => live && setItems(list.items),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [api, key, now]);
  const list = items ?? [];
  return (
    <section class="side-section side-waiting" aria-labelledby="waiting-title" data-testid="waiting">
      <h2 id="waiting-title" class="side-heading">
        Waiting <span class="side-count" data-testid="waiting-count">{list.length}</span>
      </h2>
      {list.length === 0 ? (
        <p class="side-empty">{items === null ? 'Loading…' : 'Nobody is waiting.'}</p>
      ) : (
        <ul class="convo-list">
          {list.map((w) => {
            const active = route.name === 'chat' && route.conversationId === w.conversation_id;
            const age = formatDuration(Math.max(0, now - w.created_at * 1000));
            return (
              <li key={w.conversation_id}>
                <a
                  href={chatHref(w.visitor_id, w.conversation_id)}
                  class={`convo-item${active ? ' active' : ''}`}
                  aria-current={active ? 'page' : undefined}
                  data-conversation-id={w.conversation_id}
                  data-testid="waiting-item"
                >
                  <Avatar name={w.visitor_name} tone="visitor" size={30} />
                  <span class="convo-text">
                    <span class="convo-name">
                      {w.visitor_name}
                      {w.online ? <span class="online-dot" title="Online now" /> : null}
                    </span>
                    {w.email && w.email !== w.visitor_name ? <span class="convo-snippet">{w.email}</span> : null}
                    <span class="convo-snippet" title={w.question ?? ''}>
                      {w.question ?? 'No message'}
                    </span>
                    <span class="convo-snippet waiting-age">waiting {age}</span>
                  </span>
                </a>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
