/** Visitor 360 in the console's state: profiles as loaded, kept live by the frames reps get. */
import { countryName } from './identity';
import type { Conversation, IdentityClaim, VisitorPresence, VisitorProfile, VisitorIdentity } from '../shared/protocol';

export type Profiles = Readonly<Record<string, VisitorProfile>>;

/** Page views kept per profile (the server sends at most 50; live ones are added on top). */
export const MAX_PAGES = 50;

/** Profiles kept in memory: the ones opened last (each one is fetched again when reopened). */
export const MAX_PROFILES = 30;

/** A profile as loaded, replacing its older copy; the least recently loaded go past MAX_PROFILES. */
export function keepProfile(profiles: Profiles, p: VisitorProfile): Profiles {
  const { [p.visitor.id]: _old, ...rest } = profiles;
  const ids = Object.keys(rest);
  const keep = ids.length >= MAX_PROFILES ? ids.slice(ids.length - MAX_PROFILES + 1) : ids;
  return { ...Object.fromEntries(keep.map((id) => [id, rest[id]!])), [p.visitor.id]: p };
}

/** A `visitor` frame: presence, identity columns and the page they just opened. */
export function profileSeesVisitor(profiles: Profiles, v: VisitorPresence): Profiles {
  const p = profiles[v.id];
  if (!p) return profiles;
  let pages = p.pages;
  const page = v.current_page;
  const top = pages[0];
  if (page?.viewed_at && (!top || (top.url !== page.url || top.viewed_at !== page.viewed_at)) && (!top || page.viewed_at > top.viewed_at)) {
    pages = [{ visitor_id: v.id, url: page.url, title: page.title, viewed_at: page.viewed_at }, ...pages].slice(0, MAX_PAGES);
  }
  const last_seen_at = page?.viewed_at && page.viewed_at > p.last_seen_at ? page.viewed_at : p.last_seen_at;
  return { ...profiles, [v.id]: { ...p, visitor: { ...p.visitor, ...v }, pages, last_seen_at } };
}

/** A `visitor_identity` frame: the claims now, for each visitor of the contact. */
export function profileSeesIdentity(profiles: Profiles, f: VisitorIdentity): Profiles {
  let next = profiles;
  for (const id of f.visitor_ids) {
    const p = next[id];
    if (p) next = { ...next, [id]: { ...p, identity: f.identity, contact: f.contact } };
  }
  return next;
}

/** A `conversation` frame: its row in the profile's list, and the owner now. */
export function profileSeesConversation(profiles: Profiles, c: Conversation): Profiles {
  const p = profiles[c.visitor_id];
  if (!p) return profiles;
  const row = {
    id: c.id,
    visitor_id: c.visitor_id,
    status: c.status,
    source: c.source,
    outcome: c.outcome,
    owner: c.owner,
    created_at: c.created_at,
    closed_at: c.closed_at,
    last_seq: c.last_seq,
  };
  const rest = p.conversations.filter((x) => x.id !== c.id);
  const conversations = [row, ...rest].sort((a, b) => b.created_at.localeCompare(a.created_at));
  const current = conversations.find((x) => x.status !== 'closed');
  return { ...profiles, [c.visitor_id]: { ...p, conversations, owner: current?.owner ?? null } };
}

export type FieldName = IdentityClaim['field'];
/** Who the person is (the Identity section). */
export const FIELDS: readonly FieldName[] = ['name', 'email'];
/** Their company (the Company section): the name, and what enrichment adds about it. */
export const COMPANY_FIELDS: readonly FieldName[] = ['company', 'company_domain', 'industry', 'company_size'];

/** The Company section's rows: the company always (shown as unknown), the rest when known. */
export function companyRows(p: VisitorProfile): FieldName[] {
  return COMPANY_FIELDS.filter((f) => f === 'company' || claimsOf(p, f).length > 0);
}

/** A field's claims, the shown one first (the server orders them best first). */
export function claimsOf(p: VisitorProfile, field: FieldName): IdentityClaim[] {
  return p.identity.filter((c) => c.field === field);
}

/** "Paris, France": the location claims (GeoIP) first, else the visitor's stored columns;
 * `claim` is the country's, for its provenance. */
export function locationOf(p: VisitorProfile): { text: string; claim: IdentityClaim | undefined } {
  const country = claimsOf(p, 'country')[0];
  const city = country ? claimsOf(p, 'city')[0]?.value : p.city;
  const code = country?.value ?? p.visitor.country ?? '';
  return { text: [city, code ? countryName(code) : ''].filter(Boolean).join(', '), claim: country };
}

export function provenanceLabel(c: IdentityClaim): string {
  switch (c.provenance) {
    case 'verified':
      return 'Verified';
    case 'crm':
      return 'From the CRM';
    case 'enriched': {
      const level = c.confidence == null ? '' : ` · ${confidenceLabel(c.confidence)} confidence`;
      return `Enriched${c.source ? ` by ${c.source}` : ''}${level}`;
    }
    case 'visitor':
      return c.source === 'away_message' ? 'Typed by the visitor' : 'Unverified';
  }
}

export function confidenceLabel(x: number): string {
  return x >= 0.9 ? 'Very high' : x >= 0.7 ? 'High' : x >= 0.4 ? 'Medium' : 'Low';
}
