/** A WebSocket that says `hello`, reconnects with backoff, and detects dead links with app-level pings. */
import { backoffDelay } from './backoff';

export type ConnectionState =
  /** Dialling or waiting for `welcome`. */
  | 'connecting'
  /** `welcome` received: frames may be sent. */
  | 'online'
  /** Lost; a reconnect is scheduled. */
  | 'offline'
  /** Closed with a code that reconnecting will not fix (not authenticated, refused…). */
  | 'refused';

/** 4400 bad hello, 4401 not authenticated, 4403 origin/site refused or visitor blocked. */
export const FATAL_CLOSE_CODES: readonly number[] = [4400, 4401, 4403];

export interface ConnectionOptions<In extends { type: string }, Out extends { type: string }> {
  url: () => string;
  hello: () => Out;
  onFrame: (frame: In) => void;
  onState?: (state: ConnectionState, closeCode?: number) => void;
  fatalCodes?: readonly number[];
  /** Injected in tests. */
  WebSocketImpl?: { new (url: string): WebSocket };
  random?: () => number;
  pingIntervalMs?: number;
  /** A socket that has not answered `welcome` within this is dropped and redialled. */
  welcomeTimeoutMs?: number;
}

const OPEN = 1;

export class Connection<In extends { type: string }, Out extends { type: string }> {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private state: ConnectionState = 'offline';
  private stopped = true;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private welcomeTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private awaitingFrame = false;

  constructor(private readonly opts: ConnectionOptions<In, Out>) {}

  get current(): ConnectionState {
    return this.state;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.drop();
  }

  /** Skip the remaining backoff (the browser came back online, the tab became visible). */
  reconnectNow(): void {
    if (this.stopped || this.state !== 'offline') return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  /** Send when online; returns false (and sends nothing) otherwise. */
  send(frame: Out): boolean {
    if (this.state !== 'online' || !this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  private setState(state: ConnectionState, code?: number): void {
    this.state = state;
    this.opts.onState?.(state, code);
  }

  private connect(): void {
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    this.setState('connecting');
    let ws: WebSocket;
    try {
      ws = new Impl(this.opts.url());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws === ws) ws.send(JSON.stringify(this.opts.hello()));
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws === ws) this.receive(ev.data);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws === ws) this.lost(ev.code);
    };
    this.welcomeTimer = setTimeout(() => {
      if (this.ws === ws && this.state === 'connecting') this.lost(0);
    }, this.opts.welcomeTimeoutMs ?? 15_000);
  }

  private receive(data: unknown): void {
    this.awaitingFrame = false;
    if (typeof data !== 'string') return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof frame !== 'object' || frame === null || typeof (frame as { type?: unknown }).type !== 'string') {
      return;
    }
    const typed = frame as In;
    if (typed.type === 'welcome') {
      clearTimeout(this.welcomeTimer);
      this.attempt = 0;
      this.setState('online');
      this.startPings();
    }
    this.opts.onFrame(typed);
  }

  private startPings(): void {
    clearInterval(this.pingTimer);
    this.awaitingFrame = false;
    this.pingTimer = setInterval(() => {
      // Browsers hide protocol-level pings from scripts, so a half-open TCP link
      // (laptop lid closed, Wi-Fi switched) is only noticed by our own ping.
      if (this.awaitingFrame) {
        this.lost(0);
        return;
      }
      this.awaitingFrame = true;
      this.send({ type: 'ping', t: Date.now() } as unknown as Out);
    }, this.opts.pingIntervalMs ?? 25_000);
  }

  /** Forget the socket (closing it if needed) without scheduling anything. */
  private drop(): void {
    clearTimeout(this.welcomeTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      if (ws.readyState <= OPEN) ws.close();
    }
  }

  private lost(code: number): void {
    this.drop();
    if (this.stopped) return;
    if ((this.opts.fatalCodes ?? FATAL_CLOSE_CODES).includes(code)) {
      this.setState('refused', code);
      return;
    }
    this.setState('offline', code);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    clearTimeout(this.retryTimer);
    const delay = backoffDelay(this.attempt++, this.opts.random);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
