import { describe, expect, it } from 'vitest';
import { addToLog } from '../src/shared/messages';
import { badgeText, countUnread, countUnreadInLog, formatTitle, markRead } from '../src/shared/unread';
import { msg } from './fixtures';

const fromRep = (m: { author: { kind: string } }): boolean => m.author.kind !== 'visitor';

describe('unread counting', () => {
  it('counts only the other side, above the read mark', () => {
    const list = [msg(1, 'visitor'), msg(2, 'rep'), msg(3, 'visitor'), msg(4, 'rep'), msg(5, 'bot')];
    expect(countUnread(list, 0, fromRep)).toBe(3);
    expect(countUnread(list, 2, fromRep)).toBe(2);
    expect(countUnread(list, 5, fromRep)).toBe(0);
    expect(countUnread(undefined, 0, fromRep)).toBe(0);
  });

  it('sums over conversations with their own marks', () => {
    const log = addToLog({}, [msg(1, 'rep', 'c_1'), msg(2, 'rep', 'c_1'), msg(1, 'rep', 'c_2')]);
    expect(countUnreadInLog(log, { c_1: 1 }, fromRep)).toBe(2);
  });

  it('read marks only go up', () => {
    const marks = markRead({}, 'c_1', 5);
    expect(marks).toEqual({ c_1: 5 });
    expect(markRead(marks, 'c_1', 3)).toBe(marks);
    expect(markRead(marks, 'c_1', 6)).toEqual({ c_1: 6 });
  });
});

describe('badges and titles', () => {
  it('formats the tab title with a count', () => {
    expect(formatTitle(0, 'Pounce')).toBe('Pounce');
    expect(formatTitle(1, 'Pounce')).toBe('(1) Pounce');
    expect(formatTitle(12, 'Pounce')).toBe('(12) Pounce');
    expect(formatTitle(150, 'Pounce')).toBe('(99+) Pounce');
    expect(formatTitle(-1, 'Pounce')).toBe('Pounce');
  });

  it('badge text is empty for none', () => {
    expect(badgeText(0)).toBe('');
    expect(badgeText(3)).toBe('3');
    expect(badgeText(100)).toBe('99+');
  });
});
