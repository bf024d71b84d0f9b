import { describe, expect, it } from 'vitest';
import { composerKeyAction, isSendable } from '../src/shared/keys';

describe('composer keys', () => {
  it('Enter sends', () => {
    expect(composerKeyAction({ key: 'Enter', shiftKey: false })).toBe('send');
  });

  it('Shift+Enter inserts a line break', () => {
    expect(composerKeyAction({ key: 'Enter', shiftKey: true })).toBe('newline');
  });

  it('Alt+Enter also breaks the line; Ctrl/Cmd+Enter sends', () => {
    expect(composerKeyAction({ key: 'Enter', shiftKey: false, altKey: true })).toBe('newline');
    expect(composerKeyAction({ key: 'Enter', shiftKey: false, ctrlKey: true })).toBe('send');
    expect(composerKeyAction({ key: 'Enter', shiftKey: false, metaKey: true })).toBe('send');
  });

  it('the Enter that confirms an IME composition does not send', () => {
    expect(composerKeyAction({ key: 'Enter', shiftKey: false, isComposing: true })).toBe('default');
    expect(composerKeyAction({ key: 'Enter', shiftKey: false, keyCode: 229 })).toBe('default');
  });

  it('other keys do their usual thing', () => {
    expect(composerKeyAction({ key: 'a', shiftKey: false })).toBe('default');
    expect(composerKeyAction({ key: 'Tab', shiftKey: true })).toBe('default');
  });

  it('whitespace-only bodies are not sent', () => {
    expect(isSendable('  \n\t')).toBe(false);
    expect(isSendable(' hi ')).toBe(true);
  });
});
