/** Blocks (admin): reports to act on, blocked visitors, IP blocks, and the org's abuse limits. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api } from '../api';
import type { components } from '../api-types';
import { FieldError, StatusLine, useFormStatus } from './forms';

type Schemas = components['schemas'];

const when = (iso: string | null): string => (iso ? new Date(iso).toLocaleString() : '—');

/** Block an address or range, from a report (its address unless typed) or by hand. */
function IpBlockForm({ api, reportId, address, onDone }: { api: Api; reportId?: string; address?: string | null; onDone: () => void }) {
  const [cidr, setCidr] = useState(address ?? '');
  const [hours, setHours] = useState('');
  const [busy, setBusy] = useState(false);
  const form$ = useFormStatus();
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    form$.clear();
    setBusy(true);
    try {
      await api.addIpBlock({
        cidr: cidr.trim() || null,
        report_id: reportId ?? null,
        expires_in_hours: hours.trim() ? Number(hours) : null,
      });
      form$.saved('Blocked.');
      onDone();
    } catch (err) {
      form$.failed(err, 'Could not block the address.');
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="ip-form" onSubmit={(e) => void submit(e)} {...form$.formProps} data-testid="ip-block-form">
      <label class="field">
        <span>IP address or CIDR range</span>
        <input value={cidr} onInput={(e) => setCidr(e.currentTarget.value)} placeholder="203.0.113.7 or 203.0.113.0/24" maxLength={64} data-testid="ip-cidr" />
        <FieldError status={form$.status} field="cidr" />
      </label>
      <label class="field">
        <span>Expires after (hours, empty: never)</span>
        <input type="number" min="0.01" step="any" value={hours} onInput={(e) => setHours(e.currentTarget.value)} data-testid="ip-hours" />
        <FieldError status={form$.status} field="expires_in_hours" />
      </label>
      <StatusLine status={form$.status} />
      <button type="submit" class="btn btn-danger btn-sm" disabled={busy} data-testid="ip-block-submit">
        Block address
      </button>
    </form>
  );
}

function Limits({ api }: { api: Api }) {
  const [values, setValues] = useState<Schemas['AbuseSettings'] | null>(null);
  const form$ = useFormStatus();
  useEffect(() => {
    api.abuseSettings().then(setValues, (e: unknown) => form$.failed(e, 'Could not load the limits.'));
  }, [api]);
  if (!values) return <StatusLine status={form$.status} />;
  const num = (key: 'messages_per_minute' | 'conversations_per_hour' | 'spam_block_threshold' | 'spam_block_hours', label: string, min: number) => (
    <label class="field">
      <span>{label}</span>
      <input type="number" min={min} step="1" value={values[key]} onInput={(e) => setValues({ ...values, [key]: Number(e.currentTarget.value) })} data-testid={`limit-${key}`} />
      <FieldError status={form$.status} field={key} />
    </label>
  );
  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    form$.clear();
    try {
      setValues(await api.saveAbuseSettings(values));
      form$.saved();
    } catch (err) {
      form$.failed(err, 'Could not save the limits.');
    }
  };
  return (
    <form onSubmit={(e) => void save(e)} {...form$.formProps} data-testid="abuse-settings">
      {num('messages_per_minute', 'Visitor messages per minute (per visitor and per address; 0: no limit)', 0)}
      {num('conversations_per_hour', 'New conversations per hour (per visitor and per address; 0: no limit)', 0)}
      <label class="field field-check">
        <input type="checkbox" checked={values.spam_block_enabled} onChange={(e) => setValues({ ...values, spam_block_enabled: e.currentTarget.checked })} data-testid="spam-block-enabled" />
        <span>Block a visitor automatically once reps marked their conversations spam</span>
      </label>
      {num('spam_block_threshold', 'Spam conversations (last 30 days) before the block', 1)}
      {num('spam_block_hours', 'Length of the automatic block (hours)', 1)}
      <StatusLine status={form$.status} />
      <button type="submit" class="btn btn-primary btn-sm" data-testid="abuse-save">
        Save limits
      </button>
    </form>
  );
}

