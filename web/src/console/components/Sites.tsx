/** Sites (admin): each site's key, allowed origins, and the embed snippet to paste; the org's email settings. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api, type EmailSettings, type Site } from '../api';
import { FieldError, StatusLine, useFormStatus } from './forms';
import { Icon, Switch } from './ui';

function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      setCopied(false);
    }
  };
  return (
    <button type="button" class="btn btn-secondary btn-sm" onClick={() => void copy()} data-testid="copy-snippet">
      <Icon name={copied ? 'check' : 'copy'} size={15} /> {copied ? 'Copied' : 'Copy'}
    </button>
  );
}

/** The origins whose pages may show a site's messenger, one per line (admins edit them). */
function AllowedOrigins({ api, site, admin, onSaved }: { api: Api; site: Site; admin: boolean; onSaved: (s: Site) => void }) {
  const [draft, setDraft] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const form$ = useFormStatus();
  const save = async (): Promise<void> => {
    if (draft === null) return;
    form$.clear();
    setSaving(true);
    try {
      const origins = draft
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      onSaved(await api.updateSite(site.id, { allowed_origins: origins }));
      setDraft(null);
      form$.saved();
    } catch (e) {
      form$.failed(e, 'Could not save the origins.');
    } finally {
      setSaving(false);
    }
  };
  if (draft === null) {
    return (
      <>
        <dt>Allowed origins</dt>
        <dd class="origins">
          {site.allowed_origins.length ? (
            site.allowed_origins.map((o) => (
              <span class="pill" key={o} data-testid="site-origin">
                {o}
              </span>
            ))
          ) : (
            <span class="muted">None yet: only pages on this Pounce server can show the messenger.</span>
          )}
          {admin ? (
            <button
              type="button"
              class="btn btn-ghost btn-sm"
              onClick={() => {
                form$.clear();
                setDraft(site.allowed_origins.join('\n'));
              }}
              data-testid="edit-origins"
            >
              <Icon name="edit" size={15} /> Edit
            </button>
          ) : null}
          <StatusLine status={form$.status} testid="origins-status" />
        </dd>
      </>
    );
  }
  return (
    <>
      <dt>Allowed origins</dt>
      <dd>
        <form
          class="inline-form"
          data-testid="origins-form"
          {...form$.formProps}
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <label class="field">
            <span class="sr-only">Allowed origins, one per line</span>
            <textarea
              rows={3}
              class="mono-input"
              value={draft}
              placeholder={'https://www.example.com\nhttps://app.example.com'}
              onInput={(e) => setDraft(e.currentTarget.value)}
              aria-describedby="origins-hint"
              data-testid="origins-input"
            />
            <FieldError status={form$.status} field="allowed_origins" />
            <small class="field-hint" id="origins-hint">
              One per line: scheme://host[:port], no path. Pages on this Pounce server are always allowed; * allows every site.
            </small>
          </label>
          <StatusLine status={form$.status} />
          <div class="form-actions form-actions-flat">
            <button type="button" class="btn btn-secondary" onClick={() => setDraft(null)}>
              Cancel
            </button>
            <button type="submit" class="btn btn-primary" disabled={saving} data-testid="origins-save">
              {saving ? 'Saving…' : 'Save origins'}
            </button>
          </div>
        </form>
      </dd>
    </>
  );
}

/** The site's identity secret (admins): hidden until asked for, and rotatable. */
function IdentitySecret({ api, site }: { api: Api; site: Site }) {
  const [secret, setSecret] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const load = async (rotate: boolean): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      setSecret(await api.identitySecret(site.id, rotate));
      setConfirm(false);
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : 'Could not load the secret.');
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <dt>Identity secret</dt>
      <dd class="secret" data-testid="identity-secret">
        {secret ? (
          <code class="inline-code" data-testid="identity-secret-value">
            {secret}
          </code>
        ) : (
          <button type="button" class="btn btn-ghost btn-sm" disabled={busy} onClick={() => void load(false)} data-testid="show-identity-secret">
            Show
          </button>
        )}
        {confirm ? (
          <span class="confirm" role="group" aria-label="Rotate the identity secret?">
            Tokens signed with the old secret stop verifying at once.{' '}
            <button type="button" class="btn btn-primary btn-sm" disabled={busy} onClick={() => void load(true)} data-testid="confirm-rotate-secret">
              Rotate
            </button>{' '}
            <button type="button" class="btn btn-secondary btn-sm" onClick={() => setConfirm(false)}>
              Cancel
            </button>
          </span>
        ) : (
          <button type="button" class="btn btn-ghost btn-sm" disabled={busy} onClick={() => setConfirm(true)} data-testid="rotate-identity-secret">
            Rotate
          </button>
        )}
        {error ? <span class="form-error">{error}</span> : null}
        <small class="field-hint">
          Your server signs <code>Pounce.identify</code> tokens with it, so reps see who a visitor is, verified. Keep it on your server. See docs/identify.md.
        </small>
      </dd>
    </>
  );
}

