/** The console's live state and how frames and rep actions change it (pure, no DOM, no socket). */
import type { ConnectionState } from '../shared/connection';
import { addToLog, lastSeqBy, type EventLog, type MessageLog } from '../shared/messages';
import type { ProactiveSettings } from './api';
import {
  conversationOf,
  type Alert,
  type AutoPounceReason,
  type Availability,
  type ConsoleServerFrame,
  type Conversation,
  type EventItem,
  type Message,
  type Org,
  type Rep,
  type RepPresence,
  type User,
  type VisitorCard,
  type VisitorPresence,
} from '../shared/protocol';
import { countUnread, markRead, type ReadMarks } from '../shared/unread';
import { keepProfile, profileSeesConversation, profileSeesIdentity, profileSeesVisitor, type Profiles } from './profile';

export interface PendingMessage {
  id: string;
  body: string;
  status: 'sending' | 'failed';
  error?: string;
}

export interface AlertEntry {
  alert: Alert;
  /** Another rep started the conversation: shown briefly, then the alert goes away. */
  takenBy: Rep | null;
}

/** What an in-flight request (by frame id) was for, so its ack or error lands in the right place. */
export type Request =
  | { kind: 'message'; conversationId: string }
  | { kind: 'start'; conversationId: string }
  | { kind: 'close'; conversationId: string }
  | { kind: 'reopen'; conversationId: string }
  | { kind: 'history'; conversationIds: readonly string[] }
  | { kind: 'availability'; status: Availability }
  | { kind: 'pounce'; visitorId: string }
  | { kind: 'outcome'; conversationId: string }
  | { kind: 'profile'; visitorId: string }
  | { kind: 'transfer'; conversationId: string }
  | { kind: 'transfer_reply'; conversationId: string };

/** A warm transfer asked of me (the `transfer_request` frame), until answered or expired. */
export type TransferAsk = Omit<Extract<ConsoleServerFrame, { type: 'transfer_request' }>, 'type'>;

/** A warm transfer of a conversation I own or asked for, waiting for `to`'s answer (the
 * `transfer_waiting` frame), until `transfer_result` ends it. */
export type TransferWaiting = Omit<Extract<ConsoleServerFrame, { type: 'transfer_waiting' }>, 'type'>;

/** How a transfer touched me: my conversation went to `to` (I or an admin moved it), or my
 * warm request ended (declined, expired, void). Shown until dismissed. */
export interface TransferNotice {
  conversationId: string;
  visitorId: string;
  to: Rep | null;
  result: 'transferred' | 'accepted' | 'declined' | 'expired' | 'void';
}

/** The server switched my auto pounce off (or on): shown until dismissed. */
export interface AutoPounceNotice {
  enabled: boolean;
  reason: AutoPounceReason;
  conversationId: string | null;
}

