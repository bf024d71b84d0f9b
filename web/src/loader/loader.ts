/**
 * Pounce embed loader. A site pastes
 *   <script src="https://POUNCE_HOST/messenger/loader.js" data-site-key="SK" async></script>
 * and gets a launcher button plus the messenger in a sandboxed iframe. The two talk
 * only by postMessage, always with an explicit target origin and an origin check.
 * No dependencies: this file must stay under 3 KB gzipped.
 */

interface PounceMessage {
  type: string;
  count?: unknown;
  token?: unknown;
  rid?: unknown;
  verified?: unknown;
  error?: unknown;
}

/** What `Pounce.identify` resolves to (it never rejects: a refusal is also logged). */
interface Identified {
  verified: boolean;
  error?: { code: string; message: string };
}

/** The page's `window.Pounce`; before the loader runs, a stub may queue calls in `q`. */
interface PounceApi {
  identify(identity: Record<string, unknown>): Promise<Identified>;
  q?: [string, Record<string, unknown>][];
}

(() => {
  const w = window as Window & { __pounce?: boolean };
  const script = (document.currentScript ??
    document.querySelector('script[data-site-key][src*="/messenger/loader.js"]')) as HTMLScriptElement | null;
  const siteKey = script?.getAttribute('data-site-key');
  if (!script || !siteKey || w.__pounce) return;
  w.__pounce = true;

  // The messenger lives wherever this script was served from.
  const pounceOrigin = new URL(script.src, location.href).origin;
  const q = (name: string, value: string): string => `${name}=${encodeURIComponent(value)}`;
  const refuse = (why: string): void =>
    console.warn(`Pounce: the chat messenger is not shown on this page: ${why}. See ${pounceOrigin}/app/#/sites`);

  // Ask first whether this page may show the messenger: a page it may not show on gets
  // no frame and no launcher, only this explanation for the site owner. A blocked
  // visitor (their token, or their address) gets nothing at all.
  let token = '';
  try {
    token = localStorage.getItem('pounce.visitor') ?? '';
  } catch {
    /* storage denied: asked without a token */
  }
  fetch(`${pounceOrigin}/messenger/embed?${q('site_key', siteKey)}&${q('host', location.origin)}&${q('visitor', token)}`)
    .then((r) => r.json() as Promise<{ allowed?: boolean; reason?: string }>)
    .then(
      (a) =>
        a.allowed
          ? start(siteKey, pounceOrigin, script.getAttribute('data-color'))
          : a.reason === 'blocked'
            ? undefined
            : refuse(
              a.reason === 'origin'
                ? `${location.origin} is not an allowed origin of site key "${siteKey}". An admin can add it under Sites, Allowed origins, in the Pounce console`
                : `the site key "${siteKey}" is unknown to ${pounceOrigin}. Copy the snippet from Sites in the Pounce console`,
            ),
      () => refuse(`${pounceOrigin} did not answer`),
    );
})();

