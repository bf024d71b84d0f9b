/** Per-conversation logs of a stream's items: merge live, replayed and fetched messages and events without loss or duplicates. */
import type { EventItem, Message } from './protocol';

/** conversation_id → its items, sorted by seq, one per seq. */
export type Log<T extends Item> = Readonly<Record<string, readonly T[]>>;
/** conversation_id → its messages, sorted by seq, one per seq. */
export type MessageLog = Log<Message>;
/** conversation_id → its events (closed, owner changed …), sorted by seq. */
export type EventLog = Log<EventItem>;

interface Item {
  conversation_id: string;
  seq: number;
  created_at: string;
}

/**
 * Merge `incoming` into a sorted list. A seq already present is dropped (the
 * first copy wins: live and replayed copies of a message are identical).
 * Returns the same array when nothing changed, so renders can be skipped.
 */
export function mergeMessages<T extends Item>(list: readonly T[], incoming: readonly T[]): readonly T[] {
  if (incoming.length === 0) return list;
  const bySeq = new Map<number, T>();
  for (const m of list) bySeq.set(m.seq, m);
  let changed = false;
  for (const m of incoming) {
    if (!bySeq.has(m.seq)) {
      bySeq.set(m.seq, m);
      changed = true;
    }
  }
  if (!changed) return list;
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** Add messages (of any conversations) to a log. Same object back when nothing is new. */
export function addToLog<T extends Item>(log: Log<T>, incoming: readonly T[]): Log<T> {
  let next: Record<string, readonly T[]> | null = null;
  const groups = new Map<string, T[]>();
  for (const m of incoming) {
    const g = groups.get(m.conversation_id);
    if (g) g.push(m);
    else groups.set(m.conversation_id, [m]);
  }
  for (const [cid, msgs] of groups) {
    const current = (next ?? log)[cid] ?? [];
    const merged = mergeMessages(current, msgs);
    if (merged !== current) {
      next ??= { ...log };
      next[cid] = merged;
    }
  }
  return next ?? log;
}

export function hasMessage(log: MessageLog, conversationId: string, seq: number): boolean {
  return (log[conversationId] ?? []).some((m) => m.seq === seq);
}

export function highestSeq(messages: readonly Item[] | undefined): number {
  if (!messages || messages.length === 0) return 0;
  return messages[messages.length - 1]!.seq;
}

/** The server accepts at most this many conversations in one `resume`. */
export const RESUME_MAX_CONVERSATIONS = 200;

/**
 * The `after` map of a `resume` frame: the highest seq seen per conversation.
 * `known` lists conversations we follow but hold no messages of yet (→ 0, replay all).
 * Past `limit` conversations, the most recently active ones are kept.
 */
export function resumeAfter(
  log: MessageLog,
  known: Iterable<string> = [],
  limit = RESUME_MAX_CONVERSATIONS,
  events: EventLog = {},
): Record<string, number> {
  const after: Record<string, number> = {};
  for (const cid of known) after[cid] = 0;
  for (const [cid, msgs] of Object.entries(log)) after[cid] = highestSeq(msgs);
  for (const [cid, items] of Object.entries(events)) after[cid] = Math.max(after[cid] ?? 0, highestSeq(items));
  const ids = Object.keys(after);
  if (ids.length <= limit) return after;
  const lastAt = (cid: string): string => {
    const msgs = log[cid];
    // Followed-but-empty conversations first: they are the ones we know nothing of.
    return msgs && msgs.length ? msgs[msgs.length - 1]!.created_at : '\uffff';
  };
  ids.sort((a, b) => lastAt(b).localeCompare(lastAt(a)));
  return Object.fromEntries(ids.slice(0, limit).map((cid) => [cid, after[cid]!]));
}

/** Seq of the last message written by `kind` (e.g. the visitor's own last message), or 0. */
export function lastSeqBy(messages: readonly Message[] | undefined, isMine: (m: Message) => boolean): number {
  if (!messages) return 0;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (isMine(messages[i]!)) return messages[i]!.seq;
  }
  return 0;
}
