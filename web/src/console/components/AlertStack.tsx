/** Incoming chats routed to me: a card per alert, on every page, until someone takes it. */
import { formatClock } from '../../shared/format';
import { RichText } from '../../shared/RichText';
import { identify, pageLabel, visitorFacts } from '../identity';
import { chatHref } from '../router';
import type { AlertEntry, ConsoleState } from '../state';
import { Avatar, Countdown, Icon } from './ui';

function AlertCard({ entry, meId }: { entry: AlertEntry; meId: string | undefined }) {
  const { alert, takenBy } = entry;
  const v = alert.visitor;
  const { label: name, via } = identify(v, alert.conversation.visitor_id);
  const href = chatHref(alert.conversation.visitor_id, alert.conversation.id);
  const sub = visitorFacts(v);
  const deadline = typeof alert.deadline === 'number' && !takenBy ? alert.deadline : null;
  const source = alert.conversation.source;
  // Handed to me by a transfer: it is already mine, there is nothing to start.
  const transferred = !!meId && alert.conversation.owner?.id === meId && !deadline;
  const kind = transferred
    ? 'Transferred to you'
    : deadline
    ? 'Auto pounce reply'
    : alert.conversation.outcome === 'missed_response'
      ? 'Missed auto pounce'
      : source === 'inbound'
        ? 'New chat'
        : 'Pounce reply';
  return (
    <article
      class={`alert-card${takenBy ? ' is-taken' : ''}${alert.conversation.source === 'auto_pounce' ? ' is-auto' : ''}`}
      data-testid="alert-card"
      data-conversation-id={alert.conversation.id}
      aria-label={`New chat from ${name}`}
      onClick={(e) => {
        // The whole card opens the conversation, except links inside the message.
        if (!(e.target as Element).closest('a')) location.hash = href;
      }}
    >
      <header class="alert-head">
        <Avatar name={name} tone="visitor" size={36} />
        <div class="alert-who">
          <strong data-testid="alert-visitor">{name}</strong>
          {sub ? <span data-testid="alert-facts">{sub}</span> : null}
        </div>
        <span class="alert-kind">{kind}</span>
      </header>
      {deadline ? (
        <div class="alert-deadline">
          <span>Reply or mark it within</span>
          <Countdown deadline={deadline} />
        </div>
      ) : null}
      {v.current_page && via !== 'page' ? (
        <p class="alert-page" title={v.current_page.url} data-testid="alert-page">
          <Icon name="page" size={14} /> {pageLabel(v.current_page)}
        </p>
      ) : null}
      {alert.message ? <RichText class="alert-message rich" html={alert.message.html} openImageLabel="Open image" /> : null}
      <footer class="alert-foot">
        <time dateTime={alert.message?.created_at ?? alert.conversation.created_at}>
          {formatClock(alert.message?.created_at ?? alert.conversation.created_at)}
        </time>
        {takenBy ? (
          <span class="alert-taken" data-testid="alert-taken">
            Taken by {takenBy.name}
          </span>
        ) : (
          <a class="btn btn-primary btn-sm" href={href}>
            {deadline ? 'Reply now' : 'Open conversation'}
          </a>
        )}
      </footer>
    </article>
  );
}

/** A rail beside the page (never covering it) while there are alerts. */
export function AlertStack({ s }: { s: ConsoleState }) {
  const waiting = s.alerts.filter((a) => !a.takenBy).length;
  return (
    <aside class={`alert-rail${s.alerts.length ? '' : ' is-empty'}`} aria-labelledby="alerts-title">
      <h2 id="alerts-title" class="alert-rail-title">
        Incoming chats {waiting ? <span class="badge">{waiting}</span> : null}
      </h2>
      <div class="alert-list" aria-live="assertive">
        {s.alerts.map((entry) => (
          <AlertCard key={entry.alert.conversation.id} entry={entry} meId={s.me?.id} />
        ))}
      </div>
    </aside>
  );
}
