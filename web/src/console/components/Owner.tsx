/** Transfer: the owner drop-down ("Owner: Ana ▾"), warm transfer requests asked of me, and what became of mine. */
import { useEffect, useState } from 'preact/hooks';
import type { ErrorFrame, TransferCandidate } from '../../shared/protocol';
import type { ConsoleClient } from '../client';
import { chatHref } from '../router';
import { isMine, visitorInfo, visitorLabel, type ConsoleState, type TransferAsk } from '../state';
import { Avatar, Countdown, Icon } from './ui';

const REFUSED: Record<string, string> = {
  rep_unavailable: 'That rep cannot take it now (away, offline or not routed to this chat).',
  rep_at_capacity: 'That rep already has as many open conversations as a rep takes.',
  owner_changed: 'The conversation changed hands meanwhile; nothing was done.',
  transfer_pending: 'A transfer request for this conversation is waiting for an answer.',
  not_owner: 'Only the owner or an admin can transfer this conversation.',
  closed: 'This conversation is closed.',
  auto_pounce_open: 'Reply to this auto pounce (or mark it) before transferring it.',
  offline: 'You are offline: reconnecting…',
};

const refusal = (e: unknown): string => {
  const code = (e as Partial<ErrorFrame>)?.code ?? 'internal';
  return REFUSED[code] ?? `Could not transfer (${code.replace(/_/g, ' ')}).`;
};

/** "Owner: Ana ▾" in the conversation's header; its owner (or an admin) transfers it from here. */
export function OwnerControl({ client, s, conversationId }: { client: ConsoleClient; s: ConsoleState; conversationId: string }) {
  const c = s.conversations[conversationId];
  const [open, setOpen] = useState(false);
  const [reps, setReps] = useState<readonly TransferCandidate[] | null>(null);
  const [limit, setLimit] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [asking, setAsking] = useState<string | null>(null);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const ownerId = c?.owner?.id ?? null;
  // From the server (`transfer_waiting`, sent again on connect): survives a reload.
  const waiting = s.transferWaiting[conversationId];

  useEffect(() => {
    setOpen(false);
  }, [conversationId, ownerId]);

  if (!c) return null;
  const me = s.me?.id;
  const canTransfer = c.status !== 'closed' && (isMine(s, c) || s.me?.role === 'admin');
  const label = c.owner ? (c.owner.id === me ? `${c.owner.name} (you)` : c.owner.name) : 'Nobody yet';

  const toggle = (): void => {
    if (open) {
      setOpen(false);
      return;
    }
    setOpen(true);
    setReps(null);
    setError(null);
    setAsking(null);
    setNote('');
    client.transferCandidates(conversationId).then(
      (f) => {
        setReps(f.reps);
        setLimit(f.max_open_conversations);
      },
      (e: unknown) => setError(refusal(e)),
    );
  };

  const transfer = (to: string, warm: boolean): void => {
    setBusy(true);
    setError(null);
    client.transfer(conversationId, ownerId, to, warm, note).then(
      () => {
        setBusy(false);
        setOpen(false);
      },
      (e: unknown) => {
        setBusy(false);
        setError(refusal(e));
      },
    );
  };

  return (
    <div class="owner-control" data-testid="owner-control">
      {canTransfer ? (
        <button
          type="button"
          class="owner-button"
          aria-haspopup="true"
          aria-expanded={open}
          disabled={s.connection !== 'online'}
          onClick={toggle}
          data-testid="owner-button"
        >
          Owner: <strong>{label}</strong> <span aria-hidden="true">▾</span>
        </button>
      ) : (
        <span class="owner-button is-static" data-testid="owner-label">
          Owner: <strong>{label}</strong>
        </span>
      )}
      {waiting ? (
        <span class="owner-asked" role="status" data-testid="transfer-asked">
          Asked {waiting.to.name} to take it…{' '}
          <Countdown deadline={waiting.deadline} label="Time left for them to answer" testid="transfer-asked-countdown" />
        </span>
      ) : null}
      {open ? (
        <div class="owner-menu" role="menu" aria-label="Transfer to" data-testid="owner-menu">
          <p class="owner-menu-title">Transfer to a rep who can take it now</p>
          {error ? (
            <p class="form-error" role="alert" data-testid="transfer-error">
              {error}
            </p>
          ) : null}
          {reps === null && !error ? <p class="muted">Loading…</p> : null}
          {reps?.length === 0 ? (
            <p class="muted" data-testid="no-candidates">
              Nobody else can take it now{limit > 0 ? ` (reps with ${limit} open conversation${limit === 1 ? '' : 's'} take no more)` : ''}.
            </p>
          ) : null}
          {reps?.map(({ rep, open_conversations: load }) => (
            <div class="owner-option" key={rep.id} data-testid="transfer-candidate" data-rep-id={rep.id}>
              <Avatar name={rep.name} url={rep.avatar_url} size={28} />
              <span class="owner-option-name">
                {rep.name}
                <small data-testid="transfer-load">
                  {limit > 0 ? `${load} of ${limit} open conversations` : `${load} open conversation${load === 1 ? '' : 's'}`}
                </small>
              </span>
              <button type="button" class="btn btn-primary btn-sm" disabled={busy} onClick={() => transfer(rep.id, false)} data-testid="transfer-now">
                Transfer
              </button>
              <button
                type="button"
                class="btn btn-secondary btn-sm"
                disabled={busy}
                onClick={() => setAsking(asking === rep.id ? null : rep.id)}
                data-testid="transfer-ask"
              >
                Ask first
              </button>
              {asking === rep.id ? (
                <div class="owner-ask">
                  <label>
                    Handoff note (optional, reps only)
                    <textarea rows={2} maxLength={8000} value={note} onInput={(e) => setNote(e.currentTarget.value)} data-testid="transfer-note" />
                  </label>
                  <button type="button" class="btn btn-primary btn-sm" disabled={busy} onClick={() => transfer(rep.id, true)} data-testid="transfer-ask-send">
                    Ask {rep.first_name || rep.name}
                  </button>
                </div>
              ) : null}
            </div>
          ))}
        </div>
      ) : null}
    </div>
  );
}

