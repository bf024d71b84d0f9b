/**
 * The REST API of the console (same origin, session cookie, CSRF header on every write).
 * Its types come from the OpenAPI document (`docs/openapi.json`, written by `pounce openapi`),
 * generated into `./api-types.ts` by `npm run gen:api` during the build.
 */
import type { Conversation, Message } from '../shared/protocol';
import type { components, paths } from './api-types';
import { applyCopilotEvent, SseParser, type StreamState } from './sse';

type Schemas = components['schemas'];

export type Session = Schemas['Session'];
export type Site = Schemas['Site'];
export type Shortcut = Schemas['Shortcut'];
export type Scope = Shortcut['scope'];
export type MenuItem = Schemas['Menu']['items'][number];
export type Expanded = Schemas['Expanded'];
export type CopilotResult = Schemas['CopilotResult'];
export type CopilotSource = Schemas['CopilotSource'];
export type CopilotOp = CopilotResult['op'];
export type Tone = CopilotResult['tone'];
export type CopilotRequest = Schemas['CopilotIn'];
export type KnowledgePage = Schemas['KnowledgePage'];
export type KnowledgePageFull = Schemas['KnowledgePageFull'];
export type NewKnowledgePage = paths['/api/v1/knowledge']['post']['requestBody']['content']['application/json'];
export type ProactiveSettings = Schemas['ProactiveSettings'];
export type WaitingList = Schemas['WaitingList'];
export type WaitingItem = Schemas['WaitingItem'];
export type PounceRule = Schemas['PounceRule'];
export type PounceTemplate = Schemas['PounceTemplate'];
export type ReportRow = Schemas['ReportCounts'];
export type AutoPounceReport = Schemas['AutoPounceReport'];
export type MySwitch = Schemas['MySwitch'];
export type EmailSettings = Schemas['EmailSettings'];
/** Every error answer of the API. */
export type Problem = Schemas['Problem'];
export type User = Session['user'];

/** What the console learns before it draws anything (GET /console/start, always 200). */
export interface Start {
  session: Session | null;
  /** No organisation exists yet: offer the first-run screen. */
  setupRequired: boolean;
}

export interface SetupForm {
  org_name: string;
  name: string;
  email: string;
  password: string;
  website?: string | null;
}

/** Whose set-password link this is. */
export interface PasswordLink {
  email: string;
  name: string;
  org_name: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    /** The API's refusal code (`forbidden`, `conflict`, `rate_limited`…), when it gave one. */
    readonly code: string | null = null,
    /** Validation problems by the body field they are about (a 422's `errors`), to show beside it. */
    readonly fields: Record<string, string> = {},
  ) {
    super(detail);
  }
}

/** A 422's problems by body field: `{loc: ["body", "rep_timeout_seconds"], msg}` → that field. */
export function fieldProblems(body: unknown): Record<string, string> {
  const issues = (body as Partial<Problem> | null)?.errors;
  const out: Record<string, string> = {};
  if (!Array.isArray(issues)) return out;
  for (const { loc, msg } of issues) {
    if (loc[0] !== 'body' || typeof loc[1] !== 'string') continue;
    out[loc[1]] ??= msg.replace(/^Value error, /, '');
  }
  return out;
}

/** A `Problem`'s `detail`; anything else (a proxy's error page) gives the status. */
function detailOf(body: unknown, status: number): string {
  const d = (body as Partial<Problem> | null)?.detail;
  return typeof d === 'string' && d ? d : `HTTP ${status}`;
}

export class Api {
  private csrf: string | null = null;
  /** Called on any 401 after login: the session ended. */
  onUnauthorized: () => void = () => {};

  constructor(private readonly base = '/api/v1') {}

  private send(method: string, path: string, body?: unknown, accept = 'application/json', signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { Accept: accept };
    const form = typeof FormData !== 'undefined' && body instanceof FormData;
    if (body !== undefined && !form) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && this.csrf) headers['X-CSRF-Token'] = this.csrf;
    return fetch(this.base + path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: form ? (body as FormData) : JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.read<T>(await this.send(method, path, body), path);
  }

