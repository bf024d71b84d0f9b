/** Server-sent events read from a `fetch` body (EventSource cannot POST or send CSRF headers),
 * and how the copilot's `chunk` / `reset` / `done` / `error` events build the composer text. */

export interface SseEvent {
  event: string;
  data: string;
}

/** Incremental parser of a `text/event-stream`: feed it decoded text as it arrives. */
export class SseParser {
  private buf = '';
  private event = '';
  private data: string[] = [];

  push(chunk: string): SseEvent[] {
    this.buf += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const i = this.buf.search(/\r\n|\r|\n/);
      if (i < 0) break;
      // A lone `\r` at the end may be the first half of `\r\n`: wait for more.
      if (this.buf[i] === '\r' && i === this.buf.length - 1) break;
      const eol = this.buf.startsWith('\r\n', i) ? 2 : 1;
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + eol);
      this.line(line, out);
    }
    return out;
  }

  /** The stream ended: whatever is buffered counts as a last, complete event. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.buf) this.line(this.buf.replace(/\r$/, ''), out);
    this.buf = '';
    this.line('', out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.data.length) out.push({ event: this.event || 'message', data: this.data.join('\n') });
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
  }
}

/** What the composer shows while a copilot stream runs. */
export interface StreamState<R> {
  text: string;
  result: R | null;
  error: string | null;
}

/**
 * Apply one copilot event: `chunk` appends, `reset` discards what came so far (the provider
 * failed; the offline answer follows), `done` carries the final result, `error` ends it.
 */
export function applyCopilotEvent<R extends { text: string }>(s: StreamState<R>, ev: SseEvent): StreamState<R> {
  let data: unknown;
  try {
    data = JSON.parse(ev.data);
  } catch {
    return s;
  }
  const d = (data ?? {}) as { text?: unknown; detail?: unknown };
  switch (ev.event) {
    case 'chunk':
      return typeof d.text === 'string' ? { ...s, text: s.text + d.text } : s;
    case 'reset':
      return { ...s, text: '' };
    case 'done':
      return { ...s, text: typeof d.text === 'string' ? d.text : s.text, result: data as R };
    case 'error':
      return { ...s, error: typeof d.detail === 'string' ? d.detail : 'The copilot failed; try again.' };
    default:
      return s;
  }
}
