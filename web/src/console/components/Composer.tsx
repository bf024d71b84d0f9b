/** The conversation's composer: Markdown preview, the `/` menu (shortcuts and AI copilot), tone. */
import type { TargetedKeyboardEvent } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { composerKeyAction, isSendable } from '../../shared/keys';
import { RichText } from '../../shared/RichText';
import type { Api, CopilotOp, CopilotResult, MenuItem, Tone } from '../api';
import type { ConsoleClient } from '../client';
import { filterMenu, menuKey, replaceRange, slashTokenAt, withoutToken, type SlashToken } from '../slash';
import { Icon, problem } from './ui';

/** Drafts survive switching between conversations. */
const drafts = new Map<string, string>();
/** The last `/` menu fetched: shown at once on the next open, while a fresh copy loads. */
let menuCache: MenuItem[] | null = null;
const tones = new Map<string, Tone>();

export const TONES: { value: Tone; label: string; hint: string }[] = [
  { value: 'casual', label: 'Casual', hint: 'A returning customer' },
  { value: 'friendly', label: 'Friendly', hint: 'A prospect' },
  { value: 'professional', label: 'Professional', hint: 'A C-suite buyer' },
];

const OP_LABEL: Record<CopilotOp, string> = { suggest: 'AI Suggest', expand: 'AI Expand', tune: 'AI Tune' };

interface MenuState {
  /** Opened by typing `/` (filtered by the token) or by the Shortcuts button (its own search box). */
  mode: 'slash' | 'button';
  token: SlashToken | null;
  search: string;
  active: number;
  /** Where a pick goes in button mode: the selection when the menu opened. */
  range: { start: number; end: number };
}

interface CopilotLine {
  op: CopilotOp;
  running: boolean;
  result: CopilotResult | null;
  error: string | null;
  /** The draft before the copilot wrote over it (for Undo). */
  before: string;
}

const itemName = (item: MenuItem): string => item.name;

