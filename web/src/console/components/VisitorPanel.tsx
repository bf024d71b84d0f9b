/** Visitor 360: who the visitor is (each field with where it came from), where from, what
 * they viewed, their conversations, who owns them, and whether they are here now. */
import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { formatDuration } from '../../shared/format';
import { useNow } from '../../shared/hooks';
import type { IdentityClaim, VisitorProfile } from '../../shared/protocol';
import type { ConsoleClient } from '../client';
import { claimsOf, companyRows, FIELDS, locationOf, provenanceLabel, type FieldName } from '../profile';
import { chatHref } from '../router';
import { visitorLabel, type ConsoleState } from '../state';
import { Avatar, Icon } from './ui';

/** Page views further apart than this start another visit. */
const VISIT_GAP_MS = 30 * 60_000;

const FIELD_LABEL: Record<FieldName, string> = {
  name: 'Name',
  email: 'Email',
  company: 'Company',
  company_domain: 'Domain',
  industry: 'Industry',
  company_size: 'Size',
  country: 'Country',
  city: 'City',
};
const STATUS: Record<string, string> = { open: 'Waiting', active: 'Active', closed: 'Closed' };

function when(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

function Provenance({ c }: { c: IdentityClaim }) {
  return (
    <span class={`prov prov-${c.provenance}`} data-testid="provenance" data-provenance={c.provenance} title={`Updated ${when(c.updated_at)}`}>
      {c.provenance === 'verified' ? <Icon name="check" size={12} /> : null}
      {provenanceLabel(c)}
    </span>
  );
}

function IdentityRow({ p, field }: { p: VisitorProfile; field: FieldName }) {
  const [shown, ...others] = claimsOf(p, field);
  return (
    <>
      <dt>{FIELD_LABEL[field]}</dt>
      <dd data-testid={`identity-${field}`} data-provenance={shown?.provenance ?? 'unknown'}>
        {shown ? (
          <>
            <span class="v360-value">{shown.value}</span> <Provenance c={shown} />
            {others.map((c) => (
              <div class="v360-other" key={c.provenance} data-testid="other-claim">
                also <span class="v360-value">{c.value}</span> <Provenance c={c} />
              </div>
            ))}
          </>
        ) : (
          <span class="muted">Unknown</span>
        )}
      </dd>
    </>
  );
}

function LocationRow({ p }: { p: VisitorProfile }) {
  const { text, claim } = locationOf(p);
  return (
    <dd data-testid="v360-location" data-provenance={claim?.provenance ?? 'unknown'}>
      {text ? (
        <>
          <span class="v360-value">{text}</span> {claim ? <Provenance c={claim} /> : null}
        </>
      ) : (
        <span class="muted">Unknown</span>
      )}
    </dd>
  );
}

function Pages({ p }: { p: VisitorProfile }) {
  if (p.pages.length === 0) return <p class="muted">No pages viewed yet.</p>;
  const rows: ComponentChildren[] = [];
  p.pages.forEach((page, i) => {
    const newer = p.pages[i - 1];
    if (newer && Date.parse(newer.viewed_at) - Date.parse(page.viewed_at) > VISIT_GAP_MS) {
      rows.push(
        <li class="v360-visit" key={`gap-${i}`}>
          Earlier visit
        </li>,
      );
    }
    rows.push(
      <li key={`${page.viewed_at}-${i}`} data-testid="viewed-page">
        <a href={page.url} target="_blank" rel="noopener noreferrer" title={page.url}>
          {page.title || pathOf(page.url)}
        </a>
        <span class="v360-sub">
          {pathOf(page.url)} · <time dateTime={page.viewed_at}>{when(page.viewed_at)}</time>
        </span>
      </li>,
    );
  });
  return (
    <ol class="v360-pages" data-testid="viewed-pages">
      {rows}
      {p.more_pages ? <li class="muted">Older pages not shown</li> : null}
    </ol>
  );
}

interface Props {
  s: ConsoleState;
  client: ConsoleClient;
  visitorId: string;
  /** The conversation on screen beside the panel, if any (not linked to itself). */
  conversationId?: string;
  onClose?: () => void;
  /** The owner drop-down (transfer) of the conversation beside the panel; else the owner's name. */
  ownerControl?: ComponentChildren;
}

export function VisitorPanel({ s, client, visitorId, conversationId, onClose, ownerControl }: Props) {
  const now = useNow(30_000);
  const online = s.connection === 'online';
  useEffect(() => {
    if (online) client.loadProfile(visitorId);
  }, [client, visitorId, online]);
  const p = s.profiles[visitorId];
  const error = s.profileErrors[visitorId];
  const presence = s.visitors[visitorId];
  const here = presence?.online ?? p?.visitor.online ?? false;
  const name = visitorLabel(p ? { ...p.visitor, ...(presence ?? {}) } : presence, visitorId);
  const lastSeen = p ? Date.parse(p.last_seen_at) : NaN;
  return (
    <aside class="v360" data-testid="visitor-panel" data-visitor-id={visitorId} aria-label={`Visitor 360: ${name}`}>
      <header class="v360-head">
        <Avatar name={name} tone="visitor" size={40} />
        <div class="v360-who">
          <h2 class="v360-name" data-testid="v360-name">
            {name}
          </h2>
          <p class="v360-sub" data-testid="v360-presence">
            {here ? (
              <>
                <span class="online-dot" aria-hidden="true" /> Online now
              </>
            ) : p && !Number.isNaN(lastSeen) ? (
              `Last seen ${formatDuration(Math.max(0, now - lastSeen))} ago`
            ) : (
              ''
            )}
          </p>
        </div>
        {onClose ? (
          <button type="button" class="icon-button" aria-label="Close Visitor 360" onClick={onClose} data-testid="close-visitor-panel">
            <Icon name="x" size={16} />
          </button>
        ) : null}
      </header>
      {ownerControl ? (
        <section class="v360-section" aria-label="Owner">
          <h3 class="v360-title">Owner</h3>
          <div class="v360-owner" data-testid="owner-slot">
            {ownerControl}
          </div>
        </section>
      ) : null}
      {error ? (
        <p class="form-error" role="alert">
          {error === 'not_found' ? 'This visitor is not one of your organisation’s.' : `Could not load the profile (${error.replace(/_/g, ' ')}).`}
        </p>
      ) : !p ? (
        <p class="muted v360-section">Loading…</p>
      ) : (
        <>
          {ownerControl ? null : (
            <section class="v360-section" aria-label="Owner">
              <h3 class="v360-title">Owner</h3>
              <div class="v360-owner" data-testid="owner-slot">
                {p.owner ? <span data-testid="v360-owner">{p.owner.name}</span> : <span class="muted">Nobody yet</span>}
              </div>
            </section>
          )}
          <section class="v360-section" aria-label="Identity">
            <h3 class="v360-title">Identity</h3>
            <dl class="v360-facts">
              {FIELDS.map((f) => (
                <IdentityRow key={f} p={p} field={f} />
              ))}
              {p.contact ? (
                <>
                  <dt>Signed-in user</dt>
                  <dd data-testid="v360-contact">
                    <code class="inline-code">{p.contact.user_id}</code>
                    {p.contact.visitor_ids.length > 1 ? <span class="v360-sub"> · {p.contact.visitor_ids.length} devices</span> : null}
                  </dd>
                </>
              ) : null}
              <dt>Location</dt>
              <LocationRow p={p} />
            </dl>
          </section>
          <section class="v360-section" aria-label="Company" data-testid="v360-company">
            <h3 class="v360-title">Company</h3>
            <dl class="v360-facts">
              {companyRows(p).map((f) => (
                <IdentityRow key={f} p={p} field={f} />
              ))}
            </dl>
          </section>
          <section class="v360-section" aria-label="Pages viewed">
            <h3 class="v360-title">Pages viewed</h3>
            <Pages p={p} />
          </section>
          <section class="v360-section" aria-label="Conversations">
            <h3 class="v360-title">Conversations</h3>
            {p.conversations.length === 0 ? (
              <p class="muted">None yet.</p>
            ) : (
              <ul class="v360-convos" data-testid="v360-conversations">
                {p.conversations.map((c) => (
                  <li key={c.id}>
                    {c.id === conversationId ? (
                      <span>This conversation</span>
                    ) : (
                      <a href={chatHref(c.visitor_id, c.id)} data-testid="past-conversation">
                        {when(c.created_at)}
                      </a>
                    )}
                    <span class={`pill pill-${c.status}`}>{STATUS[c.status] ?? c.status}</span>
                    {c.owner ? <span class="v360-sub"> · {c.owner.name}</span> : null}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </>
      )}
    </aside>
  );
}