export interface ConsoleState {
  connection: ConnectionState;
  /** The welcome of the current socket has been applied (tests wait on `data-ready`). */
  welcomed: boolean;
  me: User | null;
  org: Org | null;
  reps: Readonly<Record<string, RepPresence>>;
  visitors: Readonly<Record<string, VisitorPresence>>;
  /** Richer visitor cards (company, country) from alerts, kept after the visitor leaves. */
  cards: Readonly<Record<string, VisitorCard>>;
  /** Last presence of visitors who went offline, so their conversations keep a name. */
  departed: Readonly<Record<string, VisitorPresence>>;
  alerts: readonly AlertEntry[];
  conversations: Readonly<Record<string, Conversation>>;
  log: MessageLog;
  /** Events of each conversation's stream (closed, owner changed …), by seq. */
  events: EventLog;
  /** Per conversation, how far its history has been loaded from the server. */
  loadedThrough: Readonly<Record<string, number>>;
  /** The conversation I just closed, while its Undo is offered. */
  justClosed: string | null;
  pending: Readonly<Record<string, readonly PendingMessage[]>>;
  requests: Readonly<Record<string, Request>>;
  visitorTyping: Readonly<Record<string, boolean>>;
  visitorRead: ReadMarks;
  myRead: ReadMarks;
  /** `already_taken` answers to my `start_conversation`: who won. */
  takenBy: Readonly<Record<string, Rep>>;
  /** Last error shown to the rep, by conversation (e.g. `not_owner`, `closed`). */
  errors: Readonly<Record<string, string>>;
  /** The org's auto pounce settings (null until loaded, or if they could not be). */
  proactive: ProactiveSettings | null;
  autoPounceNotice: AutoPounceNotice | null;
  /** Visitor 360 profiles loaded (kept live), by visitor id. */
  profiles: Profiles;
  /** Why a profile could not be loaded (e.g. `not_found`), by visitor id. */
  profileErrors: Readonly<Record<string, string>>;
  /** The visitor whose Visitor 360 is open beside the page (outside a conversation). */
  panelVisitor: string | null;
  /** Warm transfers asked of me, by conversation. */
  transferAsks: Readonly<Record<string, TransferAsk>>;
  /** Warm transfers of mine waiting for an answer, by conversation. */
  transferWaiting: Readonly<Record<string, TransferWaiting>>;
  transferNotice: TransferNotice | null;
}

export type ConsoleAction =
  | { type: 'connection'; state: ConnectionState }
  | { type: 'frame'; frame: ConsoleServerFrame }
  | { type: 'request'; id: string; request: Request; body?: string }
  | { type: 'retry'; id: string; conversationId: string }
  | { type: 'loaded'; conversations?: readonly Conversation[]; messages?: readonly Message[] }
  | { type: 'read'; conversationId: string; seq: number }
  | { type: 'drop_alert'; conversationId: string }
  | { type: 'typing_timeout'; conversationId: string }
  | { type: 'proactive'; settings: ProactiveSettings }
  | { type: 'auto_pounce'; enabled: boolean; notice?: AutoPounceNotice | null }
  | { type: 'dismiss_auto_pounce_notice' }
  | { type: 'dismiss_closed' }
  | { type: 'open_visitor'; visitorId: string | null }
  | { type: 'dismiss_transfer_notice' };

export function initialState(myRead: ReadMarks = {}): ConsoleState {
  return {
    connection: 'connecting',
    welcomed: false,
    me: null,
    org: null,
    reps: {},
    visitors: {},
    cards: {},
    departed: {},
    alerts: [],
    conversations: {},
    log: {},
    events: {},
    loadedThrough: {},
    justClosed: null,
    pending: {},
    requests: {},
    visitorTyping: {},
    visitorRead: {},
    myRead,
    takenBy: {},
    errors: {},
    proactive: null,
    autoPounceNotice: null,
    profiles: {},
    profileErrors: {},
    panelVisitor: null,
    transferAsks: {},
    transferWaiting: {},
    transferNotice: null,
  };
}

const byId = <T extends { id: string }>(items: readonly T[]): Record<string, T> =>
  Object.fromEntries(items.map((x) => [x.id, x]));

function without<T>(record: Readonly<Record<string, T>>, key: string): Readonly<Record<string, T>> {
  if (!(key in record)) return record;
  const { [key]: _gone, ...rest } = record;
  return rest;
}

function upsertConversations(s: ConsoleState, list: readonly Conversation[]): ConsoleState {
  if (list.length === 0) return s;
  const conversations = { ...s.conversations };
  let visitorRead = s.visitorRead;
  for (const c of list) {
    const prev = conversations[c.id];
    // A copy read before a change we already heard of (a REST load racing a transfer's
    // frame) must not bring the old owner back: every change moves `updated_at` on.
    const fresher = prev && prev.updated_at > c.updated_at ? prev : c;
    conversations[c.id] = { ...fresher, last_seq: Math.max(c.last_seq, prev?.last_seq ?? 0) };
    if (c.visitor_read_seq) visitorRead = markRead(visitorRead, c.id, c.visitor_read_seq);
  }
  return { ...s, conversations, visitorRead };
}

