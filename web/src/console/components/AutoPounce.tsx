/** Auto pounce (admins): the org switch, timing settings, who gets greeted (rules) and with what (templates). */
import { useEffect, useRef, useState } from 'preact/hooks';
import { RichText } from '../../shared/RichText';
import type { Api, PounceRule, PounceTemplate, ProactiveSettings } from '../api';
import type { ConsoleClient } from '../client';
import type { ConsoleState } from '../state';
import { FieldError, StatusLine, useFormStatus, type FormStatus } from './forms';
import { PlaceholderChips, useRendered } from './Shortcuts';
import { Avatar, Icon, problem, Switch, UndoToast, type Undoable } from './ui';

const GREETING_PLACEHOLDERS = ['{visitor.first_name|there}', '{visitor.company}', '{rep.first_name}', '{org.name}', '{page.title}'];

// ---- org switch and settings ------------------------------------------------------------

type SettingsForm = Record<Exclude<keyof ProactiveSettings, 'auto_pounce_enabled'>, string>;

const toForm = (s: ProactiveSettings): SettingsForm => ({
  nudge_delay_seconds: String(s.nudge_delay_seconds),
  quiet_period_hours: String(s.quiet_period_hours),
  max_open_chats_per_rep: String(s.max_open_chats_per_rep),
  rep_timeout_seconds: String(s.rep_timeout_seconds),
  nudge_template: s.nudge_template,
});

function NumberField(props: {
  name: keyof SettingsForm;
  label: string;
  hint: string;
  unit: string;
  value: string;
  step?: string;
  min?: number;
  max?: number;
  status: FormStatus;
  onInput: (v: string) => void;
  testid: string;
}) {
  const problem = props.status.fields[props.name];
  return (
    <label class={`field${problem ? ' has-error' : ''}`}>
      <span>{props.label}</span>
      <div class="input-suffix">
        <input
          type="number"
          inputMode="decimal"
          name={props.name}
          min={props.min ?? 0}
          max={props.max}
          step={props.step ?? 'any'}
          value={props.value}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? `${props.name}-error` : undefined}
          onInput={(e) => props.onInput(e.currentTarget.value)}
          data-testid={props.testid}
        />
        <span aria-hidden="true">{props.unit}</span>
      </div>
      <FieldError status={props.status} field={props.name} id={`${props.name}-error`} />
      <small class="field-hint">{props.hint}</small>
    </label>
  );
}

