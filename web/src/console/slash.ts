/** The composer's `/` menu, as pure functions: which `/word` the caret is in, how the menu
 * ranks names (the server's `filter_menu`), how keys move it, and how a pick edits the text. */

/** A `/query` typed at the start of a word: `text.slice(start, end)` is `/` plus the word. */
export interface SlashToken {
  start: number;
  end: number;
  /** What was typed after `/`, up to the caret. */
  query: string;
}

const NAME_CHAR = /[A-Za-z0-9_-]/;
/** `/` at the start of the text or after whitespace, then name characters up to the caret. */
const BEFORE_CARET = /(?:^|\s)\/([A-Za-z0-9_-]{0,40})$/;

/** The `/word` the caret is in or just after, or null (a `/` inside a word or URL is no token). */
export function slashTokenAt(text: string, caret: number): SlashToken | null {
  const m = BEFORE_CARET.exec(text.slice(0, caret));
  if (!m) return null;
  const query = m[1]!;
  const start = caret - query.length - 1;
  let end = caret;
  while (end < text.length && NAME_CHAR.test(text[end]!)) end++;
  return { start, end, query };
}

/** `text` with `[start, end)` replaced by `insert`, and where the caret goes (after it). */
export function replaceRange(text: string, start: number, end: number, insert: string): { text: string; caret: number } {
  return { text: text.slice(0, start) + insert + text.slice(end), caret: start + insert.length };
}

/** `text` without the `/word` (what the copilot gets as the draft). */
export function withoutToken(text: string, token: SlashToken | null): string {
  if (!token) return text;
  return (text.slice(0, token.start) + text.slice(token.end)).replace(/[ \t]{2,}/g, ' ').trim();
}

function isSubsequence(query: string, name: string): boolean {
  let i = 0;
  for (const ch of name) if (ch === query[i]) i++;
  return i === query.length;
}

/**
 * Items whose name matches `query` (a leading `/` ignored, case-insensitive): names that
 * start with it first, then names that contain it, then names holding its letters in order
 * (`wlc` finds `Welcome`). Each group keeps the items' order. Same as the server's menu.
 */
export function filterMenu<T>(query: string, items: readonly T[], name: (item: T) => string): T[] {
  const q = query.trim().replace(/^\/+/, '').toLowerCase();
  if (!q) return items.slice();
  const prefix: T[] = [];
  const inside: T[] = [];
  const scattered: T[] = [];
  for (const item of items) {
    const n = name(item).replace(/^\/+/, '').toLowerCase();
    if (n.startsWith(q)) prefix.push(item);
    else if (n.includes(q)) inside.push(item);
    else if (isSubsequence(q, n)) scattered.push(item);
  }
  return [...prefix, ...inside, ...scattered];
}

export type MenuKey =
  | { action: 'move'; active: number }
  | { action: 'pick'; index: number }
  | { action: 'close' }
  /** Not the menu's key: let the composer have it. */
  | null;

/** What a key does while the menu is open over `count` rows with row `active` highlighted. */
export function menuKey(key: string, active: number, count: number): MenuKey {
  switch (key) {
    case 'Escape':
      return { action: 'close' };
    case 'ArrowDown':
      return count ? { action: 'move', active: (active + 1) % count } : null;
    case 'ArrowUp':
      return count ? { action: 'move', active: (active - 1 + count) % count } : null;
    case 'Home':
      return count ? { action: 'move', active: 0 } : null;
    case 'End':
      return count ? { action: 'move', active: count - 1 } : null;
    case 'Enter':
    case 'Tab':
      return count ? { action: 'pick', index: Math.min(Math.max(active, 0), count - 1) } : null;
    default:
      return null;
  }
}
