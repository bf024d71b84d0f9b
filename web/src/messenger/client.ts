/** The messenger's controller: owns the socket, the state, and the postMessage link to the loader. */
import { Connection } from '../shared/connection';
import { wsUrl } from '../shared/format';
import { newId } from '../shared/ids';
import { resumeAfter } from '../shared/messages';
import type { Identify, MessengerClientFrame, MessengerServerFrame, PageView } from '../shared/protocol';
import type { ReadMarks } from '../shared/unread';
import {
  initialState,
  readUpdates,
  reduce,
  unreadCount,
  type MessengerAction,
  type MessengerState,
} from './state';

const TOKEN_KEY = 'pounce.visitor';
const READ_KEY = 'pounce.read';
const TYPING_IDLE_MS = 3_000;
/** A rep's typing indicator that is never switched off (lost frame) fades after this. */
const TYPING_STALE_MS = 15_000;
/** How long to wait for the host page's first page view before saying hello without one. */
const FIRST_PAGE_WAIT_MS = 1_000;

export interface MessengerParams {
  siteKey: string;
  /** Origin of the page embedding us, from the loader; the only origin we talk to. */
  hostOrigin: string | null;
  lang: string;
}

export function readParams(search: string): MessengerParams {
  const q = new URLSearchParams(search);
  let hostOrigin: string | null = null;
  try {
    const host = q.get('host');
    if (host) hostOrigin = new URL(host).origin;
  } catch {
    hostOrigin = null;
  }
  const lang = (q.get('lang') || navigator.language || 'en').slice(0, 35);
  return { siteKey: q.get('site_key') ?? '', hostOrigin, lang };
}

function storage(): Storage | null {
  try {
    return window.localStorage; // throws when third-party storage is blocked
  } catch {
    return null;
  }
}

function loadJson<T>(key: string, fallback: T): T {
  try {
    const raw = storage()?.getItem(key);
    return raw ? (JSON.parse(raw) as T) : fallback;
  } catch {
    return fallback;
  }
}

export class MessengerClient {
  state: MessengerState;
  /** Is the panel showing (told by the loader)? Read receipts only go out while it is. */
  panelOpen = false;
  private listeners = new Set<() => void>();
  private conn: Connection<MessengerServerFrame, MessengerClientFrame>;
  private page: PageView | null = null;
  private sentPageUrl: string | null = null;
  private typingSent = false;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private staleTypingTimer: ReturnType<typeof setTimeout> | undefined;
  private lastUnread = -1;
  /** The visitor closed the panel: later rep messages badge the launcher instead of popping it open. */
  private closedByVisitor = false;
  private started = false;
  /** `resume` frames awaiting their `resumed`, by id. */
  private resumes = new Map<string, Record<string, number>>();
  /** The `resume` map sent in the current socket's hello, if any. */
  private helloResume: Record<string, number> | null = null;
  /** Also kept in memory: reconnects work even where the browser blocks third-party storage. */
  private token: string | null = null;
  private startWhenPage: (() => void) | null = null;
  /** `identify` frames not answered yet, by frame id, with the loader's request id. */
  private identifies = new Map<string, { frame: Identify; rid: number }>();
  /** Set by the composer: focus it when the panel opens. */
  focusComposer: () => void = () => {};

  constructor(
    readonly params: MessengerParams,
    private readonly onOpenRequest: () => void = () => {},
  ) {
    this.state = initialState(loadJson<ReadMarks>(READ_KEY, {}));
    this.conn = new Connection<MessengerServerFrame, MessengerClientFrame>({
      url: () => wsUrl(`/ws/messenger?site_key=${encodeURIComponent(params.siteKey)}`),
      hello: () => {
        this.sentPageUrl = this.page?.url ?? null;
        // After a reconnect, ask for what we missed in the hello itself: the server then
        // replays it in seq order before any live frame.
        const resume = resumeAfter(this.state.log, this.state.currentId ? [this.state.currentId] : []);
        this.helloResume = Object.keys(resume).length ? resume : null;
        if (this.helloResume) this.dispatch({ type: 'resuming' });
        return {
          type: 'hello',
          v: 1,
          visitor_token: this.token ?? storage()?.getItem(TOKEN_KEY) ?? null,
          locale: params.lang,
          ...(this.page ? { page: this.page } : {}),
          ...(params.hostOrigin ? { host_origin: params.hostOrigin } : {}),
          ...(this.helloResume ? { resume: this.helloResume } : {}),
        };
      },
      onFrame: (f) => this.onFrame(f),
      onState: (state, code) => {
        this.dispatch({ type: 'connection', state });
        if (state === 'refused' && code === 4403) this.post({ type: 'pounce:unavailable' });
      },
    });
  }