function SettingsPanel({ api, client, s }: { api: Api; client: ConsoleClient; s: ConsoleState }) {
  const settings = s.proactive;
  const [form, setForm] = useState<SettingsForm | null>(settings ? toForm(settings) : null);
  const form$ = useFormStatus();
  const [switchError, setSwitchError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [switching, setSwitching] = useState(false);

  useEffect(() => {
    api.proactiveSettings().then(
      (fresh) => {
        client.proactiveChanged(fresh);
        setForm(toForm(fresh));
      },
      (e: unknown) => form$.failed(e, 'Could not load the settings.'),
    );
  }, [api]);

  const setSwitch = async (on: boolean): Promise<void> => {
    setSwitching(true);
    setSwitchError(null);
    try {
      client.proactiveChanged(await api.saveProactiveSettings({ auto_pounce_enabled: on }));
    } catch (e) {
      setSwitchError(problem(e, 'Could not switch auto pounce.'));
    } finally {
      setSwitching(false);
    }
  };

  const save = async (): Promise<void> => {
    if (!form) return;
    form$.clear();
    const num = (v: string): number => (v.trim() === '' ? NaN : Number(v.trim()));
    const values = {
      nudge_delay_seconds: num(form.nudge_delay_seconds),
      quiet_period_hours: num(form.quiet_period_hours),
      max_open_chats_per_rep: num(form.max_open_chats_per_rep),
      rep_timeout_seconds: num(form.rep_timeout_seconds),
      nudge_template: form.nudge_template,
    };
    const bad = Object.entries(values).find(([k, v]) => k !== 'nudge_template' && (typeof v !== 'number' || !Number.isFinite(v) || v < 0));
    if (bad) return form$.invalid('A number of 0 or more.', bad[0]);
    if (!Number.isInteger(values.max_open_chats_per_rep)) return form$.invalid('A whole number (0 for no limit).', 'max_open_chats_per_rep');
    setSaving(true);
    try {
      const saved = await api.saveProactiveSettings(values);
      client.proactiveChanged(saved);
      setForm(toForm(saved));
      form$.saved();
    } catch (e) {
      form$.failed(e, 'Could not save the settings.');
    } finally {
      setSaving(false);
    }
  };

  const on = !!settings?.auto_pounce_enabled;
  const reps = Object.values(s.reps).sort((a, b) => a.name.localeCompare(b.name));
  const ready = reps.filter((r) => r.online && r.availability === 'available' && r.auto_pounce);

  return (
    <>
      <section class={`panel switch-panel${on ? ' is-on' : ''}`} aria-labelledby="ap-switch">
        <div class="switch-panel-body">
          <span class="switch-panel-icon" aria-hidden="true">
            <Icon name="bolt" size={22} />
          </span>
          <div class="switch-panel-text">
            <h2 id="ap-switch" class="panel-title">
              Auto pounce is {on ? 'on' : 'off'} for {s.org?.name ?? 'your organisation'}
            </h2>
            <p class="panel-sub">
              {on
                ? 'Matching visitors are greeted as one of your available reps; the rep who is greeted as is alerted when the visitor replies.'
                : 'Turn it on to greet matching visitors automatically, as one of your reps who is Available and has auto pounce enabled.'}
            </p>
          </div>
          <Switch on={on} tone="purple" disabled={!settings || switching} label={on ? 'On' : 'Off'} onChange={(next) => void setSwitch(next)} testid="org-auto-pounce-switch" />
        </div>
        {switchError ? (
          <p class="form-error form-error-inset" role="alert" data-testid="switch-error">
            {switchError}
          </p>
        ) : null}
        <div class="rep-strip">
          <span class="rep-strip-label">
            {ready.length ? `${ready.length} rep${ready.length === 1 ? '' : 's'} can be greeted as now:` : 'Nobody can be greeted as right now'}
          </span>
          {reps.map((r) => {
            const live = r.online && r.availability === 'available' && r.auto_pounce;
            return (
              <span class={`rep-chip${live ? ' is-live' : ''}`} key={r.id} title={`${r.name}: ${r.online ? r.availability : 'offline'}, auto pounce ${r.auto_pounce ? 'on' : 'off'}`}>
                <Avatar name={r.name} size={20} />
                {r.name}
                <span class="rep-chip-state">{!r.online ? 'offline' : r.availability === 'away' ? 'away' : r.auto_pounce ? 'on' : 'off'}</span>
              </span>
            );
          })}
        </div>
      </section>

      <form
        class="panel form-panel"
        aria-labelledby="ap-settings"
        data-testid="auto-pounce-settings"
        {...form$.formProps}
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div class="panel-head">
          <div>
            <h2 id="ap-settings" class="panel-title">
              Timing and limits
            </h2>
            <p class="panel-sub">How persistent auto pounce is, and how fast reps must pick up a reply.</p>
          </div>
        </div>
        {form ? (
          <div class="form-body">
            <div class="settings-grid">
              <NumberField
                label="Nudge delay"
                unit="seconds"
                hint="The nudge goes this long after the greeting if the visitor said nothing."
                value={form.nudge_delay_seconds}
                name="nudge_delay_seconds"
                max={86400}
                status={form$.status}
                onInput={(v) => setForm({ ...form, nudge_delay_seconds: v })}
                testid="setting-nudge-delay"
              />
              <NumberField
                label="Quiet period"
                unit="hours"
                hint="Never pounce on the same visitor twice within this (manual pounces count)."
                value={form.quiet_period_hours}
                name="quiet_period_hours"
                max={8760}
                status={form$.status}
                onInput={(v) => setForm({ ...form, quiet_period_hours: v })}
                testid="setting-quiet-hours"
              />
              <NumberField
                label="Max open chats per rep"
                unit="chats"
                step="1"
                hint="A rep with this many active chats is skipped. 0: no limit."
                value={form.max_open_chats_per_rep}
                name="max_open_chats_per_rep"
                max={100}
                status={form$.status}
                onInput={(v) => setForm({ ...form, max_open_chats_per_rep: v })}
                testid="setting-max-chats"
              />
              <NumberField
                label="Rep timeout"
                unit="seconds"
                hint="Time to reply once the visitor answers; then it is a missed response."
                value={form.rep_timeout_seconds}
                name="rep_timeout_seconds"
                max={3600}
                status={form$.status}
                onInput={(v) => setForm({ ...form, rep_timeout_seconds: v })}
                testid="setting-rep-timeout"
              />
            </div>
            <label class="field">
              <span>Nudge</span>
              <textarea rows={2} maxLength={2000} value={form.nudge_template} onInput={(e) => setForm({ ...form, nudge_template: e.currentTarget.value })} data-testid="setting-nudge-template" />
              <FieldError status={form$.status} field="nudge_template" />
              <small class="field-hint">Sent once, as the same rep, if the visitor has not replied to the greeting.</small>
            </label>
          </div>
        ) : (
          <p class="muted pad">Loading…</p>
        )}
        <StatusLine status={form$.status} inset testid="settings-status" />
        <div class="form-actions">
          <button type="submit" class="btn btn-primary" disabled={!form || saving} data-testid="settings-save">
            {saving ? 'Saving…' : 'Save settings'}
          </button>
        </div>
      </form>
    </>
  );
}

// ---- rules and templates: ordered lists with a form ------------------------------------

/** Swap two neighbours' positions (the list is ordered by position, then id). */
async function swap<T extends { id: string; position: number }>(list: T[], i: number, j: number, save: (id: string, position: number) => Promise<unknown>): Promise<void> {
  const a = list[i]!;
  const b = list[j]!;
  const pa = a.position === b.position ? b.position + (j < i ? -1 : 1) : b.position;
  await save(a.id, Math.max(0, pa));
  await save(b.id, a.position);
}

function attrsToText(a: Record<string, string>): string {
  return Object.entries(a)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

/** `plan=enterprise*` per line → {plan: "enterprise*"}; null with the bad line if a line has no `=`. */
export function parseAttributes(text: string): { ok: true; value: Record<string, string> } | { ok: false; line: string } {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { ok: false, line };
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return { ok: true, value: out };
}

interface RuleDraft {
  id: string | null;
  name: string;
  url_pattern: string;
  min_seconds_on_page: string;
  min_pages_viewed: string;
  attributes: string;
  enabled: boolean;
}

const emptyRule: RuleDraft = { id: null, name: '', url_pattern: '', min_seconds_on_page: '0', min_pages_viewed: '0', attributes: '', enabled: true };

function criteria(r: PounceRule): string {
  const parts = [
    r.url_pattern ? `on ${r.url_pattern}` : 'on any page',
    r.min_seconds_on_page ? `after ${r.min_seconds_on_page}s on the page` : null,
    r.min_pages_viewed ? `${r.min_pages_viewed}+ pages viewed` : null,
    ...Object.entries(r.attributes).map(([k, v]) => `${k} = ${v}`),
  ];
  return parts.filter(Boolean).join(' · ');
}

function RulesPanel({ api }: { api: Api }) {
  const [rules, setRules] = useState<PounceRule[] | null>(null);
  const [draft, setDraft] = useState<RuleDraft | null>(null);
  const [error, setError] = useState<string | null>(null);
  const form$ = useFormStatus();
  const [undo, setUndo] = useState<Undoable | null>(null);
  const [saving, setSaving] = useState(false);
  const edit = (next: RuleDraft | null): void => {
    form$.clear();
    setDraft(next);
  };

  const load = (): Promise<void> => api.pounceRules().then(setRules, (e: unknown) => setError(problem(e, 'Could not load the rules.')));
  useEffect(() => {
    void load();
  }, [api]);

  const save = async (): Promise<void> => {
    if (!draft) return;
    form$.clear();
    const attrs = parseAttributes(draft.attributes);
    if (!draft.name.trim()) return form$.invalid('Name the rule.', 'name');
    if (!attrs.ok) return form$.invalid(`Write attributes as name=value, one per line (“${attrs.line}”).`, 'attributes');
    const seconds = Number(draft.min_seconds_on_page || 0);
    const pages = Number(draft.min_pages_viewed || 0);
    if (!Number.isFinite(seconds) || seconds < 0 || !Number.isInteger(pages) || pages < 0) return form$.invalid('Time on page and pages viewed are numbers of 0 or more.');
    setSaving(true);
    try {
      await api.savePounceRule(draft.id, {
        name: draft.name.trim(),
        url_pattern: draft.url_pattern.trim(),
        min_seconds_on_page: seconds,
        min_pages_viewed: pages,
        attributes: attrs.value,
        enabled: draft.enabled,
      });
      setDraft(null);
      await load();
    } catch (e) {
      form$.failed(e, 'Could not save the rule.');
    } finally {
      setSaving(false);
    }
  };

  const remove = (r: PounceRule): void => {
    setRules((list) => list?.filter((x) => x.id !== r.id) ?? null);
    api.deletePounceRule(r.id).then(
      () => {
        const { id: _id, ...rest } = r;
        setUndo({ label: `Deleted rule “${r.name}”.`, undo: () => api.savePounceRule(null, rest).then(load) });
      },
      (e: unknown) => {
        setError(problem(e, 'Could not delete the rule.'));
        void load();
      },
    );
  };

  const act = (p: Promise<unknown>): void => {
    p.then(load, (e: unknown) => setError(problem(e, 'Could not change the rule.')));
  };

  return (
    <section class="panel" aria-labelledby="ap-rules" data-testid="auto-pounce-rules">
      <div class="panel-head">
        <div>
          <h2 id="ap-rules" class="panel-title">
            Who gets greeted
          </h2>
          <p class="panel-sub">Rules in order; a visitor is greeted once every criterion of an enabled rule holds. No enabled rule, no auto pounce. Reps are chosen by your routing rules.</p>
        </div>
        <button type="button" class="btn btn-secondary btn-sm" onClick={() => edit({ ...emptyRule })} data-testid="new-rule">
          <Icon name="plus" size={15} /> Add rule
        </button>
      </div>
      {error ? (
        <p class="form-error form-error-inset" role="alert">
          {error}
        </p>
      ) : null}
      {draft ? (
        <form
          class="inline-form"
          data-testid="rule-form"
          {...form$.formProps}
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <div class="settings-grid">
            <label class="field">
              <span>Name</span>
              <input value={draft.name} maxLength={200} placeholder="Pricing page" onInput={(e) => setDraft({ ...draft, name: e.currentTarget.value })} data-testid="rule-name" />
              <FieldError status={form$.status} field="name" />
            </label>
            <label class="field">
              <span>Page URL pattern</span>
              <input value={draft.url_pattern} maxLength={500} placeholder="/pricing*  (empty: any page)" onInput={(e) => setDraft({ ...draft, url_pattern: e.currentTarget.value })} data-testid="rule-url" />
              <FieldError status={form$.status} field="url_pattern" />
            </label>
            <label class="field">
              <span>Time on page</span>
              <div class="input-suffix">
                <input type="number" min={0} step="any" value={draft.min_seconds_on_page} onInput={(e) => setDraft({ ...draft, min_seconds_on_page: e.currentTarget.value })} data-testid="rule-seconds" />
                <span aria-hidden="true">seconds</span>
              </div>
              <FieldError status={form$.status} field="min_seconds_on_page" />
            </label>
            <label class="field">
              <span>Pages viewed this visit</span>
              <div class="input-suffix">
                <input type="number" min={0} step="1" value={draft.min_pages_viewed} onInput={(e) => setDraft({ ...draft, min_pages_viewed: e.currentTarget.value })} data-testid="rule-pages" />
                <span aria-hidden="true">at least</span>
              </div>
              <FieldError status={form$.status} field="min_pages_viewed" />
            </label>
          </div>
          <label class="field">
            <span>Visitor attributes (optional)</span>
            <textarea rows={2} value={draft.attributes} placeholder={'plan=enterprise*\nindustry=saas'} onInput={(e) => setDraft({ ...draft, attributes: e.currentTarget.value })} data-testid="rule-attributes" class="mono-input" />
            <FieldError status={form$.status} field="attributes" />
            <small class="field-hint">One name=value per line; * matches anything.</small>
          </label>
          <Switch on={draft.enabled} label="Enabled" onChange={(v) => edit({ ...draft, enabled: v })} testid="rule-enabled" />
          <StatusLine status={form$.status} testid="rule-error" />
          <div class="form-actions form-actions-flat">
            <button type="button" class="btn btn-secondary" onClick={() => edit(null)}>
              Cancel
            </button>
            <button type="submit" class="btn btn-primary" disabled={saving} data-testid="rule-save">
              {saving ? 'Saving…' : draft.id ? 'Save rule' : 'Add rule'}
            </button>
          </div>
        </form>
      ) : null}
      {rules === null ? (
        <p class="muted pad">Loading…</p>
      ) : rules.length === 0 ? (
        <div class="empty empty-sm">
          <p>No rules yet: nobody is greeted. Add one, e.g. “/pricing* after 20 seconds”.</p>
        </div>
      ) : (
        <ol class="item-list ordered">
          {rules.map((r, i) => (
            <li key={r.id} class={`item${r.enabled ? '' : ' is-off'}`} data-testid="rule-row" data-id={r.id}>
              <span class="order-no">{i + 1}</span>
              <div class="item-main">
                <div class="item-title">
                  <strong>{r.name}</strong>
                  {r.enabled ? null : <span class="pill">Disabled</span>}
                </div>
                <span class="muted">{criteria(r)}</span>
              </div>
              <div class="item-actions">
                <Switch on={r.enabled} label={<span class="sr-only">Enabled</span>} onChange={(v) => act(api.savePounceRule(r.id, { enabled: v }))} />
                <button type="button" class="icon-button" aria-label="Move up" disabled={i === 0} onClick={() => act(swap(rules, i, i - 1, (id, position) => api.savePounceRule(id, { position })))}>
                  ↑
                </button>
                <button
                  type="button"
                  class="icon-button"
                  aria-label="Move down"
                  disabled={i === rules.length - 1}
                  onClick={() => act(swap(rules, i, i + 1, (id, position) => api.savePounceRule(id, { position })))}
                >
                  ↓
                </button>
                <button
                  type="button"
                  class="btn btn-ghost btn-sm"
                  onClick={() =>
                    edit({
                      id: r.id,
                      name: r.name,
                      url_pattern: r.url_pattern,
                      min_seconds_on_page: String(r.min_seconds_on_page),
                      min_pages_viewed: String(r.min_pages_viewed),
                      attributes: attrsToText(r.attributes),
                      enabled: r.enabled,
                    })
                  }
                  data-testid="rule-edit"
                >
                  <Icon name="edit" size={15} /> Edit
                </button>
                <button type="button" class="btn btn-ghost btn-sm btn-danger-text" onClick={() => remove(r)} data-testid="rule-delete">
                  <Icon name="trash" size={15} /> Delete
                </button>
              </div>
            </li>
          ))}
        </ol>
      )}
      <UndoToast item={undo} onDone={() => setUndo(null)} />
    </section>
  );
}

interface TemplateDraft {
  id: string | null;
  name: string;
  url_pattern: string;
  body: string;
}

function TemplatesPanel({ api }: { api: Api }) {
  const [items, setItems] = useState<PounceTemplate[] | null>(null);
  const [draft, setDraft] = useState<TemplateDraft | null>(null);
  const [error, setError] = useState<string | null>(null);
  const form$ = useFormStatus();
  const [undo, setUndo] = useState<Undoable | null>(null);
  const [saving, setSaving] = useState(false);
  const edit = (next: TemplateDraft | null): void => {
    form$.clear();
    setDraft(next);
  };
  const bodyRef = useRef<HTMLTextAreaElement>(null);
  const html = useRendered(api, draft?.body ?? '');

  const load = (): Promise<void> => api.pounceTemplates().then(setItems, (e: unknown) => setError(problem(e, 'Could not load the greetings.')));
  useEffect(() => {
    void load();
  }, [api]);

  const save = async (): Promise<void> => {
    if (!draft) return;
    form$.clear();
    if (!draft.name.trim()) return form$.invalid('Name the greeting.', 'name');
    if (!draft.body.trim()) return form$.invalid('Write the greeting.', 'body');
    setSaving(true);
    try {
      await api.savePounceTemplate(draft.id, { name: draft.name.trim(), url_pattern: draft.url_pattern.trim(), body: draft.body });
      setDraft(null);
      await load();
    } catch (e) {
      form$.failed(e, 'Could not save the greeting.');
    } finally {
      setSaving(false);
    }
  };

  const remove = (t: PounceTemplate): void => {
    setItems((list) => list?.filter((x) => x.id !== t.id) ?? null);
    api.deletePounceTemplate(t.id).then(
      () => {
        const { id: _id, ...rest } = t;
        setUndo({ label: `Deleted greeting “${t.name}”.`, undo: () => api.savePounceTemplate(null, rest).then(load) });
      },
      (e: unknown) => {
        setError(problem(e, 'Could not delete the greeting.'));
        void load();
      },
    );
  };

  const move = (i: number, j: number): void => {
    if (!items) return;
    swap(items, i, j, (id, position) => api.savePounceTemplate(id, { position })).then(load, (e: unknown) => setError(problem(e, 'Could not reorder.')));
  };

  return (
    <section class="panel" aria-labelledby="ap-templates" data-testid="auto-pounce-templates">
      <div class="panel-head">
        <div>
          <h2 id="ap-templates" class="panel-title">
            Greetings
          </h2>
          <p class="panel-sub">The first greeting whose URL pattern matches the visitor’s page is sent, as the rep; none matching, a built-in one.</p>
        </div>
        <button type="button" class="btn btn-secondary btn-sm" onClick={() => edit({ id: null, name: '', url_pattern: '', body: '' })} data-testid="new-template">
          <Icon name="plus" size={15} /> Add greeting
        </button>
      </div>
      {error ? (
        <p class="form-error form-error-inset" role="alert">
          {error}
        </p>
      ) : null}
      {draft ? (
        <form
          class="inline-form"
          data-testid="template-form"
          {...form$.formProps}
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <div class="settings-grid">
            <label class="field">
              <span>Name</span>
              <input value={draft.name} maxLength={200} placeholder="Pricing" onInput={(e) => setDraft({ ...draft, name: e.currentTarget.value })} data-testid="template-name" />
              <FieldError status={form$.status} field="name" />
            </label>
            <label class="field">
              <span>Page URL pattern</span>
              <input value={draft.url_pattern} maxLength={500} placeholder="/pricing*  (empty: any page)" onInput={(e) => setDraft({ ...draft, url_pattern: e.currentTarget.value })} data-testid="template-url" />
              <FieldError status={form$.status} field="url_pattern" />
            </label>
          </div>
          <div class="form-grid form-grid-flat">
            <div class="form-col">
              <label class="field">
                <span>Greeting</span>
                <textarea
                  ref={bodyRef}
                  rows={3}
                  maxLength={2000}
                  value={draft.body}
                  placeholder="Hi {visitor.first_name|there}! Comparing plans? I'm {rep.first_name} — happy to help."
                  onInput={(e) => setDraft({ ...draft, body: e.currentTarget.value })}
                  data-testid="template-body"
                />
                <FieldError status={form$.status} field="body" />
              </label>
              <PlaceholderChips list={GREETING_PLACEHOLDERS} target={bodyRef} onInsert={(b) => edit({ ...draft, body: b })} />
            </div>
            <div class="form-col">
              <span class="field-label">Preview</span>
              <div class="preview-box preview-purple">{html ? <RichText class="rich" html={html} openImageLabel="Open image" /> : <span class="muted">The greeting shows here.</span>}</div>
            </div>
          </div>
          <StatusLine status={form$.status} testid="template-error" />
          <div class="form-actions form-actions-flat">
            <button type="button" class="btn btn-secondary" onClick={() => edit(null)}>
              Cancel
            </button>
            <button type="submit" class="btn btn-primary" disabled={saving} data-testid="template-save">
              {saving ? 'Saving…' : draft.id ? 'Save greeting' : 'Add greeting'}
            </button>
          </div>
        </form>
      ) : null}
      {items === null ? (
        <p class="muted pad">Loading…</p>
      ) : items.length === 0 ? (
        <div class="empty empty-sm">
          <p>No greetings yet: visitors get the built-in one.</p>
        </div>
      ) : (
        <ol class="item-list ordered">
          {items.map((t, i) => (
            <li key={t.id} class="item" data-testid="template-row" data-id={t.id}>
              <span class="order-no">{i + 1}</span>
              <div class="item-main">
                <div class="item-title">
                  <strong>{t.name}</strong>
                  <span class="muted">{t.url_pattern ? `on ${t.url_pattern}` : 'any page'}</span>
                </div>
                <p class="item-quote">{t.body}</p>
              </div>
              <div class="item-actions">
                <button type="button" class="icon-button" aria-label="Move up" disabled={i === 0} onClick={() => move(i, i - 1)}>
                  ↑
                </button>
                <button type="button" class="icon-button" aria-label="Move down" disabled={i === items.length - 1} onClick={() => move(i, i + 1)}>
                  ↓
                </button>
                <button type="button" class="btn btn-ghost btn-sm" onClick={() => edit({ id: t.id, name: t.name, url_pattern: t.url_pattern, body: t.body })} data-testid="template-edit">
                  <Icon name="edit" size={15} /> Edit
                </button>
                <button type="button" class="btn btn-ghost btn-sm btn-danger-text" onClick={() => remove(t)} data-testid="template-delete">
                  <Icon name="trash" size={15} /> Delete
                </button>
              </div>
            </li>
          ))}
        </ol>
      )}
      <UndoToast item={undo} onDone={() => setUndo(null)} />
    </section>
  );
}

export function AutoPounce({ api, client, s }: { api: Api; client: ConsoleClient; s: ConsoleState }) {
  if (s.me && s.me.role !== 'admin') {
    return (
      <div class="empty">
        <p class="empty-title">Admins only</p>
        <p>Ask an admin to change auto pounce. Your own switch is in your profile menu.</p>
      </div>
    );
  }
  return (
    <div class="stack" data-testid="auto-pounce-page">
      <SettingsPanel api={api} client={client} s={s} />
      <RulesPanel api={api} />
      <TemplatesPanel api={api} />
    </div>
  );
}
