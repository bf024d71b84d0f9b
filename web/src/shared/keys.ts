/** What a key press in a chat composer means: Enter sends, Shift+Enter breaks the line. */

export interface KeyInfo {
  key: string;
  shiftKey: boolean;
  altKey?: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
  /** True while an IME composition is in progress (Japanese, Chinese… input). */
  isComposing?: boolean;
  /** Legacy IME signal: Safari reports keyCode 229 for the Enter that ends a composition. */
  keyCode?: number;
}

export type KeyAction = 'send' | 'newline' | 'default';

export function composerKeyAction(e: KeyInfo): KeyAction {
  if (e.key !== 'Enter') return 'default';
  // The Enter that confirms an IME candidate must not send half a sentence.
  if (e.isComposing || e.keyCode === 229) return 'default';
  if (e.shiftKey || e.altKey) return 'newline';
  return 'send';
}

/** A body worth sending: something other than whitespace. */
export function isSendable(body: string): boolean {
  return body.trim().length > 0;
}
