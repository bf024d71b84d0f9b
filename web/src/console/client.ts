/** The console's controller: owns the socket, the state, alert side effects and transcript loading. */
import { Connection, type ConnectionState } from '../shared/connection';
import { wsUrl } from '../shared/format';
import { newId } from '../shared/ids';
import { highestSeq, resumeAfter } from '../shared/messages';
import { conversationOf, type Availability, type ConsoleClientFrame, type ConsoleServerFrame } from '../shared/protocol';
import { formatTitle, type ReadMarks } from '../shared/unread';
import type { Api } from './api';
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
  private loading = new Map<string, Promise<void>>();
  private typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private myTyping: { conversationId: string; timer: ReturnType<typeof setTimeout> } | null = null;
  private lastTitle = '';
  private failures = 0;
  /** Highest `read` seq sent per conversation on this page. */
  private readSent = new Map<string, number>();

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
        const resume = resumeAfter(this.state.log);
        return Object.keys(resume).length ? { type: 'hello', v: 1, resume } : { type: 'hello', v: 1 };
      },
      onFrame: (f) => this.onFrame(f),
      onState: (state: ConnectionState, code?: number) => {
        this.dispatch({ type: 'connection', state });
        if (state === 'refused' && code === 4401) this.onSignedOut();
        if (state === 'online') this.failures = 0;
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
    switch (f.type) {
      case 'welcome': {
        this.resendPending();
        if (!this.welcomed) {
          // Load my open conversations so their unread dots are right after a reload.
          for (const c of f.conversations) void this.loadMessages(c.id);
        }
        this.welcomed = true;
        break;
      }
      case 'alert': {
        this.announce(visitorLabel(f.visitor), f.message?.body ?? '', f.conversation.visitor_id, f.conversation.id);
        break;
      }
      case 'conversation': {
        const c = conversationOf(f);
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

  private announce(who: string, body: string, visitorId: string, conversationId: string): void {
    chime();
    showNotification(`New chat from ${who}`, body, conversationId, () => {
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
    await Promise.all(conversations.map((c) => this.loadMessages(c.id)));
  }

  /** Fetch what we miss of one conversation (REST), merged with live frames by seq. */
  loadMessages(conversationId: string): Promise<void> {
    const running = this.loading.get(conversationId);
    if (running) return running;
    const p = this.api
      .messages(conversationId, highestSeq(this.state.log[conversationId]))
      .then((messages) => this.dispatch({ type: 'loaded', messages }))
      .finally(() => this.loading.delete(conversationId));
    this.loading.set(conversationId, p);
    return p;
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