  // ---- lifecycle ----------------------------------------------------------------

  /** Connect once the host page told us where the visitor is (or after a short wait). */
  start(): void {
    const go = (): void => {
      if (this.started) return;
      this.started = true;
      this.conn.start();
    };
    if (this.page || !this.params.hostOrigin) go();
    else setTimeout(go, FIRST_PAGE_WAIT_MS);
    this.startWhenPage = go;
    addEventListener('online', () => this.conn.reconnectNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.conn.reconnectNow();
      this.afterChange();
    });
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  dispatch(action: MessengerAction): void {
    const next = reduce(this.state, action);
    if (next === this.state) return;
    this.state = next;
    this.afterChange();
    for (const fn of this.listeners) fn();
  }

  // ---- frames from the server -----------------------------------------------------

  private onFrame(f: MessengerServerFrame): void {
    const wasLive = this.state.replaying === 0;
    if (f.type === 'welcome') {
      this.token = f.visitor_token;
      try {
        storage()?.setItem(TOKEN_KEY, f.visitor_token);
      } catch {
        /* quota or policy: the in-memory and loader copies still work */
      }
      this.post({ type: 'pounce:token', token: f.visitor_token });
    }
    this.dispatch({ type: 'frame', frame: f });
    if ((f.type === 'ack' || f.type === 'error') && f.id && this.identifies.has(f.id)) this.identified(f);
    if (f.type === 'welcome') {
      // A current conversation the hello could not ask for (a fresh page, or one that
      // began while we were away): replay it whole.
      this.resumes.clear(); // asked on an old socket: never answered on this one
      const cid = f.conversation?.id;
      if (cid && !(this.helloResume && cid in this.helloResume)) this.resume({ [cid]: 0 });
      for (const p of this.state.pending) {
        if (p.status === 'sending') this.conn.send({ type: 'message', id: p.id, body: p.body });
      }
      if (this.page && this.page.url !== this.sentPageUrl) this.sendPage();
      for (const { frame } of this.identifies.values()) this.conn.send(frame);
      const away = this.state.away;
      if (away?.status === 'sending' && away.requestId && away.email) {
        this.conn.send({ type: 'leave_email', id: away.requestId, email: away.email });
      }
    }
    if (f.type === 'resync') {
      // The server's bus lost frames for a moment: ask for what came after what we have.
      // The server holds this socket's live frames until we ask, even with nothing to ask.
      const after = resumeAfter(this.state.log, this.state.currentId ? [this.state.currentId] : []);
      if (Object.keys(after).length) this.resume(after);
      else this.conn.send({ type: 'resume', after: {} });
    }
    if (f.type === 'resumed' && f.more?.length) {
      // The replay comes a page at a time: ask for the next from where this one stopped.
      this.resume(Object.fromEntries(f.more.map((cid) => [cid, f.conversations[cid] ?? 0])));
    }
    if (f.type === 'error' && f.id && this.resumes.has(f.id)) {
      // Too much history asked for at once: the server says when to ask again.
      const after = this.resumes.get(f.id)!;
      this.resumes.delete(f.id);
      this.dispatch({ type: 'resume_failed' });
      if (f.code === 'rate_limited') setTimeout(() => this.resume(after), f.retry_after_ms ?? 1000);
    }
    if (f.type === 'resumed' && f.id) this.resumes.delete(f.id);
    if (f.type === 'typing') {
      clearTimeout(this.staleTypingTimer);
      if (f.typing) this.staleTypingTimer = setTimeout(() => this.dispatch({ type: 'typing_timeout' }), TYPING_STALE_MS);
    }
    const incoming = f.type === 'message' ? f : f.type === 'away' ? f.message : null;
    if (incoming && incoming.author.kind !== 'visitor' && wasLive && !this.panelOpen && !this.closedByVisitor) {
      this.onOpenRequest();
    }
  }

  /** Ask for what came after these seqs; `resumed` (or a refusal) answers it. */
  private resume(after: Record<string, number>): void {
    const id = newId();
    if (!this.conn.send({ type: 'resume', id, after })) return;
    this.resumes.set(id, after);
    this.dispatch({ type: 'resuming' });
  }

  // ---- visitor actions -----------------------------------------------------------

  send(body: string): void {
    const id = newId();
    this.dispatch({ type: 'send', id, body });
    this.stopTyping();
    this.conn.send({ type: 'message', id, body });
  }

  retry(id: string): void {
    const p = this.state.pending.find((x) => x.id === id);
    if (!p) return;
    this.dispatch({ type: 'retry', id });
    this.conn.send({ type: 'message', id, body: p.body });
  }