export function Blocks({ api }: { api: Api }) {
  const [visitors, setVisitors] = useState<Schemas['BlockedVisitor'][] | null>(null);
  const [reports, setReports] = useState<Schemas['Report'][] | null>(null);
  const [ips, setIps] = useState<Schemas['IpBlock'][] | null>(null);
  const [acting, setActing] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = (): void => {
    const fail = (e: unknown): void => setError(e instanceof ApiError ? e.detail : 'Could not load blocks.');
    api.blockedVisitors().then(setVisitors, fail);
    api.abuseReports().then(setReports, fail);
    api.ipBlocks().then(setIps, fail);
  };
  useEffect(load, [api]);
  const act = async (work: () => Promise<unknown>): Promise<void> => {
    try {
      await work();
      load();
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : 'That did not work.');
    }
  };

  return (
    <div class="stack" data-testid="blocks">
      {error ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <section class="panel" aria-labelledby="reports-title">
        <div class="panel-head">
          <h2 id="reports-title" class="panel-title">
            Reports
          </h2>
        </div>
        {reports && reports.length === 0 ? <p class="muted panel-pad">No reports.</p> : null}
        <div class="table-wrap">
          <table class="table">
            <tbody>
              {(reports ?? []).map((r) => (
                <tr key={r.id} data-testid="report">
                  <td>{when(r.created_at)}</td>
                  <td>
                    {r.reason}
                    <br />
                    <small class="muted">
                      by {r.reported_by_name ?? 'a rep'} · {r.conversation_id ? <a href={`#/chat/${encodeURIComponent(r.visitor_id)}/${encodeURIComponent(r.conversation_id)}`}>conversation</a> : null}
                      {r.client_ip ? ` · ${r.client_ip}` : ''}
                    </small>
                  </td>
                  <td>
                    {acting === r.id ? (
                      <IpBlockForm api={api} reportId={r.id} address={r.client_ip} onDone={() => { setActing(null); load(); }} />
                    ) : r.resolved ? (
                      <span class="pill">Address blocked</span>
                    ) : (
                      <button type="button" class="btn btn-secondary btn-sm" onClick={() => setActing(r.id)} data-testid="report-block-ip">
                        Block IP…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section class="panel" aria-labelledby="blocked-title">
        <div class="panel-head">
          <h2 id="blocked-title" class="panel-title">
            Blocked visitors
          </h2>
        </div>
        {visitors && visitors.length === 0 ? <p class="muted panel-pad">Nobody is blocked.</p> : null}
        <div class="table-wrap">
          <table class="table">
            <tbody>
              {(visitors ?? []).map((v) => (
                <tr key={v.id} data-testid="blocked-visitor">
                  <td>{v.name ?? v.email ?? v.id}</td>
                  <td>
                    {when(v.blocked_at)} by {v.blocked_by_name ?? 'the spam rule'}
                    {v.expires_at ? ` · until ${when(v.expires_at)}` : ''}
                  </td>
                  <td>
                    <button type="button" class="btn btn-secondary btn-sm" onClick={() => void act(() => api.unblockVisitor(v.id))} data-testid="unblock">
                      Unblock
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section class="panel" aria-labelledby="ips-title">
        <div class="panel-head">
          <h2 id="ips-title" class="panel-title">
            Blocked addresses
          </h2>
        </div>
        <div class="table-wrap">
          <table class="table">
            <tbody>
              {(ips ?? []).map((b) => (
                <tr key={b.id} data-testid="ip-block">
                  <td>
                    <code class="inline-code">{b.cidr}</code>
                  </td>
                  <td>since {when(b.created_at)}{b.expires_at ? `, until ${when(b.expires_at)}` : ''}</td>
                  <td>
                    <button type="button" class="btn btn-secondary btn-sm" onClick={() => void act(() => api.removeIpBlock(b.id))} data-testid="ip-unblock">
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="panel-pad">
          <IpBlockForm api={api} onDone={load} />
        </div>
      </section>

      <section class="panel panel-pad" aria-labelledby="limits-title">
        <h2 id="limits-title" class="panel-title">
          Abuse limits
        </h2>
        <Limits api={api} />
      </section>
    </div>
  );
}