/** A conversation changed owner, status or outcome: settle its alert. */
function settleAlert(s: ConsoleState, c: Conversation): ConsoleState {
  const entry = s.alerts.find((a) => a.alert.conversation.id === c.id);
  if (!entry) return s;
  const mine = c.owner && s.me && c.owner.id === s.me.id;
  // A reply countdown ends with any outcome (replied, marked, missed and handed back).
  const settled = !!entry.alert.deadline && (!!c.outcome || !c.owner);
  if (mine || settled || c.status === 'closed') return { ...s, alerts: s.alerts.filter((a) => a !== entry) };
  if (c.owner) {
    return { ...s, alerts: s.alerts.map((a) => (a === entry ? { ...a, takenBy: c.owner } : a)) };
  }
  return s;
}

function addMessages(s: ConsoleState, messages: readonly Message[]): ConsoleState {
  const log = addToLog(s.log, messages);
  let next: ConsoleState = log === s.log ? s : { ...s, log };
  for (const m of messages) {
    const c = next.conversations[m.conversation_id];
    if (c && c.last_seq < m.seq) {
      next = { ...next, conversations: { ...next.conversations, [c.id]: { ...c, last_seq: m.seq } } };
    }
    if (m.client_id && next.pending[m.conversation_id]?.some((p) => p.id === m.client_id)) {
      const rest = next.pending[m.conversation_id]!.filter((p) => p.id !== m.client_id);
      next = { ...next, pending: { ...next.pending, [m.conversation_id]: rest } };
    }
    if (m.author.kind === 'visitor' && next.visitorTyping[m.conversation_id]) {
      next = { ...next, visitorTyping: without(next.visitorTyping, m.conversation_id) };
    }
  }
  return next;
}

function addEvents(s: ConsoleState, items: readonly EventItem[]): ConsoleState {
  const events = addToLog(s.events, items);
  let next: ConsoleState = events === s.events ? s : { ...s, events };
  for (const e of items) {
    const c = next.conversations[e.conversation_id];
    if (c && c.last_seq < e.seq) {
      next = { ...next, conversations: { ...next.conversations, [c.id]: { ...c, last_seq: e.seq } } };
    }
  }
  return next;
}

function addAlert(s: ConsoleState, alert: Alert): ConsoleState {
  let next = upsertConversations(s, [alert.conversation]);
  if (alert.message) next = addMessages(next, [alert.message]);
  const alerts = next.alerts.filter((a) => a.alert.conversation.id !== alert.conversation.id);
  return {
    ...next,
    alerts: [...alerts, { alert, takenBy: null }],
    cards: { ...next.cards, [alert.visitor.id]: alert.visitor },
  };
}

function applyAck(s: ConsoleState, f: Extract<ConsoleServerFrame, { type: 'ack' }>): ConsoleState {
  const req = s.requests[f.id];
  let next: ConsoleState = req ? { ...s, requests: without(s.requests, f.id) } : s;
  if (f.message) next = addMessages(next, [f.message]);
  if (f.conversation) {
    next = upsertConversations(next, [f.conversation]);
    next = settleAlert(next, f.conversation);
  }
  if (!req) return next;
  switch (req.kind) {
    case 'message': {
      const list = next.pending[req.conversationId] ?? [];
      if (!list.some((p) => p.id === f.id)) return next;
      return { ...next, pending: { ...next.pending, [req.conversationId]: list.filter((p) => p.id !== f.id) } };
    }
    case 'close': {
      const c = next.conversations[req.conversationId];
      const closed = c ? upsertConversations(next, [{ ...c, status: 'closed' }]) : next;
      return { ...closed, justClosed: req.conversationId };
    }
    case 'reopen':
      return next.justClosed === req.conversationId ? { ...next, justClosed: null } : next;
    case 'availability':
      return next.me ? { ...next, me: { ...next.me, availability: f.status ?? req.status } } : next;
    case 'transfer_reply':
      return { ...next, transferAsks: without(next.transferAsks, req.conversationId) };
    case 'start':
    case 'pounce':
    case 'outcome':
    case 'history':
    case 'profile':
    case 'transfer':
      return next;
  }
}

