/** The conversation console: visitor header, full history, Start a conversation, composer with preview. */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { formatClock, formatDuration } from '../../shared/format';
import { useNow } from '../../shared/hooks';
import type { Conversation, EventItem, Message } from '../../shared/protocol';
import { RichText } from '../../shared/RichText';
import { newId } from '../../shared/ids';
import { ApiError, type Api } from '../api';
import type { ConsoleClient } from '../client';
import {
  isMine,
  seenSeq,
  streamOf,
  takenBy,
  visitorInfo,
  visitorLabel,
  type ConsoleState,
  type PendingMessage,
  type StreamItem,
} from '../state';
import { Composer } from './Composer';
import { OwnerControl } from './Owner';
import { PounceButton, PounceComposer } from './Pounce';
import { BlockMenu } from './BlockMenu';
import { Avatar, Countdown, Icon } from './ui';
import { VisitorPanel } from './VisitorPanel';

interface Props {
  client: ConsoleClient;
  api: Api;
  s: ConsoleState;
  visitorId: string;
  conversationId: string;
}

const SOURCE: Record<Conversation['source'], string> = {
  inbound: 'Inbound chat',
  pounce: 'Pounce',
  auto_pounce: 'Auto pounce',
};

const OUTCOME: Record<string, string> = {
  replied: 'Replied',
  missed_response: 'Missed response',
  spam: 'Spam',
  no_response_needed: 'No response needed',
};

