/** Unread counting and the read markers that drive it. */
import type { Message } from './protocol';
import type { MessageLog } from './messages';

export type ReadMarks = Readonly<Record<string, number>>;

/** Messages from the other side (`isOther`) with a seq above what we marked read. */
export function countUnread(
  messages: readonly Message[] | undefined,
  readSeq: number,
  isOther: (m: Message) => boolean,
): number {
  if (!messages) return 0;
  let n = 0;
  for (const m of messages) if (m.seq > readSeq && isOther(m)) n++;
  return n;
}

export function countUnreadInLog(log: MessageLog, marks: ReadMarks, isOther: (m: Message) => boolean): number {
  let n = 0;
  for (const [cid, msgs] of Object.entries(log)) n += countUnread(msgs, marks[cid] ?? 0, isOther);
  return n;
}

/** Raise a read mark; marks never go down. Same object back when unchanged. */
export function markRead(marks: ReadMarks, conversationId: string, seq: number): ReadMarks {
  if ((marks[conversationId] ?? 0) >= seq) return marks;
  return { ...marks, [conversationId]: seq };
}

/** Launcher/tab badge text: "" for none, "99+" past 99. */
export function badgeText(count: number): string {
  if (count <= 0) return '';
  return count > 99 ? '99+' : String(count);
}

/** Tab title with a count, e.g. "(2) Pounce". */
export function formatTitle(count: number, base: string): string {
  const badge = badgeText(count);
  return badge ? `(${badge}) ${base}` : base;
}