function applyError(s: ConsoleState, f: Extract<ConsoleServerFrame, { type: 'error' }>): ConsoleState {
  const req = f.id ? s.requests[f.id] : undefined;
  if (!req || !f.id) return s;
  const next: ConsoleState = { ...s, requests: without(s.requests, f.id) };
  switch (req.kind) {
    case 'message': {
      const list = next.pending[req.conversationId] ?? [];
      return {
        ...next,
        pending: {
          ...next.pending,
          [req.conversationId]: list.map((p) => (p.id === f.id ? { ...p, status: 'failed', error: f.code } : p)),
        },
        errors: { ...next.errors, [req.conversationId]: f.code },
      };
    }
    case 'start': {
      if (f.code === 'already_taken' && f.owner) {
        const c = next.conversations[req.conversationId];
        const withOwner = c && !c.owner ? upsertConversations(next, [{ ...c, owner: f.owner }]) : next;
        const settled = c ? settleAlert(withOwner, { ...c, owner: f.owner }) : withOwner;
        return { ...settled, takenBy: { ...settled.takenBy, [req.conversationId]: f.owner } };
      }
      return { ...next, errors: { ...next.errors, [req.conversationId]: f.code } };
    }
    case 'close':
    case 'reopen':
    case 'outcome':
    case 'transfer':
      return { ...next, errors: { ...next.errors, [req.conversationId]: f.code } };
    case 'profile':
      return { ...next, profileErrors: { ...next.profileErrors, [req.visitorId]: f.code } };
    case 'transfer_reply':
      return { ...next, transferAsks: without(next.transferAsks, req.conversationId) };
    case 'availability':
    case 'pounce':
    case 'history':
      return next;
  }
}

function setAutoPounce(s: ConsoleState, enabled: boolean): ConsoleState {
  const me = s.me && s.me.auto_pounce !== enabled ? { ...s.me, auto_pounce: enabled } : s.me;
  const mine = s.me ? s.reps[s.me.id] : undefined;
  const reps = mine && mine.auto_pounce !== enabled ? { ...s.reps, [mine.id]: { ...mine, auto_pounce: enabled } } : s.reps;
  return me === s.me && reps === s.reps ? s : { ...s, me, reps };
}