export function Composer(props: { client: ConsoleClient; api: Api; conversationId: string; enabled: boolean; placeholder: string }) {
  const { client, api, conversationId, enabled } = props;
  const [body, setBody] = useState(() => drafts.get(conversationId) ?? '');
  const [preview, setPreview] = useState('');
  const [menu, setMenu] = useState<MenuState | null>(null);
  const [items, setItems] = useState<MenuItem[] | null>(menuCache);
  const [menuError, setMenuError] = useState<string | null>(null);
  const [tone, setTone] = useState<Tone | null>(() => tones.get(conversationId) ?? null);
  const [copilot, setCopilot] = useState<CopilotLine | null>(null);
  const [inserting, setInserting] = useState<string | null>(null);
  const [unknown, setUnknown] = useState<string[]>([]);
  const ref = useRef<HTMLTextAreaElement>(null);
  const formRef = useRef<HTMLFormElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const listRef = useRef<HTMLUListElement>(null);
  const renderSeq = useRef(0);
  const caretAfter = useRef<number | null>(null);
  /** The `/` token the rep closed with Escape: it does not reopen until they type another. */
  const dismissed = useRef<number | null>(null);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    setBody(drafts.get(conversationId) ?? '');
    setMenu(null);
    setCopilot(null);
    setUnknown([]);
    setTone(tones.get(conversationId) ?? null);
    return () => abort.current?.abort();
  }, [conversationId]);

  // Live preview from the server's renderer, 150 ms after the last keystroke; stale answers are dropped.
  useEffect(() => {
    const mine = ++renderSeq.current;
    if (!isSendable(body) || copilot?.running) {
      if (!isSendable(body)) setPreview('');
      return;
    }
    const t = setTimeout(() => {
      api.render(body).then(
        (html) => {
          if (renderSeq.current === mine) setPreview(html);
        },
        () => {
          /* the preview is a nicety: keep the last one */
        },
      );
    }, 150);
    return () => clearTimeout(t);
  }, [body, api, copilot?.running]);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 200)}px`;
    if (caretAfter.current !== null) {
      el.focus();
      el.setSelectionRange(caretAfter.current, caretAfter.current);
      caretAfter.current = null;
    }
  }, [body]);

  useEffect(() => {
    if (enabled) ref.current?.focus();
  }, [enabled, conversationId]);

  // The menu's data: shortcuts (fresh on every open) and this conversation's tone.
  const open = !!menu;
  useEffect(() => {
    if (!open) return;
    let live = true;
    api.shortcutMenu().then(
      (list) => {
        menuCache = list;
        if (live) {
          setItems(list);
          setMenuError(null);
        }
      },
      (e: unknown) => live && setMenuError(problem(e, 'Could not load shortcuts.')),
    );
    if (!tones.has(conversationId)) {
      api.tone(conversationId).then(
        (t) => {
          // The rep may have picked a tone while this was loading: theirs wins.
          if (tones.has(conversationId)) return;
          tones.set(conversationId, t);
          if (live) setTone(t);
        },
        () => {},
      );
    }
    return () => {
      live = false;
    };
  }, [open, api, conversationId]);

  // Close on a click outside the composer.
  useEffect(() => {
    if (!open) return;
    const onDown = (e: Event): void => {
      if (formRef.current && !formRef.current.contains(e.target as Node)) setMenu(null);
    };
    document.addEventListener('pointerdown', onDown);
    return () => document.removeEventListener('pointerdown', onDown);
  }, [open]);

  const query = menu ? (menu.mode === 'slash' ? (menu.token?.query ?? '') : menu.search) : '';
  const rows = menu && items ? filterMenu(query, items, itemName) : [];
  const active = menu ? Math.min(menu.active, Math.max(rows.length - 1, 0)) : 0;

  useEffect(() => {
    listRef.current?.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
  }, [active, open, query]);

  useEffect(() => {
    if (menu?.mode === 'button') searchRef.current?.focus();
  }, [menu?.mode]);

  const update = (value: string): void => {
    setBody(value);
    drafts.set(conversationId, value);
  };

  /** Open, follow or close the `/` menu for where the caret is now. */
  const track = (value: string, caret: number): void => {
    const token = slashTokenAt(value, caret);
    if (dismissed.current !== null && token?.start !== dismissed.current) dismissed.current = null;
    if (token && token.start !== dismissed.current && enabled) {
      setMenu((m) => ({
        mode: 'slash',
        token,
        search: '',
        active: m?.mode === 'slash' && m.token?.query === token.query ? m.active : 0,
        range: { start: token.start, end: token.end },
      }));
    } else {
      setMenu((m) => (m?.mode === 'slash' ? null : m));
    }
  };

  const openFromButton = (): void => {
    if (menu) {
      setMenu(null);
      return;
    }
    const el = ref.current;
    const start = el?.selectionStart ?? body.length;
    const end = el?.selectionEnd ?? body.length;
    setMenu({ mode: 'button', token: null, search: '', active: 0, range: { start, end } });
  };

  const closeMenu = (): void => {
    if (menu?.mode === 'slash' && menu.token) dismissed.current = menu.token.start;
    setMenu(null);
    ref.current?.focus();
  };

  const insertShortcut = async (item: Extract<MenuItem, { kind: 'shortcut' }>, range: { start: number; end: number }): Promise<void> => {
    setInserting(item.name);
    let text = item.text;
    let missing: string[] = [];
    try {
      const expanded = await api.expandShortcut(item.id, conversationId);
      text = expanded.body;
      missing = expanded.unknown_placeholders;
    } catch (e) {
      setCopilot({ op: 'expand', running: false, result: null, error: `Inserted /${item.name} without filling its placeholders: ${problem(e, 'the server did not answer')}.`, before: body });
    } finally {
      setInserting(null);
    }
    const current = drafts.get(conversationId) ?? '';
    const next = replaceRange(current, Math.min(range.start, current.length), Math.min(range.end, current.length), text);
    caretAfter.current = next.caret;
    setPreview('');
    update(next.text);
    setUnknown(missing);
  };

  const runCopilot = async (op: CopilotOp, draft: string): Promise<void> => {
    const before = body;
    if (op !== 'suggest' && !draft.trim()) {
      update(draft);
      setCopilot({
        op,
        running: false,
        result: null,
        error: op === 'expand' ? 'Type a few notes first (a line or a comma each), then choose AI Expand.' : 'Type your draft first, then choose AI Tune.',
        before,
      });
      return;
    }
    abort.current?.abort();
    const ctrl = new AbortController();
    abort.current = ctrl;
    setPreview('');
    update(draft);
    setCopilot({ op, running: true, result: null, error: null, before: draft });
    const request = { conversation_id: conversationId, ...(draft.trim() ? { text: draft } : {}), ...(tone ? { tone } : {}) };
    try {
      const result = await api.copilotStream(op, request, update, ctrl.signal);
      if (ctrl.signal.aborted) return;
      // Nothing found (Suggest): keep the rep's draft, the line says why.
      const final = result.text || draft;
      caretAfter.current = final.length;
      update(final);
      setCopilot({ op, running: false, result, error: null, before: draft });
    } catch (e) {
      if (ctrl.signal.aborted) return;
      update(draft);
      setCopilot({ op, running: false, result: null, error: problem(e, 'The copilot did not answer; try again.'), before: draft });
    } finally {
      if (abort.current === ctrl) abort.current = null;
    }
  };

  const pick = (index: number): void => {
    const item = rows[index];
    if (!menu || !item) return;
    const range = menu.range;
    const token = menu.mode === 'slash' ? menu.token : null;
    setMenu(null);
    if (item.kind === 'shortcut') {
      void insertShortcut(item, range);
    } else {
      void runCopilot(item.name, withoutToken(body, token));
    }
  };

  const changeTone = (t: Tone): void => {
    const was = tone;
    setTone(t);
    tones.set(conversationId, t);
    api.setTone(conversationId, t).catch((e: unknown) => {
      setTone(was);
      if (was) tones.set(conversationId, was);
      else tones.delete(conversationId);
      setMenuError(problem(e, 'Could not save the tone.'));
    });
  };

  const submit = (): void => {
    if (!enabled || !isSendable(body) || copilot?.running) return;
    client.send(conversationId, body);
    update('');
    setPreview('');
    setCopilot(null);
    setUnknown([]);
    ref.current?.focus();
  };

  /** Keys of the open menu, from the textarea or the menu's search box; true when handled. */
  const menuKeys = (e: TargetedKeyboardEvent<HTMLElement>): boolean => {
    if (!menu || e.isComposing) return false;
    const k = menuKey(e.key, active, rows.length);
    if (!k) return false;
    e.preventDefault();
    if (k.action === 'close') closeMenu();
    else if (k.action === 'move') setMenu({ ...menu, active: k.active });
    else pick(k.index);
    return true;
  };

  const onKeyDown = (e: TargetedKeyboardEvent<HTMLTextAreaElement>): void => {
    if (menuKeys(e)) return;
    if (composerKeyAction(e) === 'send') {
      e.preventDefault();
      submit();
    }
  };

  const stillUnknown = unknown.filter((p) => body.includes(p));
  const running = !!copilot?.running;
  const menuId = `slash-menu-${conversationId}`;

  return (
    <form
      ref={formRef}
      class={`composer${enabled ? '' : ' is-disabled'}`}
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <div class="composer-inner">
        {menu ? (
          <div class="slash-menu" data-testid="slash-menu" data-mode={menu.mode}>
            <div class="slash-head">
              {menu.mode === 'button' ? (
                <label class="slash-search">
                  <Icon name="slash" size={16} />
                  <span class="sr-only">Search shortcuts</span>
                  <input
                    ref={searchRef}
                    type="search"
                    placeholder="Search shortcuts and AI…"
                    value={menu.search}
                    onInput={(e) => setMenu({ ...menu, search: e.currentTarget.value, active: 0 })}
                    onKeyDown={(e) => void menuKeys(e)}
                    aria-controls={menuId}
                    data-testid="slash-search"
                  />
                </label>
              ) : (
                <span class="slash-title">
                  {query ? (
                    <>
                      Matching <code>/{query}</code>
                    </>
                  ) : (
                    'Shortcuts and AI copilot'
                  )}
                </span>
              )}
              <label class="tone">
                <span>Tone</span>
                <select
                  value={tone ?? 'friendly'}
                  onChange={(e) => changeTone(e.currentTarget.value as Tone)}
                  data-testid="tone-select"
                  title="The copilot's tone for this conversation"
                >
                  {TONES.map((t) => (
                    <option key={t.value} value={t.value}>
                      {t.label}
                    </option>
                  ))}
                </select>
              </label>
            </div>
            {menuError ? <p class="slash-error">{menuError}</p> : null}
            {items === null && !menuError ? <p class="slash-empty">Loading shortcuts…</p> : null}
            {items !== null && rows.length === 0 ? (
              <p class="slash-empty">
                Nothing matches <code>/{query}</code>. <a href="#/shortcuts">Create a shortcut</a>
              </p>
            ) : null}
            {rows.length ? (
              <ul class="slash-list" role="listbox" id={menuId} ref={listRef} aria-label="Shortcuts and AI copilot">
                {rows.map((item, i) => (
                  <li
                    key={item.kind === 'shortcut' ? item.id : item.name}
                    id={`${menuId}-${i}`}
                    role="option"
                    aria-selected={i === active}
                    class={`slash-item slash-${item.kind}${i === active ? ' is-active' : ''}`}
                    data-testid="slash-item"
                    data-name={item.name}
                    data-kind={item.kind}
                    onMouseDown={(e) => e.preventDefault()}
                    onMouseMove={() => i !== active && setMenu({ ...menu, active: i })}
                    onClick={() => pick(i)}
                  >
                    {item.kind === 'command' ? (
                      <>
                        <span class="slash-icon slash-icon-ai" aria-hidden="true">
                          <Icon name="sparkle" size={16} />
                        </span>
                        <span class="slash-main">
                          <span class="slash-name">
                            {item.label} <span class="slash-kbd">/{item.name}</span>
                          </span>
                          <span class="slash-desc">{item.description}</span>
                        </span>
                      </>
                    ) : (
                      <>
                        <span class="slash-icon" aria-hidden="true">
                          /
                        </span>
                        <span class="slash-main">
                          <span class="slash-name">
                            /{item.name}
                            <span class={`scope scope-${item.scope}`}>{item.scope === 'org' ? 'Org' : 'Mine'}</span>
                          </span>
                          <RichText class="slash-preview rich" html={item.html} openImageLabel="Open image" />
                        </span>
                      </>
                    )}
                  </li>
                ))}
              </ul>
            ) : null}
            <div class="slash-foot">
              <span>
                <kbd>↑</kbd>
                <kbd>↓</kbd> to move · <kbd>Enter</kbd> to insert · <kbd>Esc</kbd> to close
              </span>
              <a href="#/shortcuts">Manage shortcuts</a>
            </div>
          </div>
        ) : null}
        {preview && enabled && !running && !menu ? (
          <div class="preview" data-testid="composer-preview" aria-label="Formatting preview">
            <span class="preview-label">Preview</span>
            <RichText class="rich" html={preview} openImageLabel="Open image" />
          </div>
        ) : null}
        {inserting ? (
          <p class="copilot-line" role="status">
            <span class="spinner spinner-brand" aria-hidden="true" /> Inserting /{inserting}…
          </p>
        ) : null}
        {copilot ? (
          <CopilotStatus
            line={copilot}
            onStop={() => {
              abort.current?.abort();
              update(copilot.before);
              setCopilot(null);
            }}
            onUndo={() => {
              caretAfter.current = copilot.before.length;
              update(copilot.before);
              setCopilot(null);
            }}
            onUse={(text) => {
              caretAfter.current = text.length;
              update(text);
            }}
            onClose={() => setCopilot(null)}
          />
        ) : null}
        {stillUnknown.length ? (
          <p class="placeholder-warning" data-testid="placeholder-warning">
            Fill in before sending: {stillUnknown.map((p) => <code key={p}>{p}</code>)}
          </p>
        ) : null}
        <div class="composer-row">
          <label class="sr-only" for="composer-input">
            Message
          </label>
          <textarea
            id="composer-input"
            ref={ref}
            rows={2}
            maxLength={8000}
            value={body}
            disabled={!enabled}
            readOnly={running}
            aria-busy={running}
            placeholder={props.placeholder}
            // A combobox while the `/` menu is open (Preact's types only allow "textbox" here).
            {...({ role: 'combobox' } as object)}
            aria-autocomplete="list"
            aria-expanded={menu?.mode === 'slash'}
            aria-controls={menu ? menuId : undefined}
            aria-activedescendant={menu?.mode === 'slash' && rows.length ? `${menuId}-${active}` : undefined}
            onInput={(e) => {
              const el = e.currentTarget;
              update(el.value);
              track(el.value, el.selectionStart);
              if (el.value) client.typed(conversationId);
            }}
            onKeyDown={onKeyDown}
            onKeyUp={(e) => {
              if (['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) track(e.currentTarget.value, e.currentTarget.selectionStart);
            }}
            onClick={(e) => track(e.currentTarget.value, e.currentTarget.selectionStart)}
            data-testid="composer"
          />
          <button type="submit" class="send-button" aria-label="Send" disabled={!enabled || !isSendable(body) || running} data-testid="send-button">
            <Icon name="send" size={20} />
          </button>
        </div>
        <div class="composer-foot">
          <button
            type="button"
            class={`tool-button${menu?.mode === 'button' ? ' is-on' : ''}`}
            onClick={openFromButton}
            disabled={!enabled}
            aria-expanded={menu?.mode === 'button'}
            data-testid="shortcuts-button"
          >
            <Icon name="slash" size={16} /> Shortcuts
          </button>
          <p class="composer-hint">
            <kbd>/</kbd> for shortcuts and AI · <kbd>Enter</kbd> to send · <kbd>Shift</kbd>+<kbd>Enter</kbd> new line · <code>**bold**</code>{' '}
            <code>*italic*</code> <code>[text](url)</code> <code>![alt](image-url)</code>
          </p>
        </div>
      </div>
    </form>
  );
}

function CopilotStatus(props: {
  line: CopilotLine;
  onStop: () => void;
  onUndo: () => void;
  onUse: (text: string) => void;
  onClose: () => void;
}) {
  const { line } = props;
  const r = line.result;
  const label = OP_LABEL[line.op];
  if (line.running) {
    return (
      <p class="copilot-line" role="status" data-testid="copilot-source" data-state="running">
        <span class="spinner spinner-brand" aria-hidden="true" /> {label} is writing in the composer…
        <button type="button" class="link-button" onClick={props.onStop}>
          Stop
        </button>
      </p>
    );
  }
  if (line.error) {
    return (
      <p class="copilot-line is-error" role="alert" data-testid="copilot-source" data-state="error">
        <Icon name="sparkle" size={14} /> {line.error}
        <button type="button" class="icon-button" aria-label="Dismiss" onClick={props.onClose}>
          <Icon name="x" size={14} />
        </button>
      </p>
    );
  }
  if (!r) return null;
  const others = (r.sources ?? []).filter((src) => src.text && src.text.trim() !== r.text.trim());
  const tone = TONES.find((t) => t.value === r.tone)?.label;
  return (
    <div class="copilot-line" role="status" data-testid="copilot-source" data-state="done" data-source={r.source}>
      <div class="copilot-row">
        <Icon name="sparkle" size={14} />
        <span>
          <strong>{label}</strong>
          {tone && line.op !== 'suggest' ? ` · ${tone}` : ''} · from <span class="copilot-model">{r.source === 'offline' ? 'offline copilot' : r.source}</span>
        </span>
        {r.fallback ? <span class="copilot-fallback">AI provider unavailable: {r.fallback} — offline result</span> : null}
        {r.note ? <span class="copilot-note">{r.note}</span> : null}
        <span class="copilot-actions">
          {line.before !== r.text ? (
            <button type="button" class="link-button" onClick={props.onUndo}>
              Undo
            </button>
          ) : null}
          <button type="button" class="icon-button" aria-label="Dismiss" onClick={props.onClose}>
            <Icon name="x" size={14} />
          </button>
        </span>
      </div>
      {line.op === 'suggest' && r.sources?.length ? (
        <div class="copilot-sources">
          <span>Sources:</span>
          {r.sources.map((src) => (
            <span class="source-chip" key={src.id} title={src.text}>
              {src.kind === 'transcript' ? 'Past answer' : src.kind === 'shortcut' ? 'Shortcut' : 'Page'}: {src.title}
            </span>
          ))}
        </div>
      ) : null}
      {line.op === 'suggest' && others.length ? (
        <div class="copilot-sources">
          <span>Other answers:</span>
          {others.map((src) => (
            <button type="button" class="source-chip is-button" key={src.id} onClick={() => props.onUse(src.text)} title={src.text}>
              Use “{src.text.length > 60 ? `${src.text.slice(0, 60)}…` : src.text}”
            </button>
          ))}
        </div>
      ) : null}
    </div>
  );
}
