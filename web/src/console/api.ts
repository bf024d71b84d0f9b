/** The REST API of the console (same origin, session cookie, CSRF header on every write). */
import type { Conversation, Message, User } from '../shared/protocol';

export interface Session {
  user: User;
  csrf_token: string;
}

export interface Site {
  id: string;
  name: string;
  site_key: string;
  allowed_origins: string[];
  snippet: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** FastAPI's `detail` is a string, or a list of validation problems. */
function detailOf(body: unknown, status: number): string {
  const d = (body as { detail?: unknown } | null)?.detail;
  if (typeof d === 'string') return d;
  if (Array.isArray(d)) {
    return d.map((x) => (x as { msg?: unknown })?.msg).filter((m): m is string => typeof m === 'string').join('; ') || `HTTP ${status}`;
  }
  return `HTTP ${status}`;
}

export class Api {
  private csrf: string | null = null;
  /** Called on any 401 after login: the session ended. */
  onUnauthorized: () => void = () => {};

  constructor(private readonly base = '/api/v1') {}

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && this.csrf) headers['X-CSRF-Token'] = this.csrf;
    const res = await fetch(this.base + path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const err = new ApiError(res.status, detailOf(data, res.status));
      if (res.status === 401 && path !== '/session') this.onUnauthorized();
      throw err;
    }
    return data as T;
  }

  /** The current session, or null when not logged in. */
  async session(): Promise<Session | null> {
    try {
      const s = await this.request<Session>('GET', '/session');
      this.csrf = s.csrf_token;
      return s;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return null;
      throw e;
    }
  }

  async login(email: string, password: string): Promise<Session> {
    const s = await this.request<Session>('POST', '/session', { email, password });
    this.csrf = s.csrf_token;
    return s;
  }

  async logout(): Promise<void> {
    try {
      await this.request<unknown>('DELETE', '/session');
    } finally {
      this.csrf = null;
    }
  }

  async conversationsOf(visitorId: string): Promise<Conversation[]> {
    const r = await this.request<{ items: Conversation[] }>('GET', `/conversations?visitor_id=${encodeURIComponent(visitorId)}`);
    return r.items;
  }

  /** Every message of a conversation after `afterSeq`, following `next_after_seq` pages. */
  async messages(conversationId: string, afterSeq = 0): Promise<Message[]> {
    const out: Message[] = [];
    let after: number | null = afterSeq;
    for (let page = 0; after !== null && page < 50; page++) {
      const r: { items: Message[]; next_after_seq: number | null } = await this.request(
        'GET',
        `/conversations/${encodeURIComponent(conversationId)}/messages?after_seq=${after}&limit=200`,
      );
      out.push(...r.items);
      after = r.next_after_seq;
    }
    return out;
  }

  /** HTML of a message body, from the same renderer the server uses when storing it. */
  async render(body: string): Promise<string> {
    const r = await this.request<{ html: string }>('POST', '/render', { body });
    return r.html;
  }

  async sites(): Promise<Site[]> {
    return (await this.request<{ items: Site[] }>('GET', '/sites')).items;
  }
}