function applyFrame(s: ConsoleState, f: ConsoleServerFrame): ConsoleState {
  switch (f.type) {
    case 'welcome': {
      let next: ConsoleState = {
        ...s,
        welcomed: true,
        me: f.user,
        org: f.org,
        reps: byId(f.reps),
        visitors: byId(f.visitors.filter((v) => v.online)),
        alerts: [],
        // The server sends the warm transfers still waiting right after `welcome`: what
        // ended while this console was away must not linger.
        transferAsks: {},
        transferWaiting: {},
      };
      next = upsertConversations(next, f.conversations);
      for (const a of f.alerts) next = addAlert(next, a);
      return next;
    }
    case 'sync': {
      // The server's bus lost frames: this is the state now (the client then resumes).
      // The warm transfers still waiting follow it, as after a welcome.
      let next: ConsoleState = {
        ...s,
        reps: byId(f.reps),
        visitors: byId(f.visitors.filter((v) => v.online)),
        alerts: [],
        transferAsks: {},
        transferWaiting: {},
      };
      next = upsertConversations(next, f.conversations);
      for (const a of f.alerts) next = addAlert(next, a);
      return next;
    }
    case 'alert': {
      const { type: _t, ...alert } = f;
      return addAlert(s, alert);
    }
    case 'message': {
      const { type: _t, ...m } = f;
      return addMessages(s, [m]);
    }
    case 'event': {
      const { type: _t, ...e } = f;
      return addEvents(s, [e]);
    }
    case 'typing':
      if (!!s.visitorTyping[f.conversation_id] === f.typing) return s;
      return {
        ...s,
        visitorTyping: f.typing ? { ...s.visitorTyping, [f.conversation_id]: true } : without(s.visitorTyping, f.conversation_id),
      };
    case 'read':
      return { ...s, visitorRead: markRead(s.visitorRead, f.conversation_id, f.seq) };
    case 'conversation': {
      const c = conversationOf(f);
      const next = settleAlert(upsertConversations(s, [c]), c);
      const profiles = profileSeesConversation(next.profiles, c);
      const seen = profiles === next.profiles ? next : { ...next, profiles };
      // Mine a moment ago, someone else's now (a transfer): its window closes, say where it went.
      if (isMine(s, s.conversations[c.id]) && c.owner && !isMine(next, c) && c.status !== 'closed') {
        return { ...seen, transferNotice: { conversationId: c.id, visitorId: c.visitor_id, to: c.owner, result: 'transferred' } };
      }
      return seen;
    }
    case 'visitor_profile': {
      const req = s.requests[f.id];
      const requests = req ? without(s.requests, f.id) : s.requests;
      const vid = f.profile.visitor.id;
      return { ...s, requests, profiles: keepProfile(s.profiles, f.profile), profileErrors: without(s.profileErrors, vid) };
    }
    case 'visitor_identity': {
      const profiles = profileSeesIdentity(s.profiles, f);
      return profiles === s.profiles ? s : { ...s, profiles };
    }
    case 'transfer_request': {
      const { type: _t, ...ask } = f;
      return { ...upsertConversations(s, [ask.conversation]), transferAsks: { ...s.transferAsks, [ask.conversation.id]: ask }, cards: { ...s.cards, [ask.visitor.id]: ask.visitor } };
    }
    case 'transfer_waiting': {
      const { type: _t, ...waiting } = f;
      return { ...s, transferWaiting: { ...s.transferWaiting, [f.conversation_id]: waiting } };
    }
    case 'transfer_result': {
      const next = { ...s, transferAsks: without(s.transferAsks, f.conversation_id), transferWaiting: without(s.transferWaiting, f.conversation_id) };
      const c = s.conversations[f.conversation_id];
      // The asked rep learns nothing new from their own answer; the asker is told how it ended.
      if (!c || (f.to && s.me && f.to.id === s.me.id) || f.result === 'accepted') return next;
      return { ...next, transferNotice: { conversationId: c.id, visitorId: c.visitor_id, to: f.to ?? null, result: f.result } };
    }
    case 'presence': {
      const me =
        s.me && f.rep.id === s.me.id
          ? { ...s.me, availability: f.rep.availability, auto_pounce: f.rep.auto_pounce ?? s.me.auto_pounce }
          : s.me;
      return { ...s, me, reps: { ...s.reps, [f.rep.id]: f.rep } };
    }
    case 'auto_pounce': {
      const next = setAutoPounce(s, f.enabled);
      // Switched off by the server (a missed response): say so. Switched on: nothing to explain.
      const notice =
        !f.enabled && f.reason === 'missed_response'
          ? { enabled: false, reason: f.reason, conversationId: f.conversation_id ?? null }
          : f.enabled
            ? null
            : next.autoPounceNotice;
      return notice === next.autoPounceNotice ? next : { ...next, autoPounceNotice: notice };
    }
    case 'visitor': {
      const v = f.visitor;
      const profiles = profileSeesVisitor(s.profiles, v);
      if (!v.online) {
        return { ...s, profiles, visitors: without(s.visitors, v.id), departed: { ...s.departed, [v.id]: { ...s.visitors[v.id], ...v } } };
      }
      return { ...s, profiles, visitors: { ...s.visitors, [v.id]: v }, departed: without(s.departed, v.id) };
    }
    case 'ack':
      return applyAck(s, f);
    case 'error':
      return applyError(s, f);
    case 'resumed': {
      // Only a history load (a `resume` from what was loaded, by id) extends what is loaded.
      if (!f.id || s.requests[f.id]?.kind !== 'history') return s;
      const requests = without(s.requests, f.id);
      let loadedThrough = s.loadedThrough;
      for (const [cid, seq] of Object.entries(f.conversations)) {
        if (seq !== undefined && (loadedThrough[cid] ?? -1) < seq) loadedThrough = { ...loadedThrough, [cid]: seq };
      }
      return { ...s, requests, loadedThrough };
    }
    case 'pong':
      return s;
    default:
      // A frame type this console does not know (a newer server): ignore it.
      return s;
  }
}

