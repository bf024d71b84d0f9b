/** Reports: auto pounce per rep (sent, replies, response time, outcomes) for a date range. */
import { useEffect, useState } from 'preact/hooks';
import { formatSeconds } from '../../shared/format';
import type { Api, AutoPounceReport, ReportRow } from '../api';
import type { ConsoleState } from '../state';
import { Avatar, Icon, problem } from './ui';

/** `YYYY-MM-DD` (UTC, as the report counts days) `days` before today. */
function dayOffset(days: number, from = new Date()): string {
  return new Date(from.getTime() - days * 86_400_000).toISOString().slice(0, 10);
}

const PRESETS: { label: string; days: number }[] = [
  { label: 'Today', days: 0 },
  { label: 'Last 7 days', days: 6 },
  { label: 'Last 30 days', days: 29 },
  { label: 'Last 90 days', days: 89 },
];

const rate = (part: number, whole: number): string => (whole ? `${Math.round((part / whole) * 100)}%` : '—');

const COLUMNS: { key: keyof ReportRow; label: string; title: string }[] = [
  { key: 'pounces_sent', label: 'Pounces sent', title: 'Visitors greeted by auto pounce as this rep' },
  { key: 'replies', label: 'Replies', title: 'Visitors who answered the greeting or nudge' },
  { key: 'response_seconds_median', label: 'Response time', title: 'Median time from the visitor’s reply to the rep’s' },
  { key: 'replied', label: 'Replied', title: 'Replies the rep answered in time' },
  { key: 'missed_responses', label: 'Missed responses', title: 'Replies nobody acted on within the rep timeout' },
  { key: 'spam', label: 'Spam', title: 'Marked Spam' },
  { key: 'no_response_needed', label: 'No response needed', title: 'Marked No response needed' },
];

function cell(row: ReportRow, key: keyof ReportRow): string {
  return key === 'response_seconds_median' ? formatSeconds(row[key]) : String(row[key] ?? 0);
}

function toCsv(r: AutoPounceReport): string {
  const esc = (v: string): string => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const head = ['Rep', ...COLUMNS.map((c) => (c.key === 'response_seconds_median' ? 'Median response (s)' : c.label))];
  const line = (name: string, row: ReportRow): string =>
    [name, ...COLUMNS.map((c) => (c.key === 'response_seconds_median' ? (row[c.key] ?? '').toString() : String(row[c.key])))].map(esc).join(',');
  return [head.join(','), ...r.items.map((i) => line(i.rep_name ?? i.rep_id, i)), line('Total', r.totals)].join('\n') + '\n';
}

