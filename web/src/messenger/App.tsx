/** The messenger window: header, transcript, away form, composer. */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { TargetedKeyboardEvent } from 'preact';
import { formatClock, initials } from '../shared/format';
import { useStore } from '../shared/hooks';
import { composerKeyAction, isSendable } from '../shared/keys';
import type { Message, Rep } from '../shared/protocol';
import { RichText } from '../shared/RichText';
import type { MessengerClient } from './client';
import { ownerRep, seenSeq, type MessengerState, type PendingMessage } from './state';
import type { Translate } from './strings';

interface Props {
  client: MessengerClient;
  t: Translate;
}

type Item =
  | { kind: 'message'; m: Message; first: boolean }
  | { kind: 'ended'; id: string }
  | { kind: 'line'; key: string; text: string }
  | { kind: 'pending'; p: PendingMessage };

/** What the transcript shows, top to bottom. */
export function timeline(s: MessengerState, t: Translate): Item[] {
  const items: Item[] = [];
  let prevAuthor = '';
  for (const cid of s.order) {
    const lines = s.lines[cid] ?? [];
    let next = 0;
    const linesBefore = (seq: number): void => {
      for (; next < lines.length && lines[next]!.seq < seq; next++) {
        const e = lines[next]!;
        if (e.event.kind === 'now_chatting_with') {
          items.push({ kind: 'line', key: `${cid}:${e.seq}`, text: t('nowChattingWith', { name: e.event.rep.name }) });
          prevAuthor = '';
        }
      }
    };
    for (const m of s.log[cid] ?? []) {
      linesBefore(m.seq);
      const author = `${m.author.kind}:${m.author.id ?? ''}`;
      items.push({ kind: 'message', m, first: author !== prevAuthor });
      prevAuthor = author;
    }
    linesBefore(Number.MAX_SAFE_INTEGER);
    if (s.conversations[cid]?.status === 'closed' && (s.log[cid]?.length ?? 0) > 0) {
      items.push({ kind: 'ended', id: cid });
      prevAuthor = '';
    }
  }
  for (const p of s.pending) items.push({ kind: 'pending', p });
  return items;
}

function Avatar(props: { name: string | null; url: string | null; size?: 'sm' | 'lg' }) {
  const cls = `m-avatar${props.size === 'lg' ? ' m-avatar-lg' : ''}`;
  if (props.url) return <img class={cls} src={props.url} alt="" />;
  return (
    <span class={cls} aria-hidden="true">
      {initials(props.name)}
    </span>
  );
}

const CLOSE_ICON = (
  <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round">
    <path d="M6 6l12 12M18 6L6 18" />
  </svg>
);
const SEND_ICON = (
  <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round">
    <path d="M12 19V5M5 12l7-7 7 7" />
  </svg>
);

function Header({ s, owner, t, onClose }: { s: MessengerState; owner: Rep | null; t: Translate; onClose: () => void }) {
  const org = s.orgName || t('frameTitle');
  return (
    <header class="m-head">
      {owner ? <Avatar name={owner.name} url={owner.avatar_url} size="lg" /> : <Avatar name={org} url={null} size="lg" />}
      <div class="m-head-text">
        <h1 class="m-title">{org}</h1>
        <p class="m-sub" data-testid="messenger-status">
          {owner ? (
            <>
              <span class="m-online" aria-hidden="true" />
              {owner.name}
            </>
          ) : s.repsAvailable ? (
            t('replyTime')
          ) : (
            t('awayStatus')
          )}
        </p>
      </div>
      <button type="button" class="m-icon-btn" aria-label={t('closeChat')} onClick={onClose}>
        {CLOSE_ICON}
      </button>
    </header>
  );
}

