/** Messenger entry: read the loader's parameters, wire postMessage, render, connect. */
import { render } from 'preact';
import { App } from './App';
import { MessengerClient, readParams } from './client';
import { pickLanguage, translator } from './strings';
import './messenger.css';

const params = readParams(location.search);
const t = translator(params.lang);
document.documentElement.lang = pickLanguage(params.lang);
document.title = t('frameTitle');

const client: MessengerClient = new MessengerClient(params, () => client.post({ type: 'pounce:open' }));

const text = (v: unknown, max: number): string => (typeof v === 'string' ? v.slice(0, max) : '');

addEventListener('message', (e: MessageEvent) => {
  // Only the page that embeds us, as named by the loader, may talk to us.
  if (!params.hostOrigin || e.origin !== params.hostOrigin || e.source !== window.parent) return;
  const d = e.data as { type?: unknown; url?: unknown; title?: unknown; referrer?: unknown; token?: unknown; rid?: unknown; identity?: unknown } | null;
  if (!d || typeof d !== 'object') return;
  switch (d.type) {
    case 'pounce:page': {
      // Limits of the server's PageInfo model: an over-long field would fail the hello.
      const url = text(d.url, 2000);
      if (url) client.setPage({ url, title: text(d.title, 500), referrer: text(d.referrer, 2000) || null });
      break;
    }
    case 'pounce:token':
      if (typeof d.token === 'string' && d.token) client.setHostToken(d.token.slice(0, 1024));
      break;
    case 'pounce:identify':
      client.identify(d.identity, Number(d.rid) || 0);
      break;
    case 'pounce:opened':
      client.setPanelOpen(true);
      break;
    case 'pounce:closed':
      client.setPanelOpen(false);
  }
});

// Opened directly (no loader around us): the "panel" is the whole tab.
if (window.parent === window) client.setPanelOpen(true);

render(<App client={client} t={t} />, document.getElementById('app')!);
client.start();
client.post({ type: 'pounce:ready' });
