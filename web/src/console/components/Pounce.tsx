/** Pounce: write first to a visitor who is browsing (from Live View or the visitor card). */
import { useEffect, useRef, useState } from 'preact/hooks';
import { composerKeyAction, isSendable } from '../../shared/keys';
import type { ErrorFrame } from '../../shared/protocol';
import type { ConsoleClient } from '../client';
import { chatHref } from '../router';
import { Icon } from './ui';

export function PounceButton(props: { open: boolean; onToggle: () => void; disabled?: boolean; size?: 'sm' | 'md' }) {
  return (
    <button
      type="button"
      class={`btn btn-pounce ${props.size === 'md' ? '' : 'btn-sm'}${props.open ? ' is-open' : ''}`}
      aria-expanded={props.open}
      disabled={props.disabled}
      onClick={props.onToggle}
      data-testid="pounce-button"
    >
      <Icon name="bolt" size={15} /> Pounce
    </button>
  );
}

function reason(e: ErrorFrame): string {
  switch (e.code) {
    case 'conflict':
      return 'This visitor is already in a conversation.';
    case 'not_found':
      return 'This visitor has left the site (or is blocked).';
    case 'offline':
      return e.message;
    case 'rate_limited':
      return 'Slow down: too many messages at once.';
    default:
      return e.message || `Could not pounce (${e.code.replace(/_/g, ' ')}).`;
  }
}

/** A small composer: the first message opens a conversation owned by me, then shows it. */
export function PounceComposer(props: { client: ConsoleClient; visitorId: string; name: string; online: boolean; onClose: () => void }) {
  const { client, visitorId } = props;
  const [body, setBody] = useState('');
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<ErrorFrame | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => ref.current?.focus(), []);

  const send = (): void => {
    if (!isSendable(body) || sending) return;
    setSending(true);
    setError(null);
    client.pounce(visitorId, body).then(
      (c) => {
        location.hash = chatHref(visitorId, c.id);
      },
      (e: ErrorFrame) => {
        setSending(false);
        setError(e);
      },
    );
  };

  return (
    <form
      class="pounce-composer"
      data-testid="pounce-composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <div class="pounce-head">
        <span class="pounce-title">
          <Icon name="bolt" size={15} /> Pounce on {props.name}
        </span>
        <button type="button" class="icon-button" aria-label="Cancel" onClick={props.onClose}>
          <Icon name="x" size={15} />
        </button>
      </div>
      <label class="sr-only" for={`pounce-${visitorId}`}>
        First message to {props.name}
      </label>
      <textarea
        id={`pounce-${visitorId}`}
        ref={ref}
        rows={2}
        maxLength={8000}
        value={body}
        placeholder={`Say hello to ${props.name}… their messenger opens with your message`}
        onInput={(e) => setBody(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.preventDefault();
            props.onClose();
          } else if (composerKeyAction(e) === 'send') {
            e.preventDefault();
            send();
          }
        }}
        data-testid="pounce-input"
      />
      {error ? (
        <p class="form-error pounce-error" role="alert" data-testid="pounce-error">
          {reason(error)}
          {error.code === 'conflict' && error.conversation_id ? (
            <>
              {' '}
              <a href={chatHref(visitorId, error.conversation_id)}>Open it</a>
            </>
          ) : null}
        </p>
      ) : null}
      <div class="pounce-foot">
        <span class="muted">
          {props.online ? 'Sent as you; the visitor’s messenger opens with it.' : 'This visitor is offline now.'}
        </span>
        <button type="submit" class="btn btn-primary btn-sm" disabled={!isSendable(body) || sending || !props.online} data-testid="pounce-send">
          {sending ? 'Sending…' : 'Send'}
        </button>
      </div>
    </form>
  );
}
