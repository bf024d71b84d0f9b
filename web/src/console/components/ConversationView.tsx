/** The conversation console: visitor header, full history, Start a conversation, composer with preview. */
import type { TargetedKeyboardEvent } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { formatClock, formatDuration } from '../../shared/format';
import { useNow } from '../../shared/hooks';
import { composerKeyAction, isSendable } from '../../shared/keys';
import type { Conversation, Message } from '../../shared/protocol';
import { RichText } from '../../shared/RichText';
import type { Api } from '../api';
import type { ConsoleClient } from '../client';
import { isMine, seenSeq, takenBy, visitorInfo, visitorLabel, type ConsoleState, type PendingMessage } from '../state';
import { Avatar, Icon } from './ui';

interface Props {
  client: ConsoleClient;
  api: Api;
  s: ConsoleState;
  visitorId: string;
  conversationId: string;
}

/** Drafts survive switching between conversations. */
const drafts = new Map<string, string>();

const SOURCE: Record<Conversation['source'], string> = {
  inbound: 'Inbound chat',
  pounce: 'Pounce',
  auto_pounce: 'Auto pounce',
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

function MessageRow({ m, c, meId, seen }: { m: Message; c: Conversation | undefined; meId: string | undefined; seen: boolean }) {
  const kind = m.author.kind;
  const auto = isAutoPounce(c, m);
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
    <div class={`msg msg-${side} msg-${kind}${auto ? ' msg-auto' : ''}`} data-seq={m.seq} data-author-kind={kind}>
      <div class="msg-meta">
        <span class="msg-author">{name}</span>
        {auto ? <span class="tag tag-purple">Auto pounce</span> : null}
        {kind === 'bot' ? <span class="tag">Bot</span> : null}
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

function Composer(props: { client: ConsoleClient; api: Api; conversationId: string; enabled: boolean; placeholder: string }) {
  const { client, api, conversationId, enabled } = props;
  const [body, setBody] = useState(() => drafts.get(conversationId) ?? '');
  const [preview, setPreview] = useState('');
  const ref = useRef<HTMLTextAreaElement>(null);
  const renderSeq = useRef(0);

  useEffect(() => {
    setBody(drafts.get(conversationId) ?? '');
  }, [conversationId]);

  // Live preview from the server's renderer, 150 ms after the last keystroke; stale answers are dropped.
  useEffect(() => {
    const mine = ++renderSeq.current;
    if (!isSendable(body)) {
      setPreview('');
      return;
    }
    const t = setTimeout(() => {
      api.render(body).then(
        (html) => {
          if (renderSeq.current === mine) setPreview(html);
        },
        () => {
          /* the preview is a nicety: keep the last one */
        },
      );
    }, 150);
    return () => clearTimeout(t);
  }, [body, api]);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 200)}px`;
  }, [body]);

  useEffect(() => {
    if (enabled) ref.current?.focus();
  }, [enabled, conversationId]);

  const update = (value: string): void => {
    setBody(value);
    drafts.set(conversationId, value);
  };

  const submit = (): void => {
    if (!enabled || !isSendable(body)) return;
    client.send(conversationId, body);
    update('');
    setPreview('');
    ref.current?.focus();
  };

  const onKeyDown = (e: TargetedKeyboardEvent<HTMLTextAreaElement>): void => {
    if (composerKeyAction(e) === 'send') {
      e.preventDefault();
      submit();
    }
  };

  return (
    <form
      class={`composer${enabled ? '' : ' is-disabled'}`}
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {preview && enabled ? (
        <div class="preview" data-testid="composer-preview" aria-label="Formatting preview">
          <span class="preview-label">Preview</span>
          <RichText class="rich" html={preview} openImageLabel="Open image" />
        </div>
      ) : null}
      <div class="composer-row">
        <label class="sr-only" for="composer-input">
          Message
        </label>
        <textarea
          id="composer-input"
          ref={ref}
          rows={2}
          maxLength={8000}
          value={body}
          disabled={!enabled}
          placeholder={props.placeholder}
          onInput={(e) => {
            update(e.currentTarget.value);
            if (e.currentTarget.value) client.typed(conversationId);
          }}
          onKeyDown={onKeyDown}
          data-testid="composer"
        />
        <button type="submit" class="send-button" aria-label="Send" disabled={!enabled || !isSendable(body)} data-testid="send-button">
          <Icon name="send" size={20} />
        </button>
      </div>
      <p class="composer-hint">
        <kbd>Enter</kbd> to send · <kbd>Shift</kbd>+<kbd>Enter</kbd> for a new line · <code>**bold**</code> <code>*italic*</code>{' '}
        <code>[text](url)</code> <code>![alt](image-url)</code>
      </p>
    </form>
  );
}

export function ConversationView({ client, api, s, visitorId, conversationId }: Props) {
  const [loadError, setLoadError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
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
  const pending = s.pending[conversationId] ?? [];
  const mine = isMine(s, c);
  const owner = takenBy(s, conversationId);
  const starting = Object.values(s.requests).some((r) => r.kind === 'start' && r.conversationId === conversationId);
  const closing = Object.values(s.requests).some((r) => r.kind === 'close' && r.conversationId === conversationId);
  const canWrite = mine && c?.status !== 'closed' && s.connection === 'online';
  const seen = seenSeq(s, conversationId);
  const v = visitorInfo(s, visitorId);
  const name = visitorLabel(v, visitorId);
  const error = s.errors[conversationId];

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
    ? 'Type your message…'
    : owner
      ? `${owner.name} owns this conversation`
      : c?.status === 'closed'
        ? 'This conversation is closed'
        : 'Start the conversation to reply';

  const page = v?.current_page;
  const started = v?.session_started_at ? Date.parse(v.session_started_at) : NaN;

  return (
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
            <p class="convo-facts">
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
          {c ? <span class="pill">{SOURCE[c.source]}</span> : null}
          {mine && c?.status !== 'closed' ? (
            <button
              type="button"
              class="btn btn-secondary btn-sm"
              disabled={closing}
              onClick={() => client.closeConversation(conversationId)}
              data-testid="close-conversation"
            >
              Close conversation
            </button>
          ) : null}
        </div>
      </header>

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
              ? 'Only the owner of this conversation can reply.'
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
              {(s.log[h.id] ?? []).map((m) => (
                <MessageRow key={`${h.id}:${m.seq}`} m={m} c={h} meId={s.me?.id} seen={false} />
              ))}
            </section>
          ))}
          {earlier.length ? (
            <div class="divider divider-current">
              <span>This conversation{c ? ` · ${dateLabel(c.created_at)}` : ''}</span>
            </div>
          ) : null}
          {loading && messages.length === 0 ? <p class="muted center">Loading conversation…</p> : null}
          {messages.map((m) => (
            <MessageRow key={`${conversationId}:${m.seq}`} m={m} c={c} meId={s.me?.id} seen={m.seq === seen} />
          ))}
          {pending.map((p) => (
            <PendingRow key={p.id} p={p} onRetry={() => client.retry(conversationId, p.id)} />
          ))}
          {c?.status === 'closed' ? <div class="divider"><span>Conversation closed</span></div> : null}
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
  );
}
