/** The messenger's state and how frames and visitor actions change it (pure, no DOM, no socket). */
import type { ConnectionState } from '../shared/connection';
import { addToLog, lastSeqBy, type Log, type MessageLog } from '../shared/messages';
import {
  conversationOf,
  type Message,
  type MessengerServerFrame,
  type Rep,
  type VisitorConversation as Conversation,
  type VisitorEventItem,
} from '../shared/protocol';
import { countUnreadInLog, markRead, type ReadMarks } from '../shared/unread';

export interface PendingMessage {
  /** Client frame id, reused on every resend so the server stores it once. */
  id: string;
  body: string;
  status: 'sending' | 'failed';
  error?: string;
}

export interface AwayState {
  conversationId: string;
  status: 'form' | 'sending' | 'sent';
  requestId?: string;
  email?: string;
  error?: string;
}

export interface MessengerState {
  connection: ConnectionState;
  visitorId: string | null;
  orgName: string;
  repsAvailable: boolean;
  conversations: Readonly<Record<string, Conversation>>;
  /** Conversation ids in the order they should be shown. */
  order: readonly string[];
  /** The conversation new visitor messages go to (null: the next one opens a new conversation). */
  currentId: string | null;
  log: MessageLog;
  /** Events shown as a line in the transcript ("You're now chatting with …"), by seq. */
  lines: Log<VisitorEventItem>;
  pending: readonly PendingMessage[];
  typing: Rep | null;
  /** How far the rep has read, per conversation. */
  repRead: ReadMarks;
  /** How far the visitor has read, per conversation. */
  myRead: ReadMarks;
  away: AwayState | null;
  /** Resumes asked for (in `hello` or a `resume` frame) whose `resumed` has not come yet. */
  replaying: number;
  /** A transient problem to show (error code of a frame that failed). */
  notice: string | null;
}

export type MessengerAction =
  | { type: 'connection'; state: ConnectionState }
  /** A resume was asked for (in `hello` or a `resume` frame). */
  | { type: 'resuming' }
  | { type: 'resume_failed' }
  | { type: 'frame'; frame: MessengerServerFrame }
  | { type: 'send'; id: string; body: string }
  | { type: 'retry'; id: string }
  | { type: 'read'; conversationId: string; seq: number }
  | { type: 'away_submit'; id: string; email: string }
  | { type: 'typing_timeout' }
  | { type: 'dismiss_notice' };

export function initialState(myRead: ReadMarks = {}): MessengerState {
  return {
    connection: 'connecting',
    visitorId: null,
    orgName: '',
    repsAvailable: true,
    conversations: {},
    order: [],
    currentId: null,
    log: {},
    lines: {},
    pending: [],
    typing: null,
    repRead: {},
    myRead,
    away: null,
    replaying: 0,
    notice: null,
  };
}

const isVisitor = (m: Message): boolean => m.author.kind === 'visitor';

function upsertConversation(s: MessengerState, c: Conversation): MessengerState {
  const prev = s.conversations[c.id];
  const order = prev ? s.order : [...s.order, c.id];
  // A conversation we did not know (a rep's pounce, the visitor's next chat) becomes the current one.
  const currentId = !prev && (c.status !== 'closed' || !s.currentId) ? c.id : s.currentId;
  const merged = { ...c, last_seq: Math.max(c.last_seq, prev?.last_seq ?? 0) };
  const repRead = c.rep_read_seq ? markRead(s.repRead, c.id, c.rep_read_seq) : s.repRead;
  return { ...s, order, currentId, repRead, conversations: { ...s.conversations, [c.id]: merged } };
}

/** A conversation we only know from one of its messages. */
function stubFor(s: MessengerState, m: Message): Conversation {
  return {
    id: m.conversation_id,
    visitor_id: s.visitorId ?? '',
    status: 'open',
    owner: null,
    last_seq: m.seq,
    created_at: m.created_at,
    rep_read_seq: 0,
  };
}

function addMessage(s: MessengerState, m: Message, clientId?: string): MessengerState {
  let next = s;
  const known = next.conversations[m.conversation_id];
  if (!known) next = upsertConversation(next, stubFor(next, m));
  else if (known.last_seq < m.seq) {
    next = { ...next, conversations: { ...next.conversations, [known.id]: { ...known, last_seq: m.seq } } };
  }
  const log = addToLog(next.log, [m]);
  const ownId = clientId ?? (isVisitor(m) ? m.client_id : null);
  const pending = ownId ? next.pending.filter((p) => p.id !== ownId) : next.pending;
  const typing = !isVisitor(m) && next.typing && m.author.id === next.typing.id ? null : next.typing;
  if (log === next.log && pending === next.pending && typing === next.typing) return next;
  return { ...next, log, pending, typing };
}

