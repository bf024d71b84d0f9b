/** Small display helpers shared by messenger and console. */

/** "Ada Lovelace" → "AL", "Visitor #x7" → "VX"; "" → "?". Punctuation is skipped. */
export function initials(name: string | null | undefined): string {
  const firstChars = (name ?? '')
    .split(/\s+/)
    .map((part) => part.match(/[\p{L}\p{N}]/u)?.[0])
    .filter((c): c is string => !!c);
  if (firstChars.length === 0) return '?';
  const last = firstChars.length > 1 ? firstChars[firstChars.length - 1]! : '';
  return (firstChars[0]! + last).toUpperCase();
}

/** Elapsed time as "42s", "3m 05s", "1h 02m". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, '0')}m`;
}

/** Clock time of an ISO timestamp in the user's locale, e.g. "14:05". */
export function formatClock(iso: string, locale?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
}

/** WebSocket URL for a path on this page's own origin. */
export function wsUrl(path: string, loc: Pick<Location, 'protocol' | 'host'> = location): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}${path}`;
}

/** Time left until a deadline, rounded up to the second: "1:05", "0:09", "1:02:03"; "0:00" once past. */
export function formatCountdown(msLeft: number): string {
  const s = Math.max(0, Math.ceil(msLeft / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** How urgent a countdown looks: calm, the last 15 seconds, or past the deadline. */
export function countdownUrgency(msLeft: number): 'calm' | 'urgent' | 'over' {
  return msLeft <= 0 ? 'over' : msLeft <= 15_000 ? 'urgent' : 'calm';
}

/** A median duration in seconds for a report cell: "14s", "2m 05s", "—" when there is none. */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  return seconds < 10 ? `${seconds.toFixed(1)}s` : formatDuration(Math.round(seconds) * 1000);
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/**
 * The text a reader sees in a message's rendered HTML, on one line: for a conversation
 * list's preview, which shows it as text (never as markup). Line breaks and paragraphs
 * become spaces, an image its alt text, links their text.
 */
export function previewText(html: string): string {
  return html
    .replace(/<img\b[^>]*?\balt="([^"]*)"[^>]*>/gi, ' $1 ')
    .replace(/<br\s*\/?>|<\/p>\s*<p>/gi, ' ')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (all, ref: string) => {
      if (ref[0] !== '#') return ENTITIES[ref.toLowerCase()] ?? all;
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
    })
    .replace(/\s+/g, ' ')
    .trim();
}
