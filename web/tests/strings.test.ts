import { describe, expect, it } from 'vitest';
import { STRINGS, pickLanguage, translator } from '../src/messenger/strings';

const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

describe('messenger strings', () => {
  const en = STRINGS['en']!;

  for (const [lang, table] of Object.entries(STRINGS)) {
    it(`${lang} has every English key, non-empty, with the same placeholders`, () => {
      for (const key of Object.keys(en) as (keyof typeof en)[]) {
        expect(table[key], `${lang}.${key}`).toBeTypeOf('string');
        expect(table[key].trim(), `${lang}.${key}`).not.toBe('');
        expect(placeholders(table[key]), `${lang}.${key}`).toEqual(placeholders(en[key]));
      }
      expect(Object.keys(table).sort()).toEqual(Object.keys(en).sort());
    });
  }

  it('has French', () => {
    expect(Object.keys(STRINGS)).toContain('fr');
  });

  it('picks the language from the lang parameter', () => {
    expect(pickLanguage('fr-FR')).toBe('fr');
    expect(pickLanguage('fr')).toBe('fr');
    expect(pickLanguage('FR_ca')).toBe('fr');
    expect(pickLanguage('en-GB')).toBe('en');
    expect(pickLanguage('de-DE')).toBe('en');
    expect(pickLanguage('')).toBe('en');
    expect(pickLanguage(null)).toBe('en');
  });

  it('fills placeholders', () => {
    expect(translator('en')('typing', { name: 'Ada' })).toBe('Ada is typing…');
    expect(translator('fr-FR')('typing', { name: 'Ada' })).toBe('Ada écrit…');
    expect(translator('fr')('send')).toBe('Envoyer');
  });
});
