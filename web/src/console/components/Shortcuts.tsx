/** Shortcuts: my private snippets and the org's (admins write those), inserted with `/name`. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { RichText } from '../../shared/RichText';
import { ApiError, type Api, type Scope, type Shortcut } from '../api';
import { filterMenu } from '../slash';
import { FieldError, StatusLine, useFormStatus } from './forms';
import { Icon, problem, UndoToast, type Undoable } from './ui';

const PLACEHOLDERS = ['{visitor.first_name|there}', '{visitor.name}', '{visitor.company}', '{rep.first_name}', '{rep.name}', '{company.name}'];
const NAME = /^\/?[A-Za-z0-9_-]{1,40}$/;

interface Draft {
  id: string | null;
  name: string;
  text: string;
  scope: Scope;
}

/** The server's `html` for a Markdown text, 200 ms after the last change. */
export function useRendered(api: Api, text: string): string {
  const [html, setHtml] = useState('');
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    if (!text.trim()) {
      setHtml('');
      return;
    }
    const t = setTimeout(() => {
      api.render(text).then(
        (h) => seq.current === mine && setHtml(h),
        () => {},
      );
    }, 200);
    return () => clearTimeout(t);
  }, [api, text]);
  return html;
}

/** Buttons that insert a placeholder at the caret of a textarea. */
export function PlaceholderChips(props: { list: string[]; target: { current: HTMLTextAreaElement | null }; onInsert: (next: string) => void }) {
  return (
    <div class="chips" aria-label="Insert a placeholder">
      <span class="chips-label">Insert:</span>
      {props.list.map((p) => (
        <button
          type="button"
          class="chip"
          key={p}
          onClick={() => {
            const el = props.target.current;
            if (!el) return;
            const start = el.selectionStart ?? el.value.length;
            const end = el.selectionEnd ?? start;
            const next = el.value.slice(0, start) + p + el.value.slice(end);
            props.onInsert(next);
            requestAnimationFrame(() => {
              el.focus();
              el.setSelectionRange(start + p.length, start + p.length);
            });
          }}
        >
          {p}
        </button>
      ))}
    </div>
  );
}

