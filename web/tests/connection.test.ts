import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Connection, type ConnectionState } from '../src/shared/connection';

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.readyState = 3;
  }
  // server side
  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

type In = { type: string };
type Out = { type: string; [k: string]: unknown };

function make(states: ConnectionState[] = [], frames: In[] = []) {
  return new Connection<In, Out>({
    url: () => 'ws://pounce.test/ws/messenger',
    hello: () => ({ type: 'hello', v: 1 }),
    onFrame: (f) => frames.push(f),
    onState: (s) => states.push(s),
    WebSocketImpl: FakeSocket as unknown as { new (url: string): WebSocket },
    random: () => 0,
    pingIntervalMs: 1000,
  });
}

describe('Connection', () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('says hello first and goes online at welcome', () => {
    const states: ConnectionState[] = [];
    const c = make(states);
    c.start();
    const ws = FakeSocket.all[0]!;
    expect(c.send({ type: 'typing' })).toBe(false); // nothing before welcome
    ws.open();
    expect(ws.sent).toEqual([{ type: 'hello', v: 1 }]);
    ws.receive({ type: 'welcome' });
    expect(states).toEqual(['connecting', 'online']);
    expect(c.send({ type: 'typing' })).toBe(true);
  });

  it('reconnects with growing delays, and resets them after a welcome', () => {
    const c = make();
    c.start();
    FakeSocket.all[0]!.drop(1006);
    vi.advanceTimersByTime(499);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2); // 0.5 s
    FakeSocket.all[1]!.drop(1006);
    vi.advanceTimersByTime(999);
    expect(FakeSocket.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(3); // 1 s
    const ws = FakeSocket.all[2]!;
    ws.open();
    ws.receive({ type: 'welcome' });
    ws.drop(1012); // server restarting
    vi.advanceTimersByTime(500);
    expect(FakeSocket.all).toHaveLength(4); // back to 0.5 s
  });

  it('stops for good on refused codes', () => {
    const states: ConnectionState[] = [];
    const c = make(states);
    c.start();
    FakeSocket.all[0]!.drop(4401);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(states.at(-1)).toBe('refused');
  });

  it('drops a silent link after an unanswered ping and redials', () => {
    const c = make();
    c.start();
    const ws = FakeSocket.all[0]!;
    ws.open();
    ws.receive({ type: 'welcome' });
    vi.advanceTimersByTime(1000);
    expect(ws.sent.at(-1)).toMatchObject({ type: 'ping' });
    vi.advanceTimersByTime(1000); // no pong
    expect(ws.readyState).toBe(3);
    vi.advanceTimersByTime(500);
    expect(FakeSocket.all).toHaveLength(2);
    expect(c.current).toBe('connecting');
  });

  it('ignores frames that are not JSON objects with a type', () => {
    const frames: In[] = [];
    const c = make([], frames);
    c.start();
    const ws = FakeSocket.all[0]!;
    ws.open();
    ws.onmessage?.({ data: 'not json' });
    ws.onmessage?.({ data: '[1,2]' });
    ws.receive({ type: 'welcome' });
    expect(frames).toEqual([{ type: 'welcome' }]);
  });
});