function applyFrame(s: MessengerState, f: MessengerServerFrame): MessengerState {
  switch (f.type) {
    case 'welcome': {
      let next: MessengerState = {
        ...s,
        visitorId: f.visitor_id,
        orgName: f.org.name,
        repsAvailable: f.reps_available,
        currentId: f.conversation ? f.conversation.id : s.currentId,
        notice: null,
      };
      if (f.conversation) next = upsertConversation(next, f.conversation);
      return next;
    }
    case 'ack': {
      if (f.message) return addMessage(s, f.message, f.id);
      if (s.away && s.away.requestId === f.id) return { ...s, away: { ...s.away, status: 'sent' } };
      return s;
    }
    case 'message': {
      const { type: _t, ...m } = f;
      return addMessage(s, m);
    }
    case 'event': {
      // Only a transfer's line is shown; other events reach the visitor through `conversation`.
      if (f.event.kind !== 'now_chatting_with') return s;
      const { type: _t, ...e } = f;
      const lines = addToLog(s.lines, [e]);
      return lines === s.lines ? s : { ...s, lines };
    }
    case 'typing':
      if (f.typing) return { ...s, typing: f.author };
      return s.typing && s.typing.id === f.author?.id ? { ...s, typing: null } : s;
    case 'read':
      return { ...s, repRead: markRead(s.repRead, f.conversation_id, f.seq) };
    case 'conversation':
      return upsertConversation(s, conversationOf(f));
    case 'away': {
      const next = addMessage(s, f.message);
      if (next.away && next.away.conversationId === f.conversation_id && next.away.status === 'sent') return next;
      return { ...next, away: { conversationId: f.conversation_id, status: 'form' } };
    }
    case 'reps_available':
      return { ...s, repsAvailable: f.available };
    case 'resumed':
      return { ...s, replaying: Math.max(0, s.replaying - 1) };
    case 'error': {
      if (f.id && s.pending.some((p) => p.id === f.id)) {
        return {
          ...s,
          pending: s.pending.map((p) => (p.id === f.id ? { ...p, status: 'failed', error: f.code } : p)),
        };
      }
      if (f.id && s.away?.requestId === f.id) {
        return { ...s, away: { ...s.away, status: 'form', error: f.code } };
      }
      return f.code === 'rate_limited' ? { ...s, notice: f.code } : s;
    }
    case 'pong':
      return s;
    default:
      // A frame type this messenger does not know (a newer server): ignore it.
      return s;
  }
}

export function reduce(s: MessengerState, a: MessengerAction): MessengerState {
  switch (a.type) {
    case 'connection':
      // A new socket starts with no replay outstanding (the old one's will never finish).
      return { ...s, connection: a.state, typing: a.state === 'online' ? s.typing : null, replaying: a.state === 'online' ? s.replaying : 0 };
    case 'resuming':
      return { ...s, replaying: s.replaying + 1 };
    case 'resume_failed':
      return { ...s, replaying: Math.max(0, s.replaying - 1) };
    case 'frame':
      return applyFrame(s, a.frame);
    case 'send':
      return { ...s, pending: [...s.pending, { id: a.id, body: a.body, status: 'sending' }], notice: null };
    case 'retry':
      return { ...s, pending: s.pending.map((p) => (p.id === a.id ? { id: p.id, body: p.body, status: 'sending' } : p)) };
    case 'read': {
      const myRead = markRead(s.myRead, a.conversationId, a.seq);
      return myRead === s.myRead ? s : { ...s, myRead };
    }
    case 'away_submit':
      return s.away ? { ...s, away: { ...s.away, status: 'sending', requestId: a.id, email: a.email } } : s;
    case 'typing_timeout':
      return s.typing ? { ...s, typing: null } : s;
    case 'dismiss_notice':
      return s.notice ? { ...s, notice: null } : s;
  }
}

// ---- derived views ------------------------------------------------------------

/** Messages from reps, bots and the system that the visitor has not read. */
export function unreadCount(s: MessengerState): number {
  return countUnreadInLog(s.log, s.myRead, (m) => !isVisitor(m));
}

/** The rep shown in the header: the owner of the current conversation. */
export function ownerRep(s: MessengerState): Rep | null {
  return (s.currentId && s.conversations[s.currentId]?.owner) || null;
}

/** Seq of the visitor's last message if the rep has read it (shows "Seen"), else 0. */
export function seenSeq(s: MessengerState): number {
  for (let i = s.order.length - 1; i >= 0; i--) {
    const cid = s.order[i]!;
    const last = lastSeqBy(s.log[cid], isVisitor);
    if (last > 0) return (s.repRead[cid] ?? 0) >= last ? last : 0;
  }
  return 0;
}

/** Highest seq per conversation that the visitor has not yet marked read. */
export function readUpdates(s: MessengerState): { conversationId: string; seq: number }[] {
  const out: { conversationId: string; seq: number }[] = [];
  for (const [cid, msgs] of Object.entries(s.log)) {
    const top = msgs.length ? msgs[msgs.length - 1]!.seq : 0;
    if (top > (s.myRead[cid] ?? 0)) out.push({ conversationId: cid, seq: top });
  }
  return out;
}