function dateLabel(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

/**
 * Messages that auto pounce wrote on a rep's behalf (reps see them in purple): marked
 * `meta.auto_pounce`, or else rep-authored in an auto-pounce conversation without a
 * client_id (no rep's client sent them).
 */
function isAutoPounce(c: Conversation | undefined, m: Message): boolean {
  if (m.meta && 'auto_pounce' in m.meta) return !!m.meta['auto_pounce'];
  return c?.source === 'auto_pounce' && m.author.kind === 'rep' && !m.client_id;
}

/** What an event of the stream says, in a line (names the rep who did it). */
export function eventText(e: EventItem, meId: string | undefined): string {
  const who = e.actor?.kind === 'rep' ? (e.actor.id === meId ? 'You' : (e.actor.name ?? 'A rep')) : null;
  switch (e.event.kind) {
    case 'owner_changed': {
      const owner = e.event.owner;
      if (!owner) return 'Back in the queue: no rep owns this conversation now';
      const name = owner.id === meId ? 'You' : owner.name;
      return who && e.actor?.id === owner.id ? `${name} started the conversation` : `${name} now owns this conversation`;
    }
    case 'transferred': {
      const to = e.event.to.id === meId ? 'you' : e.event.to.name;
      const from = e.event.from_owner ? (e.event.from_owner.id === meId ? 'you' : e.event.from_owner.name) : 'the queue';
      const how = e.event.warm ? ', who accepted' : '';
      const by = who ?? 'A rep';
      if (e.actor?.id && e.actor.id === e.event.from_owner?.id) return `${by} transferred the conversation to ${to}${how}`;
      return `${by} transferred the conversation from ${from} to ${to}${how}`;
    }
    case 'closed':
      return who ? `${who} closed the conversation` : 'The conversation was closed';
    case 'reopened':
      return who ? `${who} reopened the conversation` : 'The conversation was reopened';
    case 'outcome_set':
      return `Outcome: ${OUTCOME[e.event.outcome] ?? e.event.outcome.replace(/_/g, ' ')}`;
    case 'visitor_blocked': {
      const how = e.event.reported ? 'blocked and reported the visitor' : 'blocked the visitor';
      if (who) return `${who} ${how}`;
      return e.event.until ? `The visitor was blocked for spam until ${formatClock(e.event.until)}` : 'The visitor was blocked';
    }
  }
}

function EventRow({ e, meId }: { e: EventItem; meId: string | undefined }) {
  return (
    <div class="msg msg-event" data-seq={e.seq} data-event={e.event.kind} data-testid="event">
      <span>{eventText(e, meId)}</span>
      <time dateTime={e.created_at}>{formatClock(e.created_at)}</time>
    </div>
  );
}

function StreamRow({ it, c, meId, seen }: { it: StreamItem; c: Conversation | undefined; meId: string | undefined; seen: number }) {
  if (it.kind === 'event') return <EventRow e={it.item} meId={meId} />;
  return <MessageRow m={it.item} c={c} meId={meId} seen={it.item.seq === seen} />;
}

function MessageRow({ m, c, meId, seen }: { m: Message; c: Conversation | undefined; meId: string | undefined; seen: boolean }) {
  const kind = m.author.kind;
  const note = m.audience === 'reps';
  const auto = isAutoPounce(c, m);
  const autoKind = auto && typeof m.meta?.['kind'] === 'string' ? (m.meta['kind'] as string) : null;
  const side = kind === 'rep' ? 'right' : kind === 'system' ? 'center' : 'left';
  const name =
    kind === 'visitor' ? 'Visitor' : kind === 'rep' ? (m.author.id === meId ? 'You' : (m.author.name ?? 'Rep')) : kind === 'bot' ? (m.author.name ?? 'Bot') : 'System';
  if (kind === 'system') {
    return (
      <div class="msg msg-system" data-seq={m.seq} data-author-kind={kind}>
        <RichText class="rich" html={m.html} openImageLabel="Open image" />
        <time dateTime={m.created_at}>{formatClock(m.created_at)}</time>
      </div>
    );
  }
  return (
    <div
      class={`msg msg-${side} msg-${kind}${auto ? ' msg-auto' : ''}${note ? ' msg-note' : ''}`}
      data-seq={m.seq}
      data-author-kind={kind}
      data-audience={m.audience ?? 'all'}
      data-auto-pounce={auto ? 'true' : undefined}
      data-testid="message"
    >
      <div class="msg-meta">
        <span class="msg-author">{name}</span>
        {auto ? (
          <span class="tag tag-purple" title="Sent by auto pounce on this rep’s behalf; visitors see it as from the rep">
            auto pounce{autoKind === 'nudge' ? ' · nudge' : autoKind === 'greeting' ? ' · greeting' : ''}
          </span>
        ) : null}
        {kind === 'bot' ? <span class="tag">Bot</span> : null}
        {note ? (
          <span class="tag tag-note" title="Only reps see notes; the visitor never does">
            note · reps only
          </span>
        ) : null}
        <time dateTime={m.created_at}>{formatClock(m.created_at)}</time>
      </div>
      <RichText class="bubble rich" html={m.html} openImageLabel="Open image" />
      {seen ? (
        <span class="seen" data-testid="seen">
          Seen
        </span>
      ) : null}
    </div>
  );
}

function PendingRow({ p, onRetry }: { p: PendingMessage; onRetry: () => void }) {
  return (
    <div class="msg msg-right msg-rep msg-pending" data-author-kind="rep" data-pending="true">
      <div class="bubble plain">{p.body}</div>
      <span class="msg-state">
        {p.status === 'sending' ? (
          'Sending…'
        ) : (
          <>
            Not sent{p.error ? ` (${p.error.replace(/_/g, ' ')})` : ''}.{' '}
            <button type="button" class="link-button" onClick={onRetry}>
              Retry
            </button>
          </>
        )}
      </span>
    </div>
  );
}

/** An admin emails a closed conversation's transcript to its visitor again; says so
 * instead when the server has no SMTP server configured. */
function ResendTranscript({ api, conversationId }: { api: Api; conversationId: string }) {
  const [smtp, setSmtp] = useState<boolean | null>(null);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    setNote(null);
    api.emailSettings().then(
      (x) => setSmtp(x.smtp_configured),
      () => setSmtp(null),
    );
  }, [api, conversationId]);
  if (smtp === false) {
    return (
      <span class="muted" data-testid="resend-email-off" title="Set POUNCE_SMTP_URL on the server to send email">
        Email is off
      </span>
    );
  }
  const resend = async (): Promise<void> => {
    setBusy(true);
    setNote(null);
    try {
      setNote(`Transcript queued to ${await api.resendTranscript(conversationId)}`);
    } catch (e) {
      setNote(e instanceof ApiError ? e.detail : 'Could not queue the transcript.');
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class="btn btn-secondary btn-sm" disabled={busy || smtp === null} onClick={() => void resend()} data-testid="resend-transcript">
        Email transcript
      </button>
      {note ? (
        <span role="status" class="muted" data-testid="resend-status">
          {note}
        </span>
      ) : null}
    </>
  );
}

