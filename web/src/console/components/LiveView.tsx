/** Live View: who is on the site right now, where, and for how long. */
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { formatDuration } from '../../shared/format';
import { useNow } from '../../shared/hooks';
import type { VisitorPresence } from '../../shared/protocol';
import type { ConsoleClient } from '../client';
import { chatHref } from '../router';
import { visitorLabel, type ConsoleState } from '../state';
import { PounceButton, PounceComposer } from './Pounce';
import { Avatar } from './ui';

function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.host + (u.pathname === '/' ? '' : u.pathname);
  } catch {
    return url;
  }
}

export function LiveView({ s, client }: { s: ConsoleState; client: ConsoleClient }) {
  const now = useNow(1000);
  const [pouncing, setPouncing] = useState<string | null>(null);
  const visitors = Object.values(s.visitors).sort((a, b) => (a.session_started_at ?? '').localeCompare(b.session_started_at ?? ''));
  const label = (v: VisitorPresence): string => visitorLabel({ ...s.cards[v.id], ...v }, v.id);
  return (
    <section class="panel" data-testid="live-view" aria-labelledby="live-title">
      <div class="panel-head">
        <div>
          <h2 id="live-title" class="panel-title">Visitors on your site</h2>
          <p class="panel-sub">Updates live as people browse.</p>
        </div>
        <span class="live-pill">
          <span class="live-dot" aria-hidden="true" /> {visitors.length} online
        </span>
      </div>
      {visitors.length === 0 ? (
        <div class="empty">
          <p class="empty-title">Nobody is on the site right now</p>
          <p>Visitors appear here the moment they open a page with your messenger.</p>
        </div>
      ) : (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Visitor</th>
                <th scope="col">Current page</th>
                <th scope="col" class="num">Time on site</th>
                <th scope="col" class="num">Pages</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {visitors.map((v) => {
                const name = label(v);
                const started = v.session_started_at ? Date.parse(v.session_started_at) : NaN;
                const open = pouncing === v.id && !v.conversation_id;
                return (
                  <Fragment key={v.id}>
                    <tr
                      data-testid="visitor-row"
                      data-visitor-id={v.id}
                      class={`clickable${open ? ' is-pouncing' : ''}${s.panelVisitor === v.id ? ' is-selected' : ''}`}
                      onClick={(e) => {
                        // The row opens Visitor 360; its links and buttons do their own thing.
                        if (!(e.target as Element).closest('a, button, input, textarea')) client.dispatch({ type: 'open_visitor', visitorId: v.id });
                      }}
                    >
                      <td>
                        <div class="who">
                          <Avatar name={name} tone="visitor" size={30} />
                          <div>
                            <button type="button" class="link-button who-name" onClick={() => client.dispatch({ type: 'open_visitor', visitorId: v.id })} data-testid="open-visitor">
                              {name}
                            </button>
                            <div class="who-sub">{[v.company, v.email].filter(Boolean).join(' · ') || 'Anonymous'}</div>
                          </div>
                        </div>
                      </td>
                      <td class="page-cell">
                        {v.current_page ? (
                          <>
                            <div class="page-title-cell">{v.current_page.title || 'Untitled page'}</div>
                            <a class="page-url" href={v.current_page.url} target="_blank" rel="noopener noreferrer">
                              {pathOf(v.current_page.url)}
                            </a>
                          </>
                        ) : (
                          <span class="muted">—</span>
                        )}
                      </td>
                      <td class="num mono" data-testid="time-on-site">
                        {Number.isNaN(started) ? '—' : formatDuration(now - started)}
                      </td>
                      <td class="num">{v.pages_viewed}</td>
                      <td>
                        {v.conversation_id ? (
                          <a class="pill pill-brand" href={chatHref(v.id, v.conversation_id)} data-testid="in-conversation">
                            In conversation
                          </a>
                        ) : (
                          <span class="pill">Browsing</span>
                        )}
                      </td>
                      <td class="num">
                        {v.conversation_id ? null : (
                          <PounceButton open={open} disabled={s.connection !== 'online'} onToggle={() => setPouncing(open ? null : v.id)} />
                        )}
                      </td>
                    </tr>
                    {open ? (
                      <tr class="pounce-row">
                        <td colSpan={6}>
                          <PounceComposer client={client} visitorId={v.id} name={name} online={v.online} onClose={() => setPouncing(null)} />
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