function start(siteKey: string, pounceOrigin: string, color: string | null): void {
  const lang = navigator.language || 'en';
  const fr = /^fr\b/i.test(lang);
  const T = fr
    ? { open: 'Ouvrir le chat', close: 'Fermer le chat', title: 'Discuter avec nous', unread: ' non lus' }
    : { open: 'Open chat', close: 'Close chat', title: 'Chat with us', unread: ' unread' };

  const CHAT =
    '<svg viewBox="0 0 24 24" aria-hidden="true" fill="currentColor"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
  const CROSS =
    '<svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round"><path d="M6 6l12 12M18 6L6 18"/></svg>';

  const host = document.createElement('div');
  host.id = 'pounce-messenger';
  // Shadow DOM: the site's CSS cannot restyle the launcher, and ours cannot leak out.
  const root = host.attachShadow({ mode: 'open' });
  host.style.setProperty('--b', color || '#4f46e5');
  root.innerHTML =
    '<style>' +
    ':host{all:initial}' +
    '.p{position:fixed;right:20px;bottom:92px;width:380px;height:600px;max-height:calc(100vh - 112px);border-radius:16px;overflow:hidden;background:#fff;box-shadow:0 12px 48px rgba(15,23,42,.28);z-index:2147483000;opacity:0;visibility:hidden;transform:translateY(12px);transition:opacity .2s,transform .2s,visibility 0s .2s}' +
    '.p.o{opacity:1;visibility:visible;transform:none;transition:opacity .2s,transform .2s}' +
    'iframe{display:block;width:100%;height:100%;border:0}' +
    '.l{position:fixed;right:20px;bottom:20px;width:60px;height:60px;padding:0;border:0;border-radius:50%;background:var(--b);color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center;box-shadow:0 6px 20px rgba(15,23,42,.3);z-index:2147483001;transition:transform .15s}' +
    '.l.h{display:none}.l:hover{transform:scale(1.06)}.l:focus-visible{outline:3px solid var(--b);outline-offset:3px}' +
    '.l svg{width:28px;height:28px}' +
    '.u{position:absolute;top:-3px;right:-3px;min-width:20px;height:20px;padding:0 6px;box-sizing:border-box;border-radius:10px;background:#ef4444;color:#fff;font:600 12px/20px system-ui,sans-serif}' +
    '.u:empty{display:none}' +
    '@media (max-width:480px){.p{inset:0;width:100%;height:100%;max-height:none;border-radius:0}.p.o+.l{display:none}}' +
    '@media (prefers-reduced-motion:reduce){.p,.l{transition:none}}' +
    '</style>' +
    '<div class="p" aria-hidden="true"></div>' +
    '<button class="l h" type="button" data-testid="launcher" aria-expanded="false"></button>';
  const panel = root.querySelector('.p') as HTMLDivElement;
  const launcher = root.querySelector('.l') as HTMLButtonElement;

  const frame = document.createElement('iframe');
  frame.title = T.title;
  frame.src =
    `${pounceOrigin}/messenger/frame.html?site_key=${encodeURIComponent(siteKey)}` +
    `&host=${encodeURIComponent(location.origin)}&lang=${encodeURIComponent(lang)}`;
  // A page on Pounce's own origin (the demo site) gets the frame unsandboxed: a
  // same-origin frame that runs scripts can lift any sandbox, so one would only pretend
  // (browsers warn about exactly that). Elsewhere the frame is sandboxed to this list:
  if (pounceOrigin !== location.origin) {
    frame.setAttribute(
      'sandbox',
      [
        'allow-scripts', // the messenger is a script app
        // Keeps the frame its own (Pounce) origin, for its storage and its same-origin
        // WebSocket; the host page's origin differs, so it cannot reach into the page.
        'allow-same-origin',
        'allow-popups', // links and images in messages open in a new tab
        'allow-popups-to-escape-sandbox', // …as normal pages, not sandboxed ones
        'allow-forms', // the away form that collects an email
      ].join(' '),
    );
  }
  frame.setAttribute('allow', 'microphone; camera; autoplay'); // voice and video calls
  panel.appendChild(frame);

  let open = false;
  let unread = 0;

  const post = (msg: object): void => frame.contentWindow?.postMessage(msg, pounceOrigin);

  // Pounce.identify({token}) or ({user_id, user_hash, email, name, company}): handed to
  // the messenger once it runs; it resolves with what the server said.
  let ready = false;
  let rids = 0;
  const waiting: object[] = [];
  const calls = new Map<number, (r: Identified) => void>();
  const w = window as Window & { Pounce?: PounceApi };
  const queued = w.Pounce?.q ?? [];
  w.Pounce = {
    identify: (identity) =>
      new Promise<Identified>((resolve) => {
        const rid = ++rids;
        calls.set(rid, resolve);
        const msg = { type: 'pounce:identify', rid, identity };
        if (ready) post(msg);
        else waiting.push(msg);
      }),
  };
  for (const [name, arg] of queued) if (name === 'identify') void w.Pounce.identify(arg);

  // A first-party copy of the visitor token, for browsers that deny the (third-party)
  // iframe its own storage: without it every page load would be a new visitor.
  const store = (token?: string): string | null => {
    try {
      if (token) localStorage.setItem('pounce.visitor', token);
      return localStorage.getItem('pounce.visitor');
    } catch {
      return null;
    }
  };

  const paint = (): void => {
    launcher.innerHTML = (open ? CROSS : CHAT) + `<span class="u">${!open && unread ? (unread > 99 ? '99+' : unread) : ''}</span>`;
    launcher.setAttribute('aria-label', open ? T.close : T.open + (unread ? `, ${unread}${T.unread}` : ''));
    launcher.setAttribute('aria-expanded', String(open));
  };

  const setOpen = (next: boolean, focusLauncher: boolean): void => {
    if (next === open) return;
    open = next;
    panel.classList.toggle('o', open);
    panel.setAttribute('aria-hidden', String(!open));
    paint();
    post({ type: open ? 'pounce:opened' : 'pounce:closed' });
    if (open) frame.focus();
    else if (focusLauncher) launcher.focus();
  };

  // Page views: the first one now, then on every SPA navigation.
  let page = { url: location.href, title: document.title, referrer: document.referrer };
  const sendPage = (): void => post({ type: 'pounce:page', ...page });
  const navigated = (): void => {
    // Frameworks usually set the new title just after changing the URL.
    setTimeout(() => {
      if (location.href === page.url) return;
      page = { url: location.href, title: document.title, referrer: page.url };
      sendPage();
    }, 100);
  };
  // Tell the app who and where the visitor is, token first: it connects on the first page view.
  // Sent on the app's `pounce:ready` and on the frame's load event, whichever comes first wins.
  const greet = (): void => {
    post({ type: 'pounce:token', token: store() });
    sendPage();
    post({ type: open ? 'pounce:opened' : 'pounce:closed' });
  };
  for (const name of ['pushState', 'replaceState'] as const) {
    const original = history[name];
    history[name] = function (this: History, ...args: Parameters<History['pushState']>) {
      original.apply(this, args);
      navigated();
    };
  }
  addEventListener('popstate', navigated);
  addEventListener('hashchange', navigated);

  addEventListener('message', (e: MessageEvent) => {
    if (e.origin !== pounceOrigin || e.source !== frame.contentWindow) return;
    const d = e.data as PounceMessage | null;
    switch (d && d.type) {
      case 'pounce:ready': // the messenger runs: now the launcher may show
        launcher.classList.remove('h');
        greet();
        ready = true;
        waiting.splice(0).forEach(post);
        break;
      case 'pounce:identified': {
        const done = calls.get(Number(d!.rid));
        calls.delete(Number(d!.rid));
        done?.({ verified: d!.verified === true, ...(d!.error ? { error: d!.error as Identified['error'] } : {}) });
        break;
      }
      case 'pounce:unread':
        unread = Math.max(0, Number(d!.count) || 0);
        paint();
        break;
      case 'pounce:open': // e.g. a rep's proactive message
        setOpen(true, false);
        break;
      case 'pounce:close':
        setOpen(false, true);
        break;
      case 'pounce:token':
        if (typeof d!.token === 'string') store(d!.token);
        break;
      case 'pounce:unavailable': // site refused or visitor blocked: no launcher at all
        host.remove();
    }
  });
  frame.addEventListener('load', greet);

  launcher.addEventListener('click', () => setOpen(!open, false));
  addEventListener('keydown', (e: KeyboardEvent) => {
    if (open && e.key === 'Escape') setOpen(false, true);
  });

  paint();
  // Created eagerly but hidden: the socket connects, page views flow, and a rep can pop it open.
  const mount = (): void => void document.body.appendChild(host);
  if (document.body) mount();
  else addEventListener('DOMContentLoaded', mount);
}