function ShortcutForm(props: { api: Api; draft: Draft; admin: boolean; onSaved: (s: Shortcut) => void; onCancel: () => void }) {
  const { api, admin } = props;
  const [d, setD] = useState(props.draft);
  const form$ = useFormStatus();
  const [saving, setSaving] = useState(false);
  const text = useRef<HTMLTextAreaElement>(null);
  const nameRef = useRef<HTMLInputElement>(null);
  const html = useRendered(api, d.text);
  const editing = d.id !== null;
  useEffect(() => {
    setD(props.draft);
    form$.clear();
    nameRef.current?.focus();
  }, [props.draft]);

  const save = async (): Promise<void> => {
    form$.clear();
    const name = d.name.trim();
    if (!NAME.test(name)) return form$.invalid('1–40 letters, digits, “-” or “_” (what you type after “/”, e.g. Welcome).', 'name');
    if (!d.text.trim()) return form$.invalid('Write the text the shortcut inserts.', 'text');
    setSaving(true);
    try {
      const saved = editing ? await api.updateShortcut(d.id!, { name, text: d.text }) : await api.createShortcut({ name, text: d.text, scope: d.scope });
      props.onSaved(saved);
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) {
        form$.invalid(`Only admins can create or change org shortcuts. The server refused: ${e.detail}`);
      } else if (e instanceof ApiError && e.status === 409) {
        form$.invalid(`/${name.replace(/^\//, '')} already exists in ${d.scope === 'org' ? 'the org’s shortcuts' : 'your shortcuts'}: pick another name.`, 'name');
      } else {
        form$.failed(e, 'Could not save the shortcut.');
      }
    } finally {
      setSaving(false);
    }
  };

  return (
    <form
      class="panel form-panel"
      data-testid="shortcut-form"
      aria-labelledby="shortcut-form-title"
      {...form$.formProps}
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <div class="panel-head">
        <div>
          <h2 id="shortcut-form-title" class="panel-title">
            {editing ? `Edit /${props.draft.name}` : 'New shortcut'}
          </h2>
          <p class="panel-sub">Type its name after “/” in a chat to insert it. Placeholders are filled in for the visitor you are talking to.</p>
        </div>
      </div>
      <div class="form-grid">
        <div class="form-col">
          <div class="form-row">
            <label class="field field-grow">
              <span>Name</span>
              <div class="input-prefix">
                <span aria-hidden="true">/</span>
                <input
                  ref={nameRef}
                  value={d.name.replace(/^\//, '')}
                  maxLength={41}
                  placeholder="Welcome"
                  autoComplete="off"
                  onInput={(e) => setD({ ...d, name: e.currentTarget.value })}
                  data-testid="shortcut-name"
                />
              </div>
              <FieldError status={form$.status} field="name" />
            </label>
            <label class="field">
              <span>Who can use it</span>
              <select
                value={d.scope}
                disabled={editing}
                onChange={(e) => setD({ ...d, scope: e.currentTarget.value as Scope })}
                data-testid="shortcut-scope"
                title={editing ? 'The scope of a shortcut cannot change' : undefined}
              >
                <option value="mine">Only me (My shortcuts)</option>
                <option value="org" disabled={!admin && !editing}>
                  {admin ? 'Everyone (Org shortcuts)' : 'Everyone — admins only'}
                </option>
              </select>
            </label>
          </div>
          <label class="field">
            <span>Text</span>
            <textarea
              ref={text}
              rows={6}
              maxLength={4000}
              value={d.text}
              placeholder="Hi {visitor.first_name|there}! I'm {rep.first_name} from {company.name} — happy to help."
              onInput={(e) => setD({ ...d, text: e.currentTarget.value })}
              data-testid="shortcut-text"
            />
            <FieldError status={form$.status} field="text" />
          </label>
          <PlaceholderChips list={PLACEHOLDERS} target={text} onInsert={(t) => {
              form$.clear();
              setD({ ...d, text: t });
            }} />
        </div>
        <div class="form-col">
          <span class="field-label">Preview</span>
          <div class="preview-box" data-testid="shortcut-preview">
            {html ? <RichText class="rich" html={html} openImageLabel="Open image" /> : <span class="muted">The formatted text shows here as you type.</span>}
          </div>
          <p class="hint">
            <code>**bold**</code> <code>*italic*</code> <code>[text](url)</code> <code>![alt](image-url)</code>, emoji and GIF links work.{' '}
            <code>{'{name|fallback}'}</code> uses the fallback when a value is unknown.
          </p>
        </div>
      </div>
      <StatusLine status={form$.status} inset testid="shortcut-error" />
      <div class="form-actions">
        <button type="button" class="btn btn-secondary" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" class="btn btn-primary" disabled={saving} data-testid="shortcut-save">
          {saving ? 'Saving…' : editing ? 'Save changes' : 'Create shortcut'}
        </button>
      </div>
    </form>
  );
}

function ShortcutList(props: {
  title: string;
  sub: string;
  scope: Scope;
  items: Shortcut[];
  empty: string;
  action: ComponentChildren;
  onEdit: (s: Shortcut) => void;
  onDelete: (s: Shortcut) => void;
}) {
  return (
    <section class="panel" aria-labelledby={`shortcuts-${props.scope}`} data-testid={`shortcuts-${props.scope}`}>
      <div class="panel-head">
        <div>
          <h2 id={`shortcuts-${props.scope}`} class="panel-title">
            {props.title} <span class="side-count">{props.items.length}</span>
          </h2>
          <p class="panel-sub">{props.sub}</p>
        </div>
        {props.action}
      </div>
      {props.items.length === 0 ? (
        <div class="empty empty-sm">
          <p>{props.empty}</p>
        </div>
      ) : (
        <ul class="item-list">
          {props.items.map((sc) => (
            <li key={sc.id} class="item" data-testid="shortcut-row" data-name={sc.name} data-scope={sc.scope} data-id={sc.id}>
              <div class="item-main">
                <div class="item-title">
                  <code class="shortcut-name">/{sc.name}</code>
                  <span class={`scope scope-${sc.scope}`}>{sc.scope === 'org' ? 'Org' : 'Mine'}</span>
                </div>
                <RichText class="item-preview rich" html={sc.html} openImageLabel="Open image" />
              </div>
              {sc.editable ? (
                <div class="item-actions">
                  <button type="button" class="btn btn-ghost btn-sm" onClick={() => props.onEdit(sc)} data-testid="shortcut-edit" aria-label={`Edit /${sc.name}`}>
                    <Icon name="edit" size={15} /> Edit
                  </button>
                  <button type="button" class="btn btn-ghost btn-sm btn-danger-text" onClick={() => props.onDelete(sc)} data-testid="shortcut-delete" aria-label={`Delete /${sc.name}`}>
                    <Icon name="trash" size={15} /> Delete
                  </button>
                </div>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function Shortcuts({ api, admin }: { api: Api; admin: boolean }) {
  const [items, setItems] = useState<Shortcut[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [q, setQ] = useState('');
  const [undo, setUndo] = useState<Undoable | null>(null);
  const formAnchor = useRef<HTMLDivElement>(null);

  const load = (): Promise<void> =>
    api.shortcuts().then(
      (list) => {
        setItems(list);
        setError(null);
      },
      (e: unknown) => setError(problem(e, 'Could not load shortcuts.')),
    );
  useEffect(() => {
    void load();
  }, [api]);

  const edit = (d: Draft): void => {
    setDraft(d);
    requestAnimationFrame(() => formAnchor.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' }));
  };

  const remove = (sc: Shortcut): void => {
    setItems((list) => list?.filter((x) => x.id !== sc.id) ?? null);
    if (draft?.id === sc.id) setDraft(null);
    api.deleteShortcut(sc.id).then(
      () =>
        setUndo({
          label: `Deleted /${sc.name}.`,
          undo: () => api.createShortcut({ name: sc.name, text: sc.text, scope: sc.scope }).then(load, (e: unknown) => setError(problem(e, 'Could not restore it.'))),
        }),
      (e: unknown) => {
        setError(problem(e, 'Could not delete the shortcut.'));
        void load();
      },
    );
  };

  const shown = items ? filterMenu(q, items, (x) => x.name) : [];
  const mine = shown.filter((x) => x.scope === 'mine');
  const org = shown.filter((x) => x.scope === 'org');

  return (
    <div class="stack" data-testid="shortcuts-page">
      <div class="page-intro">
        <div>
          <h2>Shortcuts</h2>
          <p>Answers you send often. In a chat, type “/” and a few letters of the name, or use the Shortcuts button under the composer.</p>
        </div>
        <div class="page-tools">
          <label class="search">
            <span class="sr-only">Search shortcuts</span>
            <input type="search" placeholder="Search shortcuts…" value={q} onInput={(e) => setQ(e.currentTarget.value)} data-testid="shortcut-search" />
          </label>
          <button type="button" class="btn btn-primary" onClick={() => edit({ id: null, name: '', text: '', scope: 'mine' })} data-testid="new-shortcut">
            <Icon name="plus" size={16} /> New shortcut
          </button>
        </div>
      </div>
      <div ref={formAnchor}>
        {draft ? (
          <ShortcutForm
            api={api}
            draft={draft}
            admin={admin}
            onCancel={() => setDraft(null)}
            onSaved={(saved) => {
              setDraft(null);
              setItems((list) => [...(list ?? []).filter((x) => x.id !== saved.id), saved].sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' })));
            }}
          />
        ) : null}
      </div>
      {error ? (
        <p class="form-error" role="alert" data-testid={draft ? 'shortcuts-error' : 'shortcut-error'}>
          {error}
        </p>
      ) : null}
      {items === null && !error ? <p class="muted">Loading shortcuts…</p> : null}
      {items !== null ? (
        <div class="two-col">
          <ShortcutList
            title="My shortcuts"
            sub="Only you see and use these."
            scope="mine"
            items={mine}
            empty={q ? 'None of yours match.' : 'No shortcuts yet. Create one for the things you say in every chat.'}
            action={
              <button type="button" class="btn btn-secondary btn-sm" onClick={() => edit({ id: null, name: '', text: '', scope: 'mine' })}>
                <Icon name="plus" size={15} /> Add
              </button>
            }
            onEdit={(sc) => edit({ id: sc.id, name: sc.name, text: sc.text, scope: sc.scope })}
            onDelete={remove}
          />
          <ShortcutList
            title="Org shortcuts"
            sub={admin ? 'Every rep of your organisation can use these.' : 'Shared with every rep; only admins create and edit them.'}
            scope="org"
            items={org}
            empty={q ? 'No org shortcut matches.' : admin ? 'No org shortcuts yet. Add the answers your whole team should give.' : 'Your admins have not added any yet.'}
            action={
              admin ? (
                <button
                  type="button"
                  class="btn btn-secondary btn-sm"
                  onClick={() => edit({ id: null, name: '', text: '', scope: 'org' })}
                  data-testid="new-org-shortcut"
                >
                  <Icon name="plus" size={15} /> Add
                </button>
              ) : (
                <span class="pill">Admins only</span>
              )
            }
            onEdit={(sc) => edit({ id: sc.id, name: sc.name, text: sc.text, scope: sc.scope })}
            onDelete={remove}
          />
        </div>
      ) : null}
      <UndoToast item={undo} onDone={() => setUndo(null)} />
    </div>
  );
}