/** Email (admin): whether visitors get the transcript when a chat closes; says when the
 * server has no SMTP server configured (then no email is sent at all). */
function EmailPanel({ api }: { api: Api }) {
  const [settings, setSettings] = useState<EmailSettings | null>(null);
  const [saving, setSaving] = useState(false);
  const form$ = useFormStatus();
  useEffect(() => {
    api.emailSettings().then(setSettings, (e: unknown) => form$.failed(e, 'Could not load the email settings.'));
  }, [api]);
  const save = async (transcript_email: boolean): Promise<void> => {
    form$.clear();
    setSaving(true);
    try {
      setSettings(await api.saveEmailSettings({ transcript_email }));
      form$.saved();
    } catch (e) {
      form$.failed(e, 'Could not save the email settings.');
    } finally {
      setSaving(false);
    }
  };
  const on = !!settings?.transcript_email;
  return (
    <section class={`panel switch-panel${on ? ' is-on' : ''}`} data-testid="email-settings" aria-labelledby="email-settings-title">
      <div class="switch-panel-body">
        <span class="switch-panel-icon" aria-hidden="true">
          <Icon name="check" size={22} />
        </span>
        <div class="switch-panel-text">
          <h2 id="email-settings-title" class="panel-title">
            Transcript email is {on ? 'on' : 'off'}
          </h2>
          <p class="panel-sub">When a conversation closes, the visitor gets its transcript by email if they left an address.</p>
          {settings && !settings.smtp_configured ? (
            <p class="form-error" role="note" data-testid="email-off">
              Email is off on this server: no SMTP server is configured (POUNCE_SMTP_URL), so nothing is sent.
            </p>
          ) : null}
        </div>
        <Switch on={on} tone="green" disabled={!settings || saving} label={on ? 'On' : 'Off'} onChange={(next) => void save(next)} testid="transcript-email" />
      </div>
      <StatusLine status={form$.status} testid="email-status" />
    </section>
  );
}

export function Sites({ api, admin }: { api: Api; admin: boolean }) {
  const [sites, setSites] = useState<Site[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.sites().then(setSites, (e: unknown) => setError(e instanceof ApiError ? e.detail : 'Could not load sites.'));
  }, [api]);

  if (error) return <p class="form-error" role="alert">{error}</p>;
  if (!sites) return <p class="muted">Loading sites…</p>;
  if (sites.length === 0) return <div class="empty"><p class="empty-title">No sites yet</p></div>;
  return (
    <div class="stack" data-testid="sites">
      {admin ? <EmailPanel api={api} /> : null}
      {sites.map((site) => (
        <section class="panel" key={site.id} data-testid="site" aria-labelledby={`site-${site.id}`}>
          <div class="panel-head">
            <div>
              <h2 id={`site-${site.id}`} class="panel-title">{site.name}</h2>
              <p class="panel-sub">
                Site key <code class="inline-code">{site.site_key}</code>
              </p>
            </div>
          </div>
          <dl class="facts">
            <AllowedOrigins api={api} site={site} admin={admin} onSaved={(saved) => setSites((list) => list?.map((x) => (x.id === saved.id ? saved : x)) ?? null)} />
            {admin ? <IdentitySecret api={api} site={site} /> : null}
          </dl>
          <div class="snippet">
            <div class="snippet-head">
              <span>Embed snippet — paste before &lt;/body&gt; on every page</span>
              <CopyButton text={site.snippet} />
            </div>
            <pre class="code" data-testid="site-snippet">
              <code>{site.snippet}</code>
            </pre>
          </div>
        </section>
      ))}
    </div>
  );
}