export function reduce(s: ConsoleState, a: ConsoleAction): ConsoleState {
  switch (a.type) {
    case 'connection':
      return { ...s, connection: a.state, welcomed: s.welcomed && a.state === 'online' };
    case 'frame':
      return applyFrame(s, a.frame);
    case 'request': {
      const next = { ...s, requests: { ...s.requests, [a.id]: a.request } };
      const r = a.request;
      if (r.kind === 'message' && a.body !== undefined) {
        const list = next.pending[r.conversationId] ?? [];
        return {
          ...next,
          pending: { ...next.pending, [r.conversationId]: [...list, { id: a.id, body: a.body, status: 'sending' }] },
          errors: without(next.errors, r.conversationId),
        };
      }
      if (r.kind === 'start' || r.kind === 'close' || r.kind === 'reopen' || r.kind === 'transfer') {
        return { ...next, errors: without(next.errors, r.conversationId) };
      }
      return next;
    }
    case 'retry': {
      const list = s.pending[a.conversationId] ?? [];
      return {
        ...s,
        requests: { ...s.requests, [a.id]: { kind: 'message', conversationId: a.conversationId } },
        pending: {
          ...s.pending,
          [a.conversationId]: list.map((p) => (p.id === a.id ? { id: p.id, body: p.body, status: 'sending' } : p)),
        },
      };
    }
    case 'loaded': {
      let next = upsertConversations(s, a.conversations ?? []);
      next = addMessages(next, a.messages ?? []);
      return next;
    }
    case 'read': {
      const myRead = markRead(s.myRead, a.conversationId, a.seq);
      return myRead === s.myRead ? s : { ...s, myRead };
    }
    case 'drop_alert':
      return { ...s, alerts: s.alerts.filter((x) => x.alert.conversation.id !== a.conversationId) };
    case 'typing_timeout':
      return s.visitorTyping[a.conversationId] ? { ...s, visitorTyping: without(s.visitorTyping, a.conversationId) } : s;
    case 'proactive':
      return { ...s, proactive: a.settings };
    case 'auto_pounce': {
      const next = setAutoPounce(s, a.enabled);
      if (a.notice !== undefined) return { ...next, autoPounceNotice: a.notice };
      return a.enabled && next.autoPounceNotice ? { ...next, autoPounceNotice: null } : next;
    }
    case 'dismiss_auto_pounce_notice':
      return s.autoPounceNotice ? { ...s, autoPounceNotice: null } : s;
    case 'dismiss_closed':
      return s.justClosed ? { ...s, justClosed: null } : s;
    case 'open_visitor':
      return s.panelVisitor === a.visitorId ? s : { ...s, panelVisitor: a.visitorId };
    case 'dismiss_transfer_notice':
      return s.transferNotice ? { ...s, transferNotice: null } : s;
  }
}

// ---- derived views ------------------------------------------------------------

const fromVisitor = (m: Message): boolean => m.author.kind === 'visitor';