  /** Composer input: `typing: true` once, then `false` after 3 s without keystrokes. */
  typed(): void {
    clearTimeout(this.typingTimer);
    if (!this.typingSent) this.typingSent = this.conn.send({ type: 'typing', typing: true });
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  private stopTyping(): void {
    clearTimeout(this.typingTimer);
    if (this.typingSent) this.conn.send({ type: 'typing', typing: false });
    this.typingSent = false;
  }

  leaveEmail(email: string): void {
    const id = newId();
    this.dispatch({ type: 'away_submit', id, email });
    this.conn.send({ type: 'leave_email', id, email });
  }

  /** The site's `Pounce.identify(...)`: sent now, or once connected. */
  identify(identity: unknown, rid: number): void {
    const frame = identifyFrame(identity);
    if (typeof frame === 'string') {
      console.error(`Pounce.identify: ${frame}`);
      this.post({ type: 'pounce:identified', rid, verified: false, error: { code: 'invalid', message: frame } });
      return;
    }
    this.identifies.set(frame.id, { frame, rid });
    if (this.conn.current === 'online') this.conn.send(frame);
  }

  private identified(f: Extract<MessengerServerFrame, { type: 'ack' | 'error' }>): void {
    const { rid } = this.identifies.get(f.id!)!;
    this.identifies.delete(f.id!);
    if (f.type === 'error') {
      // Shown to the site's developer in the browser console: why reps will not see "Verified".
      console.error(`${f.message} (${f.code})`);
      this.post({ type: 'pounce:identified', rid, verified: false, error: { code: f.code, message: f.message } });
    } else {
      this.post({ type: 'pounce:identified', rid, verified: f.verified === true });
    }
  }

  // ---- the loader link ------------------------------------------------------------

  /** The loader's first-party copy of the token, used when our own storage is denied. */
  setHostToken(token: string): void {
    if (!this.token && !storage()?.getItem(TOKEN_KEY)) this.token = token;
  }

  setPage(page: PageView): void {
    this.page = page;
    if (!this.started) this.startWhenPage?.();
    else if (this.conn.current === 'online' && page.url !== this.sentPageUrl) this.sendPage();
  }

  private sendPage(): void {
    if (!this.page) return;
    const { url, title, referrer } = this.page;
    if (this.conn.send({ type: 'page_view', id: newId(), url, title, ...(referrer ? { referrer } : {}) })) {
      this.sentPageUrl = url;
    }
  }

  setPanelOpen(open: boolean): void {
    if (!open && this.panelOpen) this.closedByVisitor = true;
    this.panelOpen = open;
    if (open) this.focusComposer();
    this.afterChange();
  }

  post(msg: { type: string; [k: string]: unknown }): void {
    if (this.params.hostOrigin && window.parent !== window) window.parent.postMessage(msg, this.params.hostOrigin);
  }

  // ---- effects of every state change ----------------------------------------------

  private afterChange(): void {
    if (this.panelOpen && document.visibilityState === 'visible' && this.conn.current === 'online') {
      const updates = readUpdates(this.state);
      if (updates.length) {
        for (const u of updates) {
          this.conn.send({ type: 'read', conversation_id: u.conversationId, seq: u.seq });
          this.state = reduce(this.state, { type: 'read', conversationId: u.conversationId, seq: u.seq });
        }
        try {
          storage()?.setItem(READ_KEY, JSON.stringify(this.state.myRead));
        } catch {
          /* storage full or blocked: unread counts restart next page */
        }
        for (const fn of this.listeners) fn();
      }
    }
    const unread = unreadCount(this.state);
    if (unread !== this.lastUnread) {
      this.lastUnread = unread;
      this.post({ type: 'pounce:unread', count: unread });
    }
  }
}

const IDENTIFY_KEYS = ['token', 'user_id', 'user_hash', 'email', 'name', 'company'] as const;

/** The `identify` frame for what the site passed, or why it cannot be one. */
export function identifyFrame(identity: unknown): Identify | string {
  if (!identity || typeof identity !== 'object') return 'pass an object: {token} or {user_id, user_hash, email, name}.';
  const given = identity as Record<string, unknown>;
  const frame: Identify = { type: 'identify', id: newId() };
  for (const key of Object.keys(given)) {
    if (!(IDENTIFY_KEYS as readonly string[]).includes(key)) return `unknown field "${key}" (known: ${IDENTIFY_KEYS.join(', ')}).`;
    const value = given[key];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string') return `"${key}" must be a string.`;
    frame[key as (typeof IDENTIFY_KEYS)[number]] = value;
  }
  return frame;
}
