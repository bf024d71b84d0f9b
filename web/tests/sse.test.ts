import { afterEach, describe, expect, it, vi } from 'vitest';
import { Api, ApiError, type CopilotResult } from '../src/console/api';
import { applyCopilotEvent, SseParser, type SseEvent, type StreamState } from '../src/console/sse';

const result = (text: string): CopilotResult => ({ op: 'tune', text, html: `<p>${text}</p>`, source: 'offline', tone: 'friendly', fallback: null, note: null });
const sse = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

describe('SSE parsing', () => {
  it('parses whole events', () => {
    const p = new SseParser();
    expect(p.push(sse('chunk', { text: 'Hi' }) + sse('done', { text: 'Hi' }))).toEqual([
      { event: 'chunk', data: '{"text":"Hi"}' },
      { event: 'done', data: '{"text":"Hi"}' },
    ]);
  });

  it('keeps events split anywhere across network chunks', () => {
    const stream = sse('chunk', { text: 'Hello' }) + sse('chunk', { text: ', we' });
    for (let cut = 1; cut < stream.length; cut++) {
      const p = new SseParser();
      const got = [...p.push(stream.slice(0, cut)), ...p.push(stream.slice(cut)), ...p.end()];
      expect(got.map((e) => e.data)).toEqual(['{"text":"Hello"}', '{"text":", we"}']);
    }
  });

  it('handles CRLF and CR line ends, even a CRLF split in two', () => {
    const p = new SseParser();
    const out = [...p.push('event: chunk\r\ndata: a\r'), ...p.push('\n\r\nevent: done\rdata: b\r\r')];
    // The trailing CR may be half a CRLF: the event completes with more data or at the end.
    expect(out).toEqual([{ event: 'chunk', data: 'a' }]);
    expect([...out, ...p.end()]).toEqual([
      { event: 'chunk', data: 'a' },
      { event: 'done', data: 'b' },
    ]);
  });

  it('joins multi-line data, skips comments, defaults the event name', () => {
    const p = new SseParser();
    expect(p.push(': keep-alive\n\ndata: one\ndata:two\n\n')).toEqual([{ event: 'message', data: 'one\ntwo' }]);
  });

  it('flushes a last event without its blank line at the end', () => {
    const p = new SseParser();
    expect(p.push('event: done\ndata: {}')).toEqual([]);
    expect(p.end()).toEqual([{ event: 'done', data: '{}' }]);
  });
});

describe('copilot stream state', () => {
  const run = (events: SseEvent[]): StreamState<CopilotResult> =>
    events.reduce(applyCopilotEvent<CopilotResult>, { text: '', result: null, error: null });

  it('appends chunks, then takes the final text from done', () => {
    const s = run([
      { event: 'chunk', data: '{"text":"Hello"}' },
      { event: 'chunk', data: '{"text":", we have"}' },
    ]);
    expect(s.text).toBe('Hello, we have');
    const done = applyCopilotEvent(s, { event: 'done', data: JSON.stringify(result('Hello, we have it.')) });
    expect(done.text).toBe('Hello, we have it.');
    expect(done.result?.source).toBe('offline');
  });

  it('a reset discards what came before (the offline answer follows)', () => {
    const s = run([
      { event: 'chunk', data: '{"text":"half an ans"}' },
      { event: 'reset', data: '{"reason":"timeout"}' },
      { event: 'chunk', data: '{"text":"Offline answer"}' },
    ]);
    expect(s.text).toBe('Offline answer');
  });

  it('an error event ends it with the server’s words; junk is ignored', () => {
    expect(run([{ event: 'error', data: '{"detail":"The copilot failed; try again.","code":"error"}' }]).error).toBe('The copilot failed; try again.');
    expect(run([{ event: 'chunk', data: 'not json' }]).text).toBe('');
  });
});

describe('Api.copilotStream', () => {
  afterEach(() => vi.unstubAllGlobals());

  const streamOf = (parts: string[]): ReadableStream<Uint8Array> => {
    const enc = new TextEncoder();
    return new ReadableStream({
      start(c) {
        for (const p of parts) c.enqueue(enc.encode(p));
        c.close();
      },
    });
  };

  it('reports the text as it streams and returns the done result', async () => {
    const body = sse('chunk', { text: 'Hi' }) + sse('chunk', { text: ' there' }) + sse('done', result('Hi there.'));
    const fetch = vi.fn(async (_url: string, _init?: RequestInit) => new Response(streamOf([body.slice(0, 9), body.slice(9, 40), body.slice(40)]), { headers: { 'content-type': 'text/event-stream' } }));
    vi.stubGlobal('fetch', fetch);
    const seen: string[] = [];
    const r = await new Api().copilotStream('tune', { conversation_id: 'c_1', text: 'hi there' }, (t) => seen.push(t));
    expect(seen).toEqual(['Hi', 'Hi there', 'Hi there.']);
    expect(r.text).toBe('Hi there.');
    expect(fetch.mock.calls[0]![0]).toBe('/api/v1/copilot/tune/stream');
  });

  it('falls back to the whole-answer endpoint when streaming is not there', async () => {
    const fetch = vi
      .fn()
      .mockResolvedValueOnce(new Response('{"detail":"Not Found"}', { status: 404 }))
      .mockResolvedValueOnce(new Response(JSON.stringify(result('Whole.')), { headers: { 'content-type': 'application/json' } }));
    vi.stubGlobal('fetch', fetch);
    const r = await new Api().copilotStream('expand', { conversation_id: 'c_1', text: 'notes' }, () => {});
    expect(r.text).toBe('Whole.');
    expect(fetch.mock.calls[1]![0]).toBe('/api/v1/copilot/expand');
  });

  it('a refusal before the stream (429) is an ApiError with its code', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('{"detail":"Slow down.","code":"rate_limited"}', { status: 429 })));
    const err = await new Api().copilotStream('suggest', { conversation_id: 'c_1' }, () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('rate_limited');
  });
});
