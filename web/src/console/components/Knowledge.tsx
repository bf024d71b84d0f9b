/** Knowledge (admins): pages and FAQs that AI Suggest answers from, written here or uploaded. */
import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api, KnowledgePage } from '../api';
import { Icon, problem, UndoToast, type Undoable } from './ui';

const UPLOAD_MAX = 512 * 1024;

function size(chars: number): string {
  return chars < 1000 ? `${chars} chars` : `${(chars / 1000).toFixed(chars < 10_000 ? 1 : 0)}k chars`;
}

function dateLabel(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

function AddKnowledge({ api, onAdded }: { api: Api; onAdded: (p: KnowledgePage) => void }) {
  const [mode, setMode] = useState<'write' | 'upload'>('write');
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [format, setFormat] = useState<'markdown' | 'text'>('markdown');
  const [file, setFile] = useState<File | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const fileRef = useRef<HTMLInputElement>(null);

  const save = async (): Promise<void> => {
    setError(null);
    if (mode === 'write' && (!title.trim() || !body.trim())) {
      setError('Give the page a title and some text.');
      return;
    }
    if (mode === 'upload') {
      if (!file) {
        setError('Choose a .md, .markdown or .txt file.');
        return;
      }
      if (file.size > UPLOAD_MAX) {
        setError('A knowledge file is at most 512 KiB.');
        return;
      }
    }
    setSaving(true);
    try {
      const page = mode === 'write' ? await api.addKnowledge({ title: title.trim(), body, format }) : await api.uploadKnowledge(file!, title.trim() || undefined);
      onAdded(page);
      setTitle('');
      setBody('');
      setFile(null);
      if (fileRef.current) fileRef.current.value = '';
    } catch (e) {
      setError(problem(e, 'Could not add the page.'));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form
      class="panel form-panel"
      data-testid="knowledge-form"
      aria-labelledby="knowledge-add"
      // A problem shown for the last try goes as soon as the input changes.
      onInput={() => setError(null)}
      onChange={() => setError(null)}
      onInvalidCapture={() => setError(null)}
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <div class="panel-head">
        <div>
          <h2 id="knowledge-add" class="panel-title">
            Add knowledge
          </h2>
          <p class="panel-sub">Headings and blank lines split a page into passages; a heading names the passages under it.</p>
        </div>
        <div class="segmented" role="tablist" aria-label="How to add">
          <button type="button" role="tab" aria-selected={mode === 'write'} class={mode === 'write' ? 'is-on' : ''} onClick={() => setMode('write')}>
            Write
          </button>
          <button type="button" role="tab" aria-selected={mode === 'upload'} class={mode === 'upload' ? 'is-on' : ''} onClick={() => setMode('upload')} data-testid="knowledge-upload-tab">
            Upload a file
          </button>
        </div>
      </div>
      <div class="form-body">
        <div class="form-row">
          <label class="field field-grow">
            <span>Title{mode === 'upload' ? ' (optional: the file name otherwise)' : ''}</span>
            <input value={title} maxLength={200} placeholder="Pricing FAQ" onInput={(e) => setTitle(e.currentTarget.value)} data-testid="knowledge-title" />
          </label>
          {mode === 'write' ? (
            <label class="field">
              <span>Format</span>
              <select value={format} onChange={(e) => setFormat(e.currentTarget.value as 'markdown' | 'text')} data-testid="knowledge-format">
                <option value="markdown">Markdown</option>
                <option value="text">Plain text</option>
              </select>
            </label>
          ) : null}
        </div>
        {mode === 'write' ? (
          <label class="field">
            <span>Text</span>
            <textarea
              rows={10}
              value={body}
              maxLength={200_000}
              placeholder={'# FAQ\n\n## Is there a free trial?\nYes: 14 days, no card needed.'}
              onInput={(e) => setBody(e.currentTarget.value)}
              data-testid="knowledge-body"
              class="mono-input"
            />
          </label>
        ) : (
          <label class="dropzone">
            <Icon name="upload" size={22} />
            <span>{file ? `${file.name} · ${(file.size / 1024).toFixed(1)} KiB` : 'Choose a .md, .markdown or .txt file (UTF-8, up to 512 KiB)'}</span>
            <input
              ref={fileRef}
              type="file"
              accept=".md,.markdown,.txt,text/markdown,text/plain"
              onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
              data-testid="knowledge-file"
            />
          </label>
        )}
      </div>
      {error ? (
        <p class="form-error form-error-inset" role="alert" data-testid="knowledge-error">
          {error}
        </p>
      ) : null}
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={saving} data-testid="knowledge-save">
          {saving ? 'Adding…' : mode === 'write' ? 'Add page' : 'Upload'}
        </button>
      </div>
    </form>
  );
}

export function Knowledge({ api, admin }: { api: Api; admin: boolean }) {
  const [pages, setPages] = useState<KnowledgePage[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [undo, setUndo] = useState<Undoable | null>(null);
  const [open, setOpen] = useState<{ id: string; body: string | null } | null>(null);

  const load = (): Promise<void> =>
    api.knowledge().then(
      (list) => {
        setPages(list);
        setError(null);
      },
      (e: unknown) => setError(problem(e, 'Could not load the knowledge pages.')),
    );
  useEffect(() => {
    void load();
  }, [api]);

  const remove = async (p: KnowledgePage): Promise<void> => {
    try {
      // Keep the text, so Undo can put the page back.
      const full = await api.knowledgePage(p.id);
      await api.deleteKnowledge(p.id);
      setPages((list) => list?.filter((x) => x.id !== p.id) ?? null);
      setUndo({
        label: `Deleted “${p.title}”.`,
        undo: () => api.addKnowledge({ title: full.title, body: full.body, format: full.format }).then(load),
      });
    } catch (e) {
      setError(problem(e, 'Could not delete the page.'));
    }
  };

  const toggle = (p: KnowledgePage): void => {
    if (open?.id === p.id) {
      setOpen(null);
      return;
    }
    setOpen({ id: p.id, body: null });
    api.knowledgePage(p.id).then(
      (full) => setOpen((o) => (o?.id === p.id ? { id: p.id, body: full.body } : o)),
      (e: unknown) => setOpen((o) => (o?.id === p.id ? { id: p.id, body: problem(e, 'Could not load it.') } : o)),
    );
  };

  const total = pages?.reduce((n, p) => n + p.chars, 0) ?? 0;

  return (
    <div class="stack" data-testid="knowledge-page">
      <div class="page-intro">
        <div>
          <h2>Knowledge</h2>
          <p>What AI Suggest answers from, besides your org shortcuts and past answers. It never answers from anything else.</p>
        </div>
      </div>
      {!admin ? <p class="notice notice-info">Only admins add and remove knowledge. You can read what is here.</p> : null}
      {admin ? <AddKnowledge api={api} onAdded={(p) => setPages((list) => [p, ...(list ?? []).filter((x) => x.id !== p.id)])} /> : null}
      {error ? (
        <p class="form-error" role="alert" data-testid="knowledge-error">
          {error}
        </p>
      ) : null}
      <section class="panel" aria-labelledby="knowledge-list">
        <div class="panel-head">
          <div>
            <h2 id="knowledge-list" class="panel-title">
              Pages and FAQs <span class="side-count">{pages?.length ?? 0}</span>
            </h2>
            <p class="panel-sub">{pages?.length ? `${size(total)} in all` : 'Nothing yet.'}</p>
          </div>
        </div>
        {pages === null ? (
          <p class="muted pad">Loading…</p>
        ) : pages.length === 0 ? (
          <div class="empty">
            <p class="empty-title">No knowledge yet</p>
            <p>Add your FAQ, pricing page or product notes, and AI Suggest can answer visitors’ questions from them.</p>
          </div>
        ) : (
          <div class="table-wrap">
            <table class="table" data-testid="knowledge-table">
              <thead>
                <tr>
                  <th scope="col">Title</th>
                  <th scope="col">Format</th>
                  <th scope="col" class="num">Size</th>
                  <th scope="col">Updated</th>
                  <th scope="col" class="num">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {pages.map((p) => (
                  <Fragment key={p.id}>
                    <tr data-testid="knowledge-row" data-id={p.id}>
                      <td>
                        <button type="button" class="link-strong" onClick={() => toggle(p)} aria-expanded={open?.id === p.id}>
                          <Icon name="book" size={15} /> {p.title}
                        </button>
                      </td>
                      <td>
                        <span class="pill">{p.format === 'markdown' ? 'Markdown' : 'Text'}</span>
                      </td>
                      <td class="num mono">{size(p.chars)}</td>
                      <td class="muted">{dateLabel(p.updated_at)}</td>
                      <td class="num">
                        {admin ? (
                          <button type="button" class="btn btn-ghost btn-sm btn-danger-text" onClick={() => void remove(p)} data-testid="knowledge-delete" aria-label={`Delete ${p.title}`}>
                            <Icon name="trash" size={15} /> Delete
                          </button>
                        ) : null}
                      </td>
                    </tr>
                    {open?.id === p.id ? (
                      <tr class="detail-row">
                        <td colSpan={5}>
                          <pre class="page-body">{open.body === null ? 'Loading…' : open.body}</pre>
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <UndoToast item={undo} onDone={() => setUndo(null)} />
    </div>
  );
}
