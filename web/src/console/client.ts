/** The console's controller: owns the socket, the state, alert side effects and transcript loading. */
import { Connection, type ConnectionState } from '../shared/connection';
import { previewText, wsUrl } from '../shared/format';
import { newId } from '../shared/ids';
import { highestSeq, resumeAfter, RESUME_MAX_CONVERSATIONS } from '../shared/messages';
import {
  conversationOf,
  type RepAck,
  type Availability,
  type ConsoleClientFrame,
  type ConsoleServerFrame,
  type Conversation,
  type ErrorFrame,
  type OutcomeChoice,
  type TransferCandidatesFrame,
} from '../shared/protocol';
import { formatTitle, type ReadMarks } from '../shared/unread';
import { ApiError, type Api, type ProactiveSettings } from './api';
import { chatHref } from './router';
import { chime, showNotification } from './notify';
import {
  attentionCount,
  initialState,
  isMine,
  reduce,
  visitorLabel,
  type ConsoleAction,
  type ConsoleState,
} from './state';

/** How long "Taken by …" stays on an alert card before it goes away. */
const TAKEN_NOTICE_MS = 4_000;
const TYPING_STALE_MS = 15_000;
const TYPING_IDLE_MS = 3_000;

export class ConsoleClient {
  state: ConsoleState;
  private listeners = new Set<() => void>();
  private conn: Connection<ConsoleServerFrame, ConsoleClientFrame>;
  private welcomed = false;
  /** History loads in flight, by conversation: resolved once it is loaded through. */
  private loading = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  private typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private myTyping: { conversationId: string; timer: ReturnType<typeof setTimeout> } | null = null;
  private lastTitle = '';
  private failures = 0;
  /** Highest `read` seq sent per conversation on this page. */
  private readSent = new Map<string, number>();
  /** Requests whose answer a caller awaits (a pounce opens the conversation it made). */
  private waiters = new Map<string, { resolve: (f: RepAck) => void; reject: (f: ErrorFrame) => void }>();
  /** `transfer_candidates` asked for, by frame id (answered by a frame of that type, or an error). */
  private candidateWaiters = new Map<string, { resolve: (f: TransferCandidatesFrame) => void; reject: (f: ErrorFrame) => void }>();

  constructor(
    private readonly api: Api,
    private readonly userId: string,
    /** The server refused the socket (4401): the session is gone. */
    private readonly onSignedOut: () => void,
  ) {
    this.state = initialState(this.loadRead());
    this.conn = new Connection<ConsoleServerFrame, ConsoleClientFrame>({
      url: () => wsUrl('/ws/console'),
      // After a reconnect the hello asks for what we missed; the server replays it in order.
      hello: () => {
        const resume = resumeAfter(this.state.log, [], RESUME_MAX_CONVERSATIONS, this.state.events);
        return Object.keys(resume).length ? { type: 'hello', v: 1, resume } : { type: 'hello', v: 1 };
      },
      onFrame: (f) => this.onFrame(f),
      onState: (state: ConnectionState, code?: number) => {
        this.dispatch({ type: 'connection', state });
        if (state === 'refused' && code === 4401) this.onSignedOut();
        if (state === 'online') this.failures = 0;
        if (state !== 'online') this.failWaiters();
        // A refusal before the handshake completes reaches browsers as a bare 1006, not
        // 4401: after a couple of failed dials, ask the REST API whether we are signed out.
        if (state === 'offline' && (++this.failures === 2 || this.failures % 10 === 0)) {
          this.api.session().then(
            (s) => {
              if (!s) this.onSignedOut();
            },
            () => {},
          );
        }
      },
    });
  }