/** Answer a visitor who left an email and is offline: the reply is sent to their email
 * (through the server's outbox) and stored as my message, starting the conversation if
 * nobody has. Says so, with the button disabled, when the server cannot send email. */
function EmailReply({ api, conversationId, email }: { api: Api; conversationId: string; email: string }) {
  const [smtp, setSmtp] = useState<boolean | null>(null);
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const clientId = useRef(newId());
  useEffect(() => {
    setNote(null);
    api.emailConfigured().then(setSmtp, () => setSmtp(null));
  }, [api, conversationId]);
  const send = async (): Promise<void> => {
    setBusy(true);
    setNote(null);
    try {
      const sent = await api.emailReply(conversationId, clientId.current, body.trim());
      setNote(`Sent to ${sent.to}`);
      setBody('');
      clientId.current = newId();
    } catch (e) {
      setNote(e instanceof ApiError ? e.detail : 'Could not send the email.');
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      class="email-reply"
      data-testid="email-reply"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      <label for="email-reply-body">
        <strong>Answer by email</strong> <span class="muted">to {email} (the visitor is offline)</span>
      </label>
      <textarea
        id="email-reply-body"
        rows={3}
        value={body}
        disabled={smtp === false}
        onInput={(e) => setBody(e.currentTarget.value)}
        placeholder="Write your reply…"
        data-testid="email-reply-body"
      />
      <div class="email-reply-foot">
        {smtp === false ? (
          <span class="muted" data-testid="email-reply-off" title="Set POUNCE_SMTP_URL on the server to send email">
            Email is off: this server has no SMTP server configured.
          </span>
        ) : null}
        {note ? (
          <span role="status" class="muted" data-testid="email-reply-status">
            {note}
          </span>
        ) : null}
        <button type="submit" class="btn btn-primary btn-sm" disabled={busy || smtp !== true || !body.trim()} data-testid="email-reply-send">
          {busy ? 'Sending…' : 'Send by email'}
        </button>
      </div>
    </form>
  );
}

export function ConversationView({ client, api, s, visitorId, conversationId }: Props) {
  const [loadError, setLoadError] = useState<string | null>(null);
  const [pouncing, setPouncing] = useState(false);
  const [loading, setLoading] = useState(true);
  const [confirmClose, setConfirmClose] = useState(false);
  const now = useNow(1000);
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    setLoading(true);
    setLoadError(null);
    stick.current = true;
    client.loadVisitor(visitorId).then(
      () => setLoading(false),
      () => {
        setLoading(false);
        setLoadError('Could not load this visitor’s conversations.');
      },
    );
  }, [client, visitorId, conversationId]);

  const c = s.conversations[conversationId];
  const messages = s.log[conversationId] ?? [];
  const items = streamOf(s, conversationId);
  const pending = s.pending[conversationId] ?? [];
  const mine = isMine(s, c);
  const owner = takenBy(s, conversationId);
  const starting = Object.values(s.requests).some((r) => r.kind === 'start' && r.conversationId === conversationId);
  const closing = Object.values(s.requests).some((r) => r.kind === 'close' && r.conversationId === conversationId);
  // Offline, the owner still types: messages wait and go out once the socket is back.
  const canWrite = mine && c?.status !== 'closed';
  const offline = s.connection !== 'online';
  const seen = seenSeq(s, conversationId);
  const v = visitorInfo(s, visitorId);
  const name = visitorLabel(v, visitorId);
  const error = s.errors[conversationId];

  // A conversation transferred to me: its alert has done its job once I open it.
  const handedAlert = s.alerts.some(
    (a) => a.alert.conversation.id === conversationId && !a.alert.deadline && a.alert.conversation.owner?.id === s.me?.id,
  );
  useEffect(() => {
    if (handedAlert && mine) client.dispatch({ type: 'drop_alert', conversationId });
  }, [client, conversationId, handedAlert, mine]);

  // Read what is on screen (only while the tab is visible).
  useEffect(() => {
    const mark = (): void => {
      if (document.visibilityState === 'visible') client.markRead(conversationId);
    };
    mark();
    document.addEventListener('visibilitychange', mark);
    return () => document.removeEventListener('visibilitychange', mark);
  }, [client, conversationId, messages.length, mine, s.connection]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  });

  const earlier = Object.values(s.conversations)
    .filter((x) => x.visitor_id === visitorId && x.id !== conversationId && (!c || x.created_at < c.created_at))
    .sort((a, b) => a.created_at.localeCompare(b.created_at));

  const placeholder = canWrite
    ? offline
      ? 'Reconnecting… type on: your messages go out when the connection is back'
      : 'Type your message…'
    : owner
      ? `${owner.name} owns this conversation`
      : c?.status === 'closed'
        ? 'This conversation is closed'
        : 'Start the conversation to reply';

  const deadline = s.alerts.find((a) => a.alert.conversation.id === conversationId && typeof a.alert.deadline === 'number' && !a.takenBy)?.alert
    .deadline;
  const marking = Object.values(s.requests).some((r) => r.kind === 'outcome' && r.conversationId === conversationId);
  // Spam / No response needed: the rep's answer to an auto pounce reply (any conversation may be
  // marked, but only auto pounces ask for it).
  const canMark = mine && c?.status !== 'closed' && !c?.outcome && (c?.source === 'auto_pounce' || !!deadline);
  const markButtons = (
    <>
      <button
        type="button"
        class="btn btn-secondary btn-sm"
        disabled={marking || s.connection !== 'online'}
        onClick={() => client.setOutcome(conversationId, 'spam')}
        data-testid="mark-spam"
      >
        Spam
      </button>
      <button
        type="button"
        class="btn btn-secondary btn-sm"
        disabled={marking || s.connection !== 'online'}
        onClick={() => client.setOutcome(conversationId, 'no_response_needed')}
        data-testid="mark-no-response"
      >
        No response needed
      </button>
    </>
  );
  // A visitor who is browsing and not in a conversation can be pounced on from their card.
  const canPounce = !!v?.online && !v.conversation_id && (!c || c.status === 'closed');

  const page = v?.current_page;
  const started = v?.session_started_at ? Date.parse(v.session_started_at) : NaN;

  return (
    <div class="convo-layout">
    <div class="conversation">
      <header class="convo-head">
        <Avatar name={name} tone="visitor" size={44} />
        <div class="convo-who">
          <h2 class="convo-title" data-testid="visitor-name">
            {name}
            {v?.online ? <span class="online-dot" title="Online now" /> : null}
          </h2>
          <p class="convo-facts">
            {[v?.company, v?.email, v?.country].filter(Boolean).join(' · ') || 'Anonymous visitor'}
          </p>
          {page ? (
            <p class="convo-facts convo-page">
              <Icon name="page" size={14} />{' '}
              <a href={page.url} target="_blank" rel="noopener noreferrer">
                {page.title || page.url}
              </a>
              {v ? ` · ${v.pages_viewed} page${v.pages_viewed === 1 ? '' : 's'}` : ''}
              {v?.online && !Number.isNaN(started) ? ` · on site ${formatDuration(now - started)}` : ''}
            </p>
          ) : null}
        </div>
        <div class="convo-actions">
          {c ? <span class={`pill pill-${c.status}`}>{c.status === 'open' ? 'Waiting' : c.status === 'active' ? 'Active' : 'Closed'}</span> : null}
          {c ? <span class={`pill${c.source === 'auto_pounce' ? ' pill-purple' : ''}`}>{SOURCE[c.source]}</span> : null}
          {c?.outcome && OUTCOME[c.outcome] ? (
            <span class="pill" data-testid="conversation-outcome">
              {OUTCOME[c.outcome]}
            </span>
          ) : null}
          {canMark && !deadline ? markButtons : null}
          {c?.status === 'closed' && s.me?.role === 'admin' ? <ResendTranscript api={api} conversationId={conversationId} /> : null}
          {canPounce ? <PounceButton open={pouncing} size="sm" onToggle={() => setPouncing(!pouncing)} disabled={s.connection !== 'online'} /> : null}
          {mine && c?.status !== 'closed' ? (
            confirmClose ? (
              <span class="confirm" role="group" aria-label="Close this conversation?" data-testid="confirm-close">
                Close it?{' '}
                <button
                  type="button"
                  class="btn btn-primary btn-sm"
                  disabled={closing || offline}
                  onClick={() => {
                    setConfirmClose(false);
                    client.closeConversation(conversationId);
                  }}
                  data-testid="confirm-close-yes"
                >
                  Close
                </button>{' '}
                <button type="button" class="btn btn-secondary btn-sm" onClick={() => setConfirmClose(false)}>
                  Cancel
                </button>
              </span>
            ) : (
              <button
                type="button"
                class="btn btn-secondary btn-sm"
                disabled={closing || offline}
                onClick={() => setConfirmClose(true)}
                data-testid="close-conversation"
              >
                Close conversation
              </button>
            )
          ) : null}
          {c && (mine || s.me?.role === 'admin' || (!c.owner && !owner)) ? (
            <BlockMenu client={client} conversationId={conversationId} canMarkSpam={mine && c.status !== 'closed'} offline={offline} />
          ) : null}
        </div>
      </header>

      {canPounce && pouncing ? (
        <div class="pounce-banner">
          <PounceComposer client={client} visitorId={visitorId} name={name} online={!!v?.online} onClose={() => setPouncing(false)} />
        </div>
      ) : null}
      {deadline && mine && c?.status !== 'closed' ? (
        <div class="deadline-banner" role="alert" data-testid="reply-needed">
          <div>
            <strong>{name} replied to your auto pounce</strong>
            <p>Reply before the timer runs out, or mark the conversation. No action counts as a missed response and switches your auto pounce off.</p>
          </div>
          <div class="deadline-actions">
            <Countdown deadline={deadline} testid="conversation-countdown" />
            {markButtons}
          </div>
        </div>
      ) : null}
      {c && !mine && c.status === 'open' && !owner ? (
        <div class="start-banner">
          <div>
            <strong>{name} is waiting for a reply</strong>
            <p>Start the conversation to become its owner. The other alerted reps will see it is taken.</p>
          </div>
          <button
            type="button"
            class="btn btn-primary btn-lg"
            disabled={starting || s.connection !== 'online'}
            onClick={() => client.startConversation(conversationId)}
            data-testid="start-conversation"
          >
            <Icon name="chat" /> {starting ? 'Starting…' : 'Start a conversation'}
          </button>
        </div>
      ) : null}
      {c && c.status !== 'closed' && v?.email && !v.online && (mine || (!c.owner && !owner)) ? (
        <EmailReply api={api} conversationId={conversationId} email={v.email} />
      ) : null}
      {s.justClosed === conversationId && c?.status === 'closed' ? (
        <ClosedNotice client={client} conversationId={conversationId} offline={offline} />
      ) : null}
      {offline && mine ? (
        <div class="offline-notice" role="status" data-testid="offline-notice">
          The server is unreachable: reconnecting. What you send waits and goes out when it is back.
        </div>
      ) : null}
      {owner ? (
        <div class="taken-notice" role="alert" data-testid="taken-notice">
          Already taken by <strong>{owner.name}</strong>
        </div>
      ) : null}
      {error && !owner ? (
        <div class="error-notice" role="alert">
          {error === 'closed'
            ? 'This conversation is closed.'
            : error === 'not_owner'
              ? 'Only the owner of this conversation can reply or mark it.'
              : error === 'rate_limited'
                ? 'Slow down: too many messages at once.'
                : `Something went wrong (${error.replace(/_/g, ' ')}).`}
        </div>
      ) : null}

      <div
        class="transcript-scroll"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
        onLoadCapture={() => {
          const el = scroller.current;
          if (el && stick.current) el.scrollTop = el.scrollHeight;
        }}
      >
        <div class="transcript" data-testid="transcript" role="log" aria-live="polite" aria-label={`Conversation with ${name}`}>
          {loadError ? <p class="form-error">{loadError}</p> : null}
          {earlier.map((h) => (
            <section key={h.id} class="history" aria-label={`Earlier conversation, ${dateLabel(h.created_at)}`} data-conversation-id={h.id}>
              <div class="divider">
                <span>
                  Earlier conversation · {dateLabel(h.created_at)} · {SOURCE[h.source]}
                </span>
              </div>
              {streamOf(s, h.id).map((it) => (
                <StreamRow key={`${h.id}:${it.item.seq}`} it={it} c={h} meId={s.me?.id} seen={0} />
              ))}
            </section>
          ))}
          {earlier.length ? (
            <div class="divider divider-current">
              <span>This conversation{c ? ` · ${dateLabel(c.created_at)}` : ''}</span>
            </div>
          ) : null}
          {loading && messages.length === 0 ? <p class="muted center">Loading conversation…</p> : null}
          {items.map((it) => (
            <StreamRow key={`${conversationId}:${it.item.seq}`} it={it} c={c} meId={s.me?.id} seen={seen} />
          ))}
          {pending.map((p) => (
            <PendingRow key={p.id} p={p} onRetry={() => client.retry(conversationId, p.id)} />
          ))}
          {c?.status === 'closed' && items[items.length - 1]?.kind !== 'event' ? (
            <div class="divider">
              <span>Conversation closed</span>
            </div>
          ) : null}
        </div>
        {s.visitorTyping[conversationId] ? (
          <div class="typing" data-testid="visitor-typing">
            <span class="typing-dots" aria-hidden="true">
              <i />
              <i />
              <i />
            </span>
            {name} is typing…
          </div>
        ) : null}
      </div>

      <Composer client={client} api={api} conversationId={conversationId} enabled={canWrite} placeholder={placeholder} />
    </div>
    <VisitorPanel
      s={s}
      client={client}
      visitorId={visitorId}
      conversationId={conversationId}
      ownerControl={<OwnerControl client={client} s={s} conversationId={conversationId} />}
    />
    </div>
  );
}

const UNDO_MS = 10_000;

/** "Conversation closed" with an Undo for a few seconds after I close one. */
function ClosedNotice({ client, conversationId, offline }: { client: ConsoleClient; conversationId: string; offline: boolean }) {
  useEffect(() => {
    const timer = setTimeout(() => client.dispatch({ type: 'dismiss_closed' }), UNDO_MS);
    return () => clearTimeout(timer);
  }, [client, conversationId]);
  return (
    <div class="closed-notice" role="status" data-testid="closed-notice">
      Conversation closed.{' '}
      <button
        type="button"
        class="link-button"
        disabled={offline}
        onClick={() => client.reopenConversation(conversationId)}
        data-testid="undo-close"
      >
        Undo
      </button>
    </div>
  );
}