function AskCard({ client, s, ask }: { client: ConsoleClient; s: ConsoleState; ask: TransferAsk }) {
  const c = ask.conversation;
  const who = visitorLabel(visitorInfo(s, c.visitor_id) ?? ask.visitor, c.visitor_id);
  const answering = Object.values(s.requests).some((r) => r.kind === 'transfer_reply' && r.conversationId === c.id);
  return (
    <div class="notice transfer-ask" role="alert" data-testid="transfer-request" data-conversation-id={c.id}>
      <Icon name="chat" size={18} />
      <div class="notice-text">
        <strong>
          {ask.by.name} asks you to take the chat with {who}
        </strong>
        {ask.note ? (
          <span class="transfer-note" data-testid="transfer-request-note">
            “{ask.note}” <span class="tag tag-note">note · reps only</span>
          </span>
        ) : null}
      </div>
      <Countdown deadline={ask.deadline} label="Time left to answer" />
      <button
        type="button"
        class="btn btn-primary btn-sm"
        disabled={answering || s.connection !== 'online'}
        onClick={() => {
          client.replyTransfer(c.id, true);
          location.hash = chatHref(c.visitor_id, c.id);
        }}
        data-testid="transfer-accept"
      >
        Accept
      </button>
      <button
        type="button"
        class="btn btn-secondary btn-sm"
        disabled={answering || s.connection !== 'online'}
        onClick={() => client.replyTransfer(c.id, false)}
        data-testid="transfer-decline"
      >
        Decline
      </button>
    </div>
  );
}

const ENDED: Record<string, (to: string, who: string) => string> = {
  transferred: (to, who) => `Your conversation with ${who} is now with ${to}.`,
  declined: (to, who) => `${to} declined: the conversation with ${who} stays with you.`,
  expired: (to, who) => `${to} did not answer in time: the conversation with ${who} stays with you.`,
  void: (_to, who) => `The transfer of the conversation with ${who} no longer applies (it changed hands or closed).`,
};

/** Warm transfers asked of me, and what became of a transfer of mine; on every page. */
export function TransferNotices({ client, s }: { client: ConsoleClient; s: ConsoleState }) {
  const n = s.transferNotice;
  const text = n ? ENDED[n.result] : undefined;
  return (
    <>
      {Object.values(s.transferAsks).map((ask) => (
        <AskCard key={ask.conversation.id} client={client} s={s} ask={ask} />
      ))}
      {n && text ? (
        <div class="notice notice-info transfer-ask" role="status" data-testid="transfer-notice" data-result={n.result}>
          <div class="notice-text">
            <span>{text(n.to?.name ?? 'The rep', visitorLabel(visitorInfo(s, n.visitorId), n.visitorId))}</span>
          </div>
          <button type="button" class="icon-button" aria-label="Dismiss" onClick={() => client.dispatch({ type: 'dismiss_transfer_notice' })}>
            <Icon name="x" size={16} />
          </button>
        </div>
      ) : null}
    </>
  );
}
