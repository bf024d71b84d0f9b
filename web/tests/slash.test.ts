import { describe, expect, it } from 'vitest';
import { filterMenu, menuKey, replaceRange, slashTokenAt, withoutToken } from '../src/console/slash';

const names = (list: { name: string }[]): string[] => list.map((x) => x.name);
const byName = (x: { name: string }): string => x.name;
const menu = ['suggest', 'expand', 'tune', 'Greeting', 'pricing', 'Welcome', 'well-known', 'Wlc2'].map((name) => ({ name }));

describe('slash token in the composer', () => {
  it('finds `/word` at the start of the text or of a word, up to the caret', () => {
    expect(slashTokenAt('/wel', 4)).toEqual({ start: 0, end: 4, query: 'wel' });
    expect(slashTokenAt('Hi /wel', 7)).toEqual({ start: 3, end: 7, query: 'wel' });
    expect(slashTokenAt('line one\n/pri', 13)).toEqual({ start: 9, end: 13, query: 'pri' });
    expect(slashTokenAt('/', 1)).toEqual({ start: 0, end: 1, query: '' });
  });

  it('takes the whole word as the range, the part before the caret as the query', () => {
    // caret after "/we" inside "/welcome there"
    expect(slashTokenAt('/welcome there', 3)).toEqual({ start: 0, end: 8, query: 'we' });
  });

  it('ignores a slash inside a word, a URL or a path, and one the caret left', () => {
    expect(slashTokenAt('and/or', 6)).toBeNull();
    expect(slashTokenAt('see https://acme.test/pricing', 29)).toBeNull();
    expect(slashTokenAt('/wel come', 9)).toBeNull();
    expect(slashTokenAt('/wel', 0)).toBeNull();
    expect(slashTokenAt('/we!', 4)).toBeNull();
  });

  it('replaces the token with the inserted text and puts the caret after it', () => {
    const text = 'Sure! /wel and more';
    const t = slashTokenAt(text, 10)!;
    expect(replaceRange(text, t.start, t.end, 'Hi Ada!')).toEqual({ text: 'Sure! Hi Ada! and more', caret: 13 });
    expect(replaceRange('', 0, 0, 'Hello')).toEqual({ text: 'Hello', caret: 5 });
  });

  it('drops the token from the draft the copilot gets', () => {
    const text = 'hey we got ur msg /tune';
    expect(withoutToken(text, slashTokenAt(text, text.length))).toBe('hey we got ur msg');
    const mid = 'notes: pricing /exp, trial';
    expect(withoutToken(mid, slashTokenAt(mid, 19))).toBe('notes: pricing , trial');
    expect(withoutToken('  keep  ', null)).toBe('  keep  ');
  });
});

describe('menu ranking (same as the server)', () => {
  it('`/wel` finds Welcome first, case-insensitively', () => {
    expect(names(filterMenu('wel', menu, byName))).toEqual(['Welcome', 'well-known']);
    expect(names(filterMenu('/WEL', menu, byName))).toEqual(['Welcome', 'well-known']);
  });

  it('prefix matches, then names containing it, then letters in order', () => {
    // "e": expand (prefix); suggest, tune, Greeting, Welcome, well-known (contain)
    expect(names(filterMenu('e', menu, byName))).toEqual(['expand', 'suggest', 'tune', 'Greeting', 'Welcome', 'well-known']);
    // "wlc": Wlc2 (prefix) before Welcome (letters in order)
    expect(names(filterMenu('wlc', menu, byName))).toEqual(['Wlc2', 'Welcome']);
    expect(names(filterMenu('ing', menu, byName))).toEqual(['Greeting', 'pricing']);
  });

  it('an empty query lists everything in order; no match lists nothing', () => {
    expect(names(filterMenu('', menu, byName))).toEqual(names(menu));
    expect(names(filterMenu('/', menu, byName))).toEqual(names(menu));
    expect(filterMenu('zzz', menu, byName)).toEqual([]);
  });
});

describe('menu keys', () => {
  it('arrows move and wrap around', () => {
    expect(menuKey('ArrowDown', 0, 3)).toEqual({ action: 'move', active: 1 });
    expect(menuKey('ArrowDown', 2, 3)).toEqual({ action: 'move', active: 0 });
    expect(menuKey('ArrowUp', 0, 3)).toEqual({ action: 'move', active: 2 });
    expect(menuKey('Home', 2, 3)).toEqual({ action: 'move', active: 0 });
    expect(menuKey('End', 0, 3)).toEqual({ action: 'move', active: 2 });
  });

  it('Enter and Tab pick the active row (clamped); Escape closes', () => {
    expect(menuKey('Enter', 1, 3)).toEqual({ action: 'pick', index: 1 });
    expect(menuKey('Tab', 7, 3)).toEqual({ action: 'pick', index: 2 });
    expect(menuKey('Escape', 1, 3)).toEqual({ action: 'close' });
  });

  it('with nothing listed, Enter is the composer’s again; other keys never are the menu’s', () => {
    expect(menuKey('Enter', 0, 0)).toBeNull();
    expect(menuKey('ArrowDown', 0, 0)).toBeNull();
    expect(menuKey('Escape', 0, 0)).toEqual({ action: 'close' });
    expect(menuKey('a', 0, 3)).toBeNull();
    expect(menuKey('Backspace', 0, 3)).toBeNull();
  });
});
