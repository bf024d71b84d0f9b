/** Behaviour of server-rendered message HTML: links and images open in a new tab, safely. */

const SAFE = /^(https?:|mailto:)/i;

/**
 * Prepare a container of message HTML after it is inserted: links open in a new tab
 * without `window.opener` (inside the messenger iframe a plain link would navigate
 * the chat itself away), and bare images become keyboard-reachable "open" controls.
 */
export function enhanceRichText(root: HTMLElement, openImageLabel: string): void {
  for (const a of Array.from(root.querySelectorAll('a'))) {
    a.target = '_blank';
    a.rel = 'noopener noreferrer nofollow';
  }
  for (const img of Array.from(root.querySelectorAll('img'))) {
    img.loading = 'lazy';
    if (img.closest('a')) continue;
    img.tabIndex = 0;
    img.setAttribute('role', 'link');
    img.title = openImageLabel;
  }
}

function imageTarget(ev: Event): string | null {
  const el = ev.target instanceof Element ? ev.target : null;
  const img = el?.closest('img');
  if (!img || img.closest('a')) return null;
  const src = img.getAttribute('src');
  return src && SAFE.test(src) ? src : null;
}

/** Click or Enter on a bare image opens it full size in a new tab. */
export function openRichImage(ev: MouseEvent | KeyboardEvent): void {
  if (ev instanceof KeyboardEvent && ev.key !== 'Enter') return;
  const src = imageTarget(ev);
  if (!src) return;
  ev.preventDefault();
  window.open(src, '_blank', 'noopener,noreferrer');
}