  private async read<T>(res: Response, path: string): Promise<T> {
    const text = await res.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const code = (data as Partial<Problem> | null)?.code;
      const err = new ApiError(res.status, detailOf(data, res.status), typeof code === 'string' ? code : null, fieldProblems(data));
      if (res.status === 401 && path !== '/session') this.onUnauthorized();
      throw err;
    }
    return data as T;
  }

  /** The current session (null when signed out) and whether the install needs its first org. */
  async start(): Promise<Start> {
    const r = await this.request<{ authenticated: boolean; setup_required: boolean; user: User | null; csrf_token: string | null }>(
      'GET',
      '/console/start',
    );
    if (!r.authenticated || !r.user || !r.csrf_token) return { session: null, setupRequired: r.setup_required };
    this.csrf = r.csrf_token;
    return { session: { user: r.user, csrf_token: r.csrf_token }, setupRequired: false };
  }

  /** The current session, or null when not logged in (asked without a failing request). */
  async session(): Promise<Session | null> {
    return (await this.start()).session;
  }

  /** The first-run screen: the install's first org and admin, signed in. */
  async setup(form: SetupForm): Promise<Session> {
    const s = await this.request<Session>('POST', '/setup', form);
    this.csrf = s.csrf_token;
    return s;
  }

  passwordLink(token: string): Promise<PasswordLink> {
    return this.request('POST', '/set-password/check', { token });
  }

  async setPassword(token: string, password: string): Promise<Session> {
    const s = await this.request<Session>('POST', '/set-password', { token, password });
    this.csrf = s.csrf_token;
    return s;
  }

  async login(email: string, password: string): Promise<Session> {
    const s = await this.request<Session>('POST', '/session', { email, password } satisfies Schemas['LoginIn']);
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
    const r = await this.request<Schemas['ConversationList']>('GET', `/conversations?visitor_id=${encodeURIComponent(visitorId)}`);
    return r.items satisfies Conversation[];
  }

  /** Every message of a conversation after `afterSeq`, following `next_after_seq` pages. */
  async messages(conversationId: string, afterSeq = 0): Promise<Message[]> {
    const out: Message[] = [];
    let after: number | null = afterSeq;
    for (let page = 0; after !== null && page < 50; page++) {
      const r: Schemas['MessagePage'] = await this.request(
        'GET',
        `/conversations/${encodeURIComponent(conversationId)}/messages?after_seq=${after}&limit=200`,
      );
      out.push(...(r.items satisfies Message[]));
      after = r.next_after_seq;
    }
    return out;
  }

  /** HTML of a message body, from the same renderer the server uses when storing it. */
  async render(body: string): Promise<string> {
    const r = await this.request<Schemas['Rendered']>('POST', '/render', { body } satisfies Schemas['RenderIn']);
    return r.html;
  }

  async sites(): Promise<Site[]> {
    return (await this.request<Schemas['SiteList']>('GET', '/sites')).items;
  }

  updateSite(id: string, body: { name?: string; allowed_origins?: string[] }): Promise<Site> {
    return this.request('PATCH', `/sites/${encodeURIComponent(id)}`, body);
  }

  /** The secret a site signs `identify` tokens with (admins); `rotate`: a new one. */
  async identitySecret(siteId: string, rotate = false): Promise<string> {
    const path = `/sites/${encodeURIComponent(siteId)}/identity-secret${rotate ? '/rotate' : ''}`;
    return (await this.request<Schemas['IdentitySecret']>(rotate ? 'POST' : 'GET', path)).identity_secret;
  }

  // ---- shortcuts ---------------------------------------------------------------------

  async shortcuts(): Promise<Shortcut[]> {
    return (await this.request<Schemas['ShortcutList']>('GET', '/shortcuts')).items;
  }

  /** The `/` menu: copilot commands, then the rep's and the org's shortcuts by name. */
  async shortcutMenu(): Promise<MenuItem[]> {
    return (await this.request<Schemas['Menu']>('GET', '/shortcuts/menu')).items;
  }

  createShortcut(body: Schemas['ShortcutIn']): Promise<Shortcut> {
    return this.request('POST', '/shortcuts', body);
  }

  updateShortcut(id: string, body: Schemas['ShortcutPatch']): Promise<Shortcut> {
    return this.request('PATCH', `/shortcuts/${encodeURIComponent(id)}`, body);
  }

  deleteShortcut(id: string): Promise<void> {
    return this.request('DELETE', `/shortcuts/${encodeURIComponent(id)}`);
  }

  /** A shortcut's text with its placeholders filled for a conversation. */
  expandShortcut(id: string, conversationId: string): Promise<Expanded> {
    return this.request('POST', `/shortcuts/${encodeURIComponent(id)}/expand`, { conversation_id: conversationId } satisfies Schemas['ExpandIn']);
  }

  // ---- copilot -----------------------------------------------------------------------

  copilot(op: CopilotOp, body: CopilotRequest): Promise<CopilotResult> {
    return this.request('POST', `/copilot/${op}`, body);
  }

  /**
   * Run a copilot operation streamed (SSE over `fetch`), calling `onText` with the text so far;
   * falls back to the whole-answer endpoint where streaming is unavailable.
   */
  async copilotStream(op: CopilotOp, body: CopilotRequest, onText: (text: string) => void, signal?: AbortSignal): Promise<CopilotResult> {
    const path = `/copilot/${op}/stream`;
    let res: Response;
    try {
      res = await this.send('POST', path, body, 'text/event-stream', signal);
    } catch (e) {
      if (signal?.aborted) throw e;
      return this.copilot(op, body);
    }
    const type = res.headers.get('content-type') ?? '';
    if (res.status === 404 || res.status === 405) return this.copilot(op, body);
    if (!res.ok) return this.read<CopilotResult>(res, path);
    if (!type.startsWith('text/event-stream')) return this.read<CopilotResult>(res, path);
    if (!res.body) return this.copilot(op, body);
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = res.body.getReader();
    let state: StreamState<CopilotResult> = { text: '', result: null, error: null };
    const apply = (events: ReturnType<SseParser['push']>): void => {
      for (const ev of events) {
        const before = state.text;
        state = applyCopilotEvent(state, ev);
        if (state.text !== before) onText(state.text);
      }
    };
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      apply(parser.push(decoder.decode(value, { stream: true })));
      if (state.error || state.result) break;
    }
    apply(parser.end());
    void reader.cancel().catch(() => {});
    if (state.error) throw new ApiError(500, state.error);
    if (!state.result) throw new ApiError(502, 'The copilot stopped before it finished; try again.');
    return state.result;
  }

  async tone(conversationId: string): Promise<Tone> {
    return (await this.request<Schemas['ToneOut']>('GET', `/conversations/${encodeURIComponent(conversationId)}/tone`)).tone;
  }

  async setTone(conversationId: string, tone: Tone): Promise<Tone> {
    return (await this.request<Schemas['ToneOut']>('PUT', `/conversations/${encodeURIComponent(conversationId)}/tone`, { tone } satisfies Schemas['ToneIn'])).tone;
  }

  // ---- knowledge ---------------------------------------------------------------------

  async knowledge(): Promise<KnowledgePage[]> {
    return (await this.request<Schemas['KnowledgeList']>('GET', '/knowledge')).items;
  }

  knowledgePage(id: string): Promise<KnowledgePageFull> {
    return this.request('GET', `/knowledge/${encodeURIComponent(id)}`);
  }

  addKnowledge(body: NewKnowledgePage): Promise<KnowledgePage> {
    return this.request('POST', '/knowledge', body);
  }

  uploadKnowledge(file: File, title?: string): Promise<KnowledgePage> {
    const form = new FormData();
    form.append('file', file);
    if (title) form.append('title', title);
    return this.request('POST', '/knowledge', form);
  }

  deleteKnowledge(id: string): Promise<void> {
    return this.request('DELETE', `/knowledge/${encodeURIComponent(id)}`);
  }

  // ---- auto pounce -------------------------------------------------------------------

  emailSettings(): Promise<EmailSettings> {
    return this.request('GET', '/email-settings');
  }

  saveEmailSettings(values: Schemas['EmailSettingsIn']): Promise<EmailSettings> {
    return this.request('PUT', '/email-settings', values);
  }

  /** Queue the transcript email to the visitor again; resolves to the address. */
  async resendTranscript(conversationId: string): Promise<string> {
    const queued = await this.request<Schemas['TranscriptQueued']>('POST', `/conversations/${encodeURIComponent(conversationId)}/transcript-email`);
    return queued.to;
  }

  /** Inbound conversations nobody has started, oldest first, and whether email is on. */
  waiting(): Promise<WaitingList> {
    return this.request('GET', '/waiting');
  }

  /** Whether this server can send email (any rep may ask). */
  async emailConfigured(): Promise<boolean> {
    return (await this.request<Schemas['EmailStatus']>('GET', '/email-status')).smtp_configured;
  }

  /** Answer the visitor by email (stored as my message too); the same client id again sends nothing new. */
  emailReply(conversationId: string, clientId: string, body: string): Promise<Schemas['EmailReplyQueued']> {
    return this.request('POST', `/conversations/${encodeURIComponent(conversationId)}/email-reply`, {
      client_id: clientId,
      body,
    } satisfies Schemas['EmailReplyIn']);
  }

  proactiveSettings(): Promise<ProactiveSettings> {
    return this.request('GET', '/proactive/settings');
  }

  saveProactiveSettings(values: Schemas['SettingsIn']): Promise<ProactiveSettings> {
    return this.request('PUT', '/proactive/settings', values);
  }

  async pounceRules(): Promise<PounceRule[]> {
    return (await this.request<Schemas['PounceRuleList']>('GET', '/proactive/rules')).items;
  }

  /** Change rule `id`, or add a rule when `id` is null (then `body` needs all of a new rule). */
  savePounceRule(id: string, body: Schemas['PounceRulePatch']): Promise<PounceRule>;
  savePounceRule(id: string | null, body: Schemas['PounceRuleIn']): Promise<PounceRule>;
  savePounceRule(id: string | null, body: Schemas['PounceRuleIn'] | Schemas['PounceRulePatch']): Promise<PounceRule> {
    return id ? this.request('PATCH', `/proactive/rules/${encodeURIComponent(id)}`, body) : this.request('POST', '/proactive/rules', body);
  }

  deletePounceRule(id: string): Promise<void> {
    return this.request('DELETE', `/proactive/rules/${encodeURIComponent(id)}`);
  }

  async pounceTemplates(): Promise<PounceTemplate[]> {
    return (await this.request<Schemas['PounceTemplateList']>('GET', '/proactive/templates')).items;
  }

  /** Change template `id`, or add one when `id` is null (then `body` needs all of a new one). */
  savePounceTemplate(id: string, body: Schemas['TemplatePatch']): Promise<PounceTemplate>;
  savePounceTemplate(id: string | null, body: Schemas['TemplateIn']): Promise<PounceTemplate>;
  savePounceTemplate(id: string | null, body: Schemas['TemplateIn'] | Schemas['TemplatePatch']): Promise<PounceTemplate> {
    return id
      ? this.request('PATCH', `/proactive/templates/${encodeURIComponent(id)}`, body)
      : this.request('POST', '/proactive/templates', body);
  }

  deletePounceTemplate(id: string): Promise<void> {
    return this.request('DELETE', `/proactive/templates/${encodeURIComponent(id)}`);
  }

  myAutoPounce(): Promise<MySwitch> {
    return this.request('GET', '/me/auto-pounce');
  }

  setMyAutoPounce(enabled: boolean): Promise<MySwitch> {
    return this.request('PUT', '/me/auto-pounce', { enabled } satisfies Schemas['SwitchIn']);
  }

  // ---- blocks (admins) ---------------------------------------------------------------

  async blockedVisitors(): Promise<Schemas['BlockedVisitor'][]> {
    return (await this.request<Schemas['BlockedVisitorList']>('GET', '/blocks/visitors')).items;
  }

  unblockVisitor(visitorId: string): Promise<void> {
    return this.request('DELETE', `/blocks/visitors/${encodeURIComponent(visitorId)}`);
  }

  async abuseReports(): Promise<Schemas['Report'][]> {
    return (await this.request<Schemas['ReportList']>('GET', '/blocks/reports')).items;
  }

  async ipBlocks(): Promise<Schemas['IpBlock'][]> {
    return (await this.request<Schemas['IpBlockList']>('GET', '/blocks/ips')).items;
  }

  addIpBlock(body: Schemas['IpBlockIn']): Promise<Schemas['IpBlock']> {
    return this.request('POST', '/blocks/ips', body);
  }

  removeIpBlock(id: string): Promise<void> {
    return this.request('DELETE', `/blocks/ips/${encodeURIComponent(id)}`);
  }

  abuseSettings(): Promise<Schemas['AbuseSettings']> {
    return this.request('GET', '/blocks/settings');
  }

  saveAbuseSettings(values: Schemas['AbuseSettingsIn']): Promise<Schemas['AbuseSettings']> {
    return this.request('PUT', '/blocks/settings', values);
  }

  /** `from` and `to` are days (YYYY-MM-DD). */
  autoPounceReport(query: { from?: string; to?: string; repId?: string }): Promise<AutoPounceReport> {
    const q = new URLSearchParams();
    if (query.from) q.set('from', query.from);
    if (query.to) q.set('to', query.to);
    if (query.repId) q.set('rep_id', query.repId);
    const qs = q.toString();
    return this.request('GET', `/reports/auto-pounce${qs ? `?${qs}` : ''}`);
  }
}
