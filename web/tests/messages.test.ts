import { describe, expect, it } from 'vitest';
import { addToLog, highestSeq, mergeMessages, resumeAfter } from '../src/shared/messages';
import { msg } from './fixtures';

const seqs = (list: readonly { seq: number }[]): number[] => list.map((m) => m.seq);

describe('mergeMessages', () => {
  it('orders by seq whatever the arrival order', () => {
    expect(seqs(mergeMessages([], [msg(3), msg(1), msg(2)]))).toEqual([1, 2, 3]);
  });

  it('drops a message it already has (live, then again in a replay)', () => {
    const live = mergeMessages([], [msg(1), msg(2)]);
    const replayed = mergeMessages(live, [msg(2), msg(3)]);
    expect(seqs(replayed)).toEqual([1, 2, 3]);
  });

  it('keeps the first copy of a seq', () => {
    const first = msg(1, 'visitor', 'c_1', { body: 'first' });
    const merged = mergeMessages([first], [msg(1, 'visitor', 'c_1', { body: 'second' })]);
    expect(merged[0]!.body).toBe('first');
  });

  it('returns the same list when nothing is new (no re-render)', () => {
    const list = mergeMessages([], [msg(1), msg(2)]);
    expect(mergeMessages(list, [msg(2), msg(1)])).toBe(list);
    expect(mergeMessages(list, [])).toBe(list);
  });

  it('dedupes inside one batch', () => {
    expect(seqs(mergeMessages([], [msg(1), msg(1), msg(2)]))).toEqual([1, 2]);
  });

  it('fills a gap when the missing message arrives later', () => {
    const withGap = mergeMessages([], [msg(1), msg(3)]);
    expect(seqs(mergeMessages(withGap, [msg(2)]))).toEqual([1, 2, 3]);
  });
});

describe('addToLog', () => {
  it('keeps conversations apart: the same seq in two conversations is two messages', () => {
    const log = addToLog({}, [msg(1, 'visitor', 'c_1'), msg(1, 'rep', 'c_2'), msg(2, 'rep', 'c_1')]);
    expect(seqs(log['c_1']!)).toEqual([1, 2]);
    expect(seqs(log['c_2']!)).toEqual([1]);
  });

  it('is a no-op (same object) for duplicates only', () => {
    const log = addToLog({}, [msg(1), msg(2)]);
    expect(addToLog(log, [msg(1)])).toBe(log);
  });

  it('merges live frames and a REST page in any interleaving to the same result', () => {
    const rest = [msg(1), msg(2), msg(3), msg(4)];
    const live = [msg(4), msg(5)];
    const a = addToLog(addToLog({}, rest), live);
    const b = addToLog(addToLog({}, live), rest);
    expect(seqs(a['c_1']!)).toEqual([1, 2, 3, 4, 5]);
    expect(b).toEqual(a);
  });
});

describe('resume after', () => {
  it('is the highest seq seen per conversation', () => {
    const log = addToLog({}, [msg(1, 'visitor', 'c_1'), msg(7, 'rep', 'c_1'), msg(2, 'rep', 'c_2')]);
    expect(resumeAfter(log)).toEqual({ c_1: 7, c_2: 2 });
  });

  it('asks for everything (0) of a followed conversation without messages', () => {
    const log = addToLog({}, [msg(4, 'rep', 'c_1')]);
    expect(resumeAfter(log, ['c_1', 'c_9'])).toEqual({ c_1: 4, c_9: 0 });
  });

  it('is empty with nothing to resume', () => {
    expect(resumeAfter({})).toEqual({});
    expect(highestSeq(undefined)).toBe(0);
  });
});

describe('resume cap', () => {
  it('keeps the most recently active conversations when there are too many', () => {
    const log = addToLog({}, [msg(1, 'rep', 'old'), msg(1, 'rep', 'mid'), msg(1, 'rep', 'new')].map((m, i) => ({ ...m, created_at: `2026-11-2${i}T00:00:00Z` })));
    expect(resumeAfter(log, ['empty'], 2)).toEqual({ empty: 0, new: 1 });
    expect(Object.keys(resumeAfter(log, [], 5))).toHaveLength(3);
  });
});