function Bubble({ item, s, t, seen, client }: { item: Item; s: MessengerState; t: Translate; seen: number; client: MessengerClient }) {
  if (item.kind === 'ended') {
    return <p class="m-system">{t('conversationEnded')}</p>;
  }
  if (item.kind === 'line') {
    return (
      <p class="m-system" data-testid="messenger-line">
        {item.text}
      </p>
    );
  }
  if (item.kind === 'pending') {
    const p = item.p;
    return (
      <div class="m-row m-mine" data-author-kind="visitor" data-pending="true" data-client-id={p.id}>
        <div class="m-stack">
          <div class="m-bubble m-bubble-mine m-plain">{p.body}</div>
          <p class="m-meta" aria-live="polite">
            {p.status === 'sending' ? (
              t('sending')
            ) : (
              <span class="m-failed">
                {p.error === 'rate_limited' ? t('errorRateLimited') : t('notSent')}{' '}
                <button type="button" class="m-link" onClick={() => client.retry(p.id)}>
                  {t('retry')}
                </button>
              </span>
            )}
          </p>
        </div>
      </div>
    );
  }
  const m = item.m;
  const kind = m.author.kind;
  const attrs = { 'data-seq': m.seq, 'data-author-kind': kind, 'data-conversation-id': m.conversation_id };
  if (kind === 'system') {
    return (
      <div class="m-system" {...attrs}>
        <RichText html={m.html} openImageLabel={t('openImage')} />
      </div>
    );
  }
  if (kind === 'visitor') {
    return (
      <div class="m-row m-mine" {...attrs}>
        <div class="m-stack">
          <span class="m-sr">{t('you')}: </span>
          <RichText class="m-bubble m-bubble-mine" html={m.html} openImageLabel={t('openImage')} />
          {seen === m.seq ? (
            <p class="m-meta" data-testid="messenger-seen">
              {t('seen')}
            </p>
          ) : null}
        </div>
      </div>
    );
  }
  const name = m.author.name ?? s.orgName;
  return (
    <div class={`m-row m-theirs${item.first ? ' m-first' : ''}`} {...attrs}>
      {item.first ? <Avatar name={name} url={m.author.avatar_url} /> : <span class="m-avatar-gap" />}
      <div class="m-stack">
        {item.first ? (
          <p class="m-name">
            {name} <time dateTime={m.created_at}>{formatClock(m.created_at)}</time>
          </p>
        ) : (
          <span class="m-sr">{name}: </span>
        )}
        <RichText class={`m-bubble m-bubble-theirs${kind === 'bot' ? ' m-bot' : ''}`} html={m.html} openImageLabel={t('openImage')} />
      </div>
    </div>
  );
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function AwayForm({ s, t, client }: { s: MessengerState; t: Translate; client: MessengerClient }) {
  const [email, setEmail] = useState('');
  const [invalid, setInvalid] = useState(false);
  const away = s.away;
  if (!away) return null;
  if (away.status === 'sent') {
    return (
      <p class="m-thanks" role="status" data-testid="away-thanks">
        {t('awayThanks', { email: away.email ?? '' })}
      </p>
    );
  }
  const submit = (e: Event): void => {
    e.preventDefault();
    const value = email.trim();
    if (!EMAIL.test(value)) {
      setInvalid(true);
      return;
    }
    setInvalid(false);
    client.leaveEmail(value);
  };
  return (
    <form class="m-away" onSubmit={submit} noValidate>
      <label for="m-away-email">{t('awayLabel')}</label>
      <div class="m-away-row">
        <input
          id="m-away-email"
          type="email"
          autocomplete="email"
          inputMode="email"
          placeholder={t('awayPlaceholder')}
          value={email}
          aria-invalid={invalid}
          aria-describedby={invalid || away.error ? 'm-away-error' : undefined}
          onInput={(e) => setEmail(e.currentTarget.value)}
          data-testid="away-email"
          disabled={away.status === 'sending'}
        />
        <button type="submit" class="m-btn" data-testid="away-submit" disabled={away.status === 'sending'}>
          {t('awaySubmit')}
        </button>
      </div>
      {invalid || away.error ? (
        <p id="m-away-error" class="m-error" role="alert">
          {invalid ? t('awayInvalid') : t('errorGeneric')}
        </p>
      ) : null}
    </form>
  );
}

function Composer({ client, t, disabled }: { client: MessengerClient; t: Translate; disabled: boolean }) {
  const [body, setBody] = useState('');
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    client.focusComposer = () => ref.current?.focus();
  }, [client]);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 120)}px`;
  }, [body]);
  const submit = (): void => {
    if (!isSendable(body) || disabled) return;
    client.send(body);
    setBody('');
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
      class="m-composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <label class="m-sr" for="m-composer-input">
        {t('composerLabel')}
      </label>
      <textarea
        id="m-composer-input"
        ref={ref}
        rows={1}
        maxLength={8000}
        placeholder={t('composerPlaceholder')}
        value={body}
        disabled={disabled}
        onInput={(e) => {
          setBody(e.currentTarget.value);
          if (e.currentTarget.value) client.typed();
        }}
        onKeyDown={onKeyDown}
        data-testid="messenger-composer"
      />
      <button type="submit" class="m-send" aria-label={t('send')} disabled={disabled || !isSendable(body)} data-testid="messenger-send">
        {SEND_ICON}
      </button>
    </form>
  );
}

export function App({ client, t }: Props) {
  const s = useStore(client);
  const owner = ownerRep(s);
  const items = timeline(s, t);
  const seen = seenSeq(s);
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  });

  const close = (): void => client.post({ type: 'pounce:close' });
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') close();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [client]);

  const banner =
    s.connection === 'offline'
      ? t('reconnecting')
      : s.connection === 'refused'
        ? t('unavailable')
        : s.notice === 'rate_limited'
          ? t('errorRateLimited')
          : null;

  return (
    <div class="m-app">
      <Header s={s} owner={owner} t={t} onClose={close} />
      {banner ? (
        <p class="m-banner" role="status">
          {banner}
        </p>
      ) : null}
      <div
        class="m-body"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
        onLoadCapture={() => {
          const el = scroller.current;
          if (el && stick.current) el.scrollTop = el.scrollHeight; // an image arrived and grew the list
        }}
      >
        {items.length === 0 ? (
          <div class="m-greeting">
            <p class="m-greeting-title">{t('greetingTitle')}</p>
            <p>{t('greetingBody')}</p>
          </div>
        ) : null}
        <div class="m-log" role="log" aria-live="polite" aria-label={t('transcriptLabel')} data-testid="messenger-transcript">
          {items.map((item) => (
            <Bubble
              key={item.kind === 'message' ? `${item.m.conversation_id}:${item.m.seq}` : item.kind === 'pending' ? item.p.id : item.kind === 'line' ? `line:${item.key}` : `end:${item.id}`}
              item={item}
              s={s}
              t={t}
              seen={seen}
              client={client}
            />
          ))}
        </div>
        {s.typing ? (
          <div class="m-typing" data-testid="messenger-typing">
            <span class="m-dots" aria-hidden="true">
              <i />
              <i />
              <i />
            </span>
            <span>{t('typing', { name: s.typing.first_name || s.typing.name })}</span>
          </div>
        ) : null}
        <AwayForm s={s} t={t} client={client} />
      </div>
      <Composer client={client} t={t} disabled={s.connection === 'refused'} />
      <p class="m-powered">{t('poweredBy')}</p>
    </div>
  );
}