  start(): void {
    this.conn.start();
    addEventListener('online', () => this.conn.reconnectNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.conn.reconnectNow();
    });
  }

  stop(): void {
    this.conn.stop();
    document.title = 'Pounce';
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  dispatch(action: ConsoleAction): void {
    const next = reduce(this.state, action);
    if (next === this.state) return;
    this.state = next;
    const title = formatTitle(attentionCount(next), 'Pounce');
    if (title !== this.lastTitle) document.title = this.lastTitle = title;
    for (const fn of this.listeners) fn();
  }

  // ---- frames -------------------------------------------------------------------

  private onFrame(f: ConsoleServerFrame): void {
    const before = this.state;
    this.dispatch({ type: 'frame', frame: f });
    if ((f.type === 'transfer_candidates' || f.type === 'error') && f.id && this.candidateWaiters.has(f.id)) {
      const waiter = this.candidateWaiters.get(f.id)!;
      this.candidateWaiters.delete(f.id);
      if (f.type === 'error') waiter.reject(f);
      else waiter.resolve(f);
    }
    if ((f.type === 'ack' || f.type === 'error') && f.id) {
      const waiter = this.waiters.get(f.id);
      if (waiter) {
        this.waiters.delete(f.id);
        if (f.type === 'ack') waiter.resolve(f);
        else waiter.reject(f);
      }
    }
    switch (f.type) {
      case 'welcome': {
        this.resendPending();
        // History loads asked for on the old socket are not answered on this one.
        const waiting = [...this.loading.keys()];
        for (const cid of waiting) this.loading.get(cid)!.resolve();
        this.loading.clear();
        if (this.welcomed && waiting.length) void this.loadHistory(waiting);
        if (!this.welcomed) {
          // Load my open conversations so their unread dots are right after a reload.
          void this.loadHistory(f.conversations.map((c) => c.id));
          void this.loadProactive();
        }
        this.welcomed = true;
        break;
      }
      case 'alert': {
        const who = visitorLabel(f.visitor);
        const title = f.deadline ? `${who} replied to your auto pounce` : `New chat from ${who}`;
        this.announce(title, f.message ? previewText(f.message.html) : '', f.conversation.visitor_id, f.conversation.id);
        break;
      }
      case 'conversation': {
        const c = conversationOf(f);
        // Handed to me (started, transferred): everything said before is mine to see now.
        if (isMine(this.state, c) && !isMine(before, before.conversations[c.id])) void this.loadHistory([c.id]);
        // Transferred away from me: its window closes (back to Home, which says where it went).
        if (this.state.transferNotice?.result === 'transferred' && this.state.transferNotice.conversationId === c.id && location.hash === chatHref(c.visitor_id, c.id)) {
          location.hash = '#/';
        }
        if (c.owner && !isMine(this.state, c) && before.alerts.some((a) => a.alert.conversation.id === c.id)) {
          setTimeout(() => this.dispatch({ type: 'drop_alert', conversationId: c.id }), TAKEN_NOTICE_MS);
        }
        break;
      }
      case 'error': {
        const req = f.id ? before.requests[f.id] : undefined;
        if (req?.kind === 'start' && f.code === 'already_taken') {
          setTimeout(() => this.dispatch({ type: 'drop_alert', conversationId: req.conversationId }), TAKEN_NOTICE_MS);
        }
        if (req?.kind === 'history') {
          // Too much history at once (`rate_limited`): ask again when the server says.
          const ids = req.conversationIds.filter((cid) => this.loading.has(cid));
          for (const cid of ids) this.loading.delete(cid);
          if (f.code === 'rate_limited') setTimeout(() => void this.loadHistory(ids), f.retry_after_ms ?? 1000);
        }
        break;
      }
      case 'sync': {
        // Then what was said meanwhile in the conversations we follow.
        // (Always asked: the server holds this socket's live frames until we do.)
        const after = resumeAfter(this.state.log, [], RESUME_MAX_CONVERSATIONS, this.state.events);
        this.conn.send({ type: 'resume', after });
        break;
      }
      case 'resumed': {
        const req = f.id ? before.requests[f.id] : undefined;
        const more = f.more ?? [];
        if (req?.kind === 'history') {
          for (const cid of req.conversationIds) {
            if (more.includes(cid)) continue;
            this.loading.get(cid)?.resolve();
            this.loading.delete(cid);
          }
          if (more.length) this.sendHistory(more);
        } else if (more.length) {
          // A catch-up after reconnecting stopped at a page: go on from where it did.
          const after = Object.fromEntries(more.map((cid) => [cid, f.conversations[cid] ?? 0]));
          this.conn.send({ type: 'resume', after });
        }
        break;
      }
      case 'transfer_request': {
        const who = visitorLabel(f.visitor);
        this.announce(`${f.by.name} asks you to take the chat with ${who}`, f.note ?? '', f.conversation.visitor_id, f.conversation.id);
        break;
      }
      case 'typing': {
        clearTimeout(this.typingTimers.get(f.conversation_id));
        if (f.typing) {
          const cid = f.conversation_id;
          this.typingTimers.set(cid, setTimeout(() => this.dispatch({ type: 'typing_timeout', conversationId: cid }), TYPING_STALE_MS));
        }
        break;
      }
      case 'message': {
        const c = this.state.conversations[f.conversation_id];
        // A visitor writing in one of my conversations while I look elsewhere.
        if (f.author.kind === 'visitor' && isMine(this.state, c) && document.visibilityState !== 'visible') chime();
        break;
      }
      default:
        break;
    }
  }

  private announce(title: string, body: string, visitorId: string, conversationId: string): void {
    chime();
    showNotification(title, body, conversationId, () => {
      location.hash = chatHref(visitorId, conversationId);
    });
  }

  private resendPending(): void {
    for (const [cid, list] of Object.entries(this.state.pending)) {
      for (const p of list) {
        if (p.status === 'sending') this.conn.send({ type: 'message', id: p.id, conversation_id: cid, body: p.body });
      }
    }
  }

  // ---- transcripts ----------------------------------------------------------------

  /** Every conversation of a visitor with its messages (for the conversation console). */
  async loadVisitor(visitorId: string): Promise<void> {
    const conversations = await this.api.conversationsOf(visitorId);
    this.dispatch({ type: 'loaded', conversations });
    await this.loadHistory(conversations.map((c) => c.id));
  }

  /** Load a conversation's whole history (messages and events), merged with live frames by seq. */
  loadMessages(conversationId: string): Promise<void> {
    return this.loadHistory([conversationId]);
  }

  /**
   * Load what we have not loaded yet of these conversations' streams over the socket,
   * a page at a time, from where the last load stopped (a conversation handed to me
   * shows everything before my alert too, auto pounce greeting and nudge included).
   */
  loadHistory(conversationIds: readonly string[]): Promise<void> {
    const fresh = conversationIds.filter((cid) => !this.loading.has(cid));
    for (const cid of fresh) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.loading.set(cid, { promise, resolve });
    }
    if (fresh.length) this.sendHistory(fresh);
    return Promise.all(conversationIds.map((cid) => this.loading.get(cid)?.promise)).then(() => undefined);
  }

  private sendHistory(conversationIds: readonly string[]): void {
    for (let i = 0; i < conversationIds.length; i += RESUME_MAX_CONVERSATIONS) {
      const ids = conversationIds.slice(i, i + RESUME_MAX_CONVERSATIONS);
      const id = newId();
      const after = Object.fromEntries(ids.map((cid) => [cid, this.state.loadedThrough[cid] ?? 0]));
      this.dispatch({ type: 'request', id, request: { kind: 'history', conversationIds: ids } });
      // Offline: the welcome after reconnecting asks again for what is still loading.
      this.conn.send({ type: 'resume', id, after });
    }
  }

  /** Ask for a visitor's Visitor 360 (the answer lands in `state.profiles`). */
  loadProfile(visitorId: string): void {
    const id = newId();
    if (!this.conn.send({ type: 'visitor_profile', id, visitor_id: visitorId })) return;
    this.dispatch({ type: 'request', id, request: { kind: 'profile', visitorId } });
  }

  /** Open a conversation I closed again (the close's Undo). */
  reopenConversation(conversationId: string): void {
    const id = newId();
    this.dispatch({ type: 'request', id, request: { kind: 'reopen', conversationId } });
    this.conn.send({ type: 'reopen_conversation', id, conversation_id: conversationId });
  }

  // ---- rep actions -------------------------------------------------------------------

  setAvailability(status: Availability): void {
    const id = newId();
    this.dispatch({ type: 'request', id, request: { kind: 'availability', status } });
    this.conn.send({ type: 'availability', id, status });
  }

  startConversation(conversationId: string): void {
    const id = newId();
    this.dispatch({ type: 'request', id, request: { kind: 'start', conversationId } });
    this.conn.send({ type: 'start_conversation', id, conversation_id: conversationId });
  }

  closeConversation(conversationId: string): void {
    const id = newId();
    this.dispatch({ type: 'request', id, request: { kind: 'close', conversationId } });
    this.conn.send({ type: 'close_conversation', id, conversation_id: conversationId });
  }

  /** The socket dropped: whatever was awaited will not be answered on it. */
  private failWaiters(): void {
    for (const [id, w] of this.waiters) w.reject({ type: 'error', id, code: 'offline', message: 'The connection dropped; try again.' });
    this.waiters.clear();
    for (const [id, w] of this.candidateWaiters) w.reject({ type: 'error', id, code: 'offline', message: 'The connection dropped; try again.' });
    this.candidateWaiters.clear();
  }

  /** Write first to a visitor who is browsing: resolves with the new conversation. */
  pounce(visitorId: string, body: string): Promise<Conversation> {
    const id = newId();
    return new Promise<Conversation>((resolve, reject) => {
      this.waiters.set(id, {
        resolve: (ack) => (ack.conversation ? resolve(ack.conversation) : reject({ type: 'error', id, code: 'internal', message: 'No conversation in the answer.' })),
        reject,
      });
      // The answer cannot arrive before this returns: record the request only once it is out.
      if (!this.conn.send({ type: 'pounce', id, visitor_id: visitorId, body })) {
        this.waiters.delete(id);
        reject({ type: 'error', id, code: 'offline', message: 'You are offline: reconnecting…' } satisfies ErrorFrame);
        return;
      }
      this.dispatch({ type: 'request', id, request: { kind: 'pounce', visitorId } });
    });
  }

  /** Who could take a conversation now (the owner drop-down). */
  transferCandidates(conversationId: string): Promise<TransferCandidatesFrame> {
    const id = newId();
    return new Promise((resolve, reject) => {
      this.candidateWaiters.set(id, { resolve, reject });
      if (!this.conn.send({ type: 'transfer_candidates', id, conversation_id: conversationId })) {
        this.candidateWaiters.delete(id);
        reject({ type: 'error', id, code: 'offline', message: 'You are offline: reconnecting…' } satisfies ErrorFrame);
      }
    });
  }

  /** Hand a conversation to `to` (cold), or ask them first (warm, with an optional note only reps see). */
  transfer(conversationId: string, ownerId: string | null, to: string, warm: boolean, note: string): Promise<RepAck> {
    const id = newId();
    return new Promise<RepAck>((resolve, reject) => {
      this.waiters.set(id, { resolve, reject });
      const handoff = warm && note.trim() ? { note: note.trim() } : {};
      if (!this.conn.send({ type: 'transfer', id, conversation_id: conversationId, owner_id: ownerId, to, warm, ...handoff })) {
        this.waiters.delete(id);
        reject({ type: 'error', id, code: 'offline', message: 'You are offline: reconnecting…' } satisfies ErrorFrame);
        return;
      }
      this.dispatch({ type: 'request', id, request: { kind: 'transfer', conversationId } });
    });
  }

  /** Accept or decline a warm transfer asked of me. */
  replyTransfer(conversationId: string, accept: boolean): void {
    const id = newId();
    this.dispatch({ type: 'request', id, request: { kind: 'transfer_reply', conversationId } });
    this.conn.send({ type: 'transfer_reply', id, conversation_id: conversationId, accept });
  }

  /** Block the conversation's visitor (and with `reason`, report them): resolves once stored. */
  blockVisitor(conversationId: string, report: boolean, reason?: string): Promise<void> {
    const id = newId();
    return new Promise<void>((resolve, reject) => {
      this.waiters.set(id, { resolve: () => resolve(), reject });
      const frame = { type: 'block_visitor' as const, id, conversation_id: conversationId, report, ...(reason ? { reason } : {}) };
      if (!this.conn.send(frame)) {
        this.waiters.delete(id);
        reject({ type: 'error', id, code: 'offline', message: 'You are offline: reconnecting…' } satisfies ErrorFrame);
      }
    });
  }

  /** Mark a conversation *Spam* or *No response needed* (stops an auto pounce countdown, closes it). */
  setOutcome(conversationId: string, outcome: OutcomeChoice): void {
    const id = newId();
    this.dispatch({ type: 'request', id, request: { kind: 'outcome', conversationId } });
    this.conn.send({ type: 'set_outcome', id, conversation_id: conversationId, outcome });
  }

  /** My *Enable auto pounce* (shown at once; every tab hears the server's `auto_pounce`). */
  async setAutoPounce(enabled: boolean): Promise<void> {
    const was = !!this.state.me?.auto_pounce;
    this.dispatch({ type: 'auto_pounce', enabled });
    try {
      const r = await this.api.setMyAutoPounce(enabled);
      this.dispatch({ type: 'auto_pounce', enabled: r.enabled });
    } catch (e) {
      this.dispatch({ type: 'auto_pounce', enabled: was });
      throw e;
    }
  }

  /** The org's auto pounce settings changed (an admin saved them on this page). */
  proactiveChanged(settings: ProactiveSettings): void {
    this.dispatch({ type: 'proactive', settings });
  }

  /** The org's switch, and why my own switch is off if the server turned it off. */
  private async loadProactive(): Promise<void> {
    try {
      const [settings, mine] = await Promise.all([this.api.proactiveSettings(), this.api.myAutoPounce()]);
      this.dispatch({ type: 'proactive', settings });
      if (!mine.enabled && mine.reason === 'missed_response' && !this.state.autoPounceNotice) {
        this.dispatch({ type: 'auto_pounce', enabled: false, notice: { enabled: false, reason: 'missed_response', conversationId: null } });
      }
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      /* the toggle still works; the org switch state just is not shown */
    }
  }

  send(conversationId: string, body: string): void {
    const id = newId();
    this.stopTyping();
    this.dispatch({ type: 'request', id, request: { kind: 'message', conversationId }, body });
    this.conn.send({ type: 'message', id, conversation_id: conversationId, body });
  }

  retry(conversationId: string, id: string): void {
    const p = this.state.pending[conversationId]?.find((x) => x.id === id);
    if (!p) return;
    this.dispatch({ type: 'retry', id, conversationId });
    this.conn.send({ type: 'message', id, conversation_id: conversationId, body: p.body });
  }

  typed(conversationId: string): void {
    if (this.myTyping?.conversationId !== conversationId) {
      this.stopTyping();
      if (!this.conn.send({ type: 'typing', conversation_id: conversationId, typing: true })) return;
    } else {
      clearTimeout(this.myTyping.timer);
    }
    this.myTyping = { conversationId, timer: setTimeout(() => this.stopTyping(), TYPING_IDLE_MS) };
  }

  private stopTyping(): void {
    if (!this.myTyping) return;
    clearTimeout(this.myTyping.timer);
    this.conn.send({ type: 'typing', conversation_id: this.myTyping.conversationId, typing: false });
    this.myTyping = null;
  }

  /** The rep is looking at this conversation: mark everything in it read. */
  markRead(conversationId: string): void {
    const seq = highestSeq(this.state.log[conversationId]);
    // Only the owner's reading is news to the visitor ("Seen"); a peek by an alerted rep is not.
    if (isMine(this.state, this.state.conversations[conversationId]) && seq > (this.readSent.get(conversationId) ?? 0)) {
      if (this.conn.send({ type: 'read', conversation_id: conversationId, seq })) this.readSent.set(conversationId, seq);
    }
    if (seq <= (this.state.myRead[conversationId] ?? 0)) return;
    this.dispatch({ type: 'read', conversationId, seq });
    try {
      localStorage.setItem(this.readKey(), JSON.stringify(this.state.myRead));
    } catch {
      /* private mode: unread dots reset on reload */
    }
  }

  private readKey(): string {
    return `pounce.console.read.${this.userId}`;
  }

  private loadRead(): ReadMarks {
    try {
      return JSON.parse(localStorage.getItem(this.readKey()) ?? '{}') as ReadMarks;
    } catch {
      return {};
    }
  }
}