export function isMine(s: ConsoleState, c: Conversation | undefined): boolean {
  return !!(c && c.owner && s.me && c.owner.id === s.me.id);
}

/** Open conversations I own, most recently active first. */
export function myConversations(s: ConsoleState): Conversation[] {
  const lastAt = (c: Conversation): string => {
    const msgs = s.log[c.id];
    return msgs && msgs.length ? msgs[msgs.length - 1]!.created_at : c.created_at;
  };
  return Object.values(s.conversations)
    .filter((c) => c.status !== 'closed' && isMine(s, c))
    .sort((a, b) => lastAt(b).localeCompare(lastAt(a)));
}

export function unreadIn(s: ConsoleState, conversationId: string): number {
  return countUnread(s.log[conversationId], s.myRead[conversationId] ?? 0, fromVisitor);
}

/** The number in the tab title: alerts waiting for someone plus my conversations with unread messages. */
export function attentionCount(s: ConsoleState): number {
  const waiting = s.alerts.filter((a) => !a.takenBy).length;
  return waiting + myConversations(s).filter((c) => unreadIn(s, c.id) > 0).length;
}

/** Seq of my last message in a conversation if the visitor has read it ("Seen"), else 0. */
export function seenSeq(s: ConsoleState, conversationId: string): number {
  const last = lastSeqBy(s.log[conversationId], (m) => m.author.kind === 'rep' && m.author.id === s.me?.id);
  return last > 0 && (s.visitorRead[conversationId] ?? 0) >= last ? last : 0;
}

/** Alerts counting down to my reply (a visitor answered my auto pounce), soonest first. */
export function replyDeadlines(s: ConsoleState): (AlertEntry & { alert: Alert & { deadline: number } })[] {
  return s.alerts
    .filter((a): a is AlertEntry & { alert: Alert & { deadline: number } } => typeof a.alert.deadline === 'number' && !a.takenBy)
    .sort((a, b) => a.alert.deadline - b.alert.deadline);
}

/** Who owns a conversation I may not write in, if anyone. */
export function takenBy(s: ConsoleState, conversationId: string): Rep | null {
  const c = s.conversations[conversationId];
  if (c?.owner && !isMine(s, c)) return c.owner;
  return s.takenBy[conversationId] ?? null;
}

/** Display name of a visitor: their name, else where they are from, else a short anonymous id. */
export function visitorLabel(v: { id: string; name?: string | null; country?: string | null } | undefined, id = ''): string {
  if (v?.name) return v.name;
  if (v?.country) return `Visitor from ${v.country}`;
  const anon = (v?.id ?? id).replace(/^v_/, '').slice(-6);
  return anon ? `Visitor #${anon}` : 'Visitor';
}

/** Card or presence of a visitor, whichever we have (cards are richer). */
export function visitorInfo(s: ConsoleState, visitorId: string): VisitorCard | undefined {
  const presence = s.visitors[visitorId] ?? s.departed[visitorId];
  const card = s.cards[visitorId];
  if (presence && card) return { ...card, ...presence };
  return presence ?? card;
}


/** A conversation's messages and events, in stream order. */
export type StreamItem = { kind: 'message'; item: Message } | { kind: 'event'; item: EventItem };

export function streamOf(s: ConsoleState, conversationId: string): StreamItem[] {
  const messages = s.log[conversationId] ?? [];
  const events = s.events[conversationId] ?? [];
  if (events.length === 0) return messages.map((item) => ({ kind: 'message', item }));
  const out: StreamItem[] = [];
  let i = 0;
  let j = 0;
  while (i < messages.length || j < events.length) {
    const m = messages[i];
    const e = events[j];
    if (m && (!e || m.seq < e.seq)) {
      out.push({ kind: 'message', item: m });
      i++;
    } else if (e) {
      out.push({ kind: 'event', item: e });
      j++;
    }
  }
  return out;
}