export function Reports({ api, s }: { api: Api; s: ConsoleState }) {
  const [from, setFrom] = useState(() => dayOffset(29));
  const [to, setTo] = useState(() => dayOffset(0));
  const [repId, setRepId] = useState('');
  const [report, setReport] = useState<AutoPounceReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    if (from && to && from > to) {
      setError('The start date is after the end date.');
      return;
    }
    let live = true;
    setLoading(true);
    api.autoPounceReport({ from, to, repId }).then(
      (r) => {
        if (!live) return;
        setReport(r);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (!live) return;
        setError(problem(e, 'Could not load the report.'));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [api, from, to, repId]);

  const reps = Object.values(s.reps).sort((a, b) => a.name.localeCompare(b.name));
  const t = report?.totals;

  const download = (): void => {
    if (!report) return;
    const url = URL.createObjectURL(new Blob([toCsv(report)], { type: 'text/csv' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `auto-pounce-${report.from}-${report.to}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <div class="stack" data-testid="reports-page">
      <div class="page-intro">
        <div>
          <h2>Auto pounce report</h2>
          <p>Auto pounces greeted in the period, per rep they spoke as. Days are counted in UTC.</p>
        </div>
        <button type="button" class="btn btn-secondary" onClick={download} disabled={!report} data-testid="report-csv">
          <Icon name="upload" size={15} /> Export CSV
        </button>
      </div>

      <div class="filters" role="group" aria-label="Report filters">
        <label class="field field-inline">
          <span>From</span>
          <input type="date" value={from} max={to} onChange={(e) => setFrom(e.currentTarget.value)} data-testid="report-from" />
        </label>
        <label class="field field-inline">
          <span>To</span>
          <input type="date" value={to} min={from} onChange={(e) => setTo(e.currentTarget.value)} data-testid="report-to" />
        </label>
        <label class="field field-inline">
          <span>Rep</span>
          <select value={repId} onChange={(e) => setRepId(e.currentTarget.value)} data-testid="report-rep">
            <option value="">All reps</option>
            {reps.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </label>
        <div class="presets">
          {PRESETS.map((p) => {
            const on = to === dayOffset(0) && from === dayOffset(p.days);
            return (
              <button
                type="button"
                key={p.label}
                class={`chip${on ? ' is-on' : ''}`}
                onClick={() => {
                  setTo(dayOffset(0));
                  setFrom(dayOffset(p.days));
                }}
              >
                {p.label}
              </button>
            );
          })}
        </div>
        {loading ? <span class="spinner spinner-brand" aria-label="Loading" /> : null}
      </div>

      {error ? (
        <p class="form-error" role="alert" data-testid="report-error">
          {error}
        </p>
      ) : null}

      {t ? (
        <div class="stats">
          <div class="stat">
            <span class="stat-value">{t.pounces_sent}</span>
            <span class="stat-label">Pounces sent</span>
          </div>
          <div class="stat">
            <span class="stat-value">{t.replies}</span>
            <span class="stat-label">Replies · {rate(t.replies, t.pounces_sent)} reply rate</span>
          </div>
          <div class="stat">
            <span class="stat-value">{formatSeconds(t.response_seconds_median)}</span>
            <span class="stat-label">Median response time</span>
          </div>
          <div class={`stat${t.missed_responses ? ' stat-bad' : ''}`}>
            <span class="stat-value">{t.missed_responses}</span>
            <span class="stat-label">Missed responses · {rate(t.missed_responses, t.replies)} of replies</span>
          </div>
        </div>
      ) : null}

      <section class="panel" aria-labelledby="report-title">
        <div class="panel-head">
          <div>
            <h2 id="report-title" class="panel-title">
              By rep
            </h2>
            <p class="panel-sub">{report ? `${report.from} to ${report.to}` : ' '}</p>
          </div>
        </div>
        <div class="table-wrap">
          <table class="table" data-testid="report-table" aria-busy={loading}>
            <thead>
              <tr>
                <th scope="col">Rep</th>
                {COLUMNS.map((c) => (
                  <th scope="col" class="num" key={c.key} title={c.title}>
                    {c.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {report?.items.map((row) => (
                <tr key={row.rep_id} data-testid="report-row" data-rep-id={row.rep_id}>
                  <td>
                    <div class="who">
                      <Avatar name={row.rep_name ?? row.rep_id} size={26} />
                      <span class="who-name">{row.rep_name ?? row.rep_id}</span>
                    </div>
                  </td>
                  {COLUMNS.map((c) => (
                    <td class={`num mono${c.key === 'missed_responses' && row.missed_responses ? ' bad' : ''}`} key={c.key} data-col={c.key}>
                      {cell(row, c.key)}
                    </td>
                  ))}
                </tr>
              ))}
              {report && report.items.length === 0 ? (
                <tr>
                  <td colSpan={COLUMNS.length + 1} class="empty-cell">
                    No auto pounces in this period{repId ? ' for this rep' : ''}.
                  </td>
                </tr>
              ) : null}
            </tbody>
            {t && report && report.items.length > 0 ? (
              <tfoot>
                <tr data-testid="report-totals">
                  <th scope="row">Total</th>
                  {COLUMNS.map((c) => (
                    <td class="num mono" key={c.key} data-col={c.key}>
                      {cell(t, c.key)}
                    </td>
                  ))}
                </tr>
              </tfoot>
            ) : null}
          </table>
        </div>
      </section>
    </div>
  );
}
