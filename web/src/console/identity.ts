/** Who a visitor is, as well as the console knows: the best identity for a heading, and
 * the other facts for the line under it. */
import type { PageView } from '../shared/protocol';

export interface KnownVisitor {
  id?: string;
  name?: string | null;
  email?: string | null;
  company?: string | null;
  /** ISO 3166 code, e.g. "FR". */
  country?: string | null;
  current_page?: Pick<PageView, 'url' | 'title'> | null;
}

let regions: Intl.DisplayNames | null | undefined;

/** "France" for "FR" (the code itself where the runtime has no region names). */
export function countryName(code: string): string {
  if (regions === undefined) {
    try {
      regions = new Intl.DisplayNames(['en'], { type: 'region' });
    } catch {
      regions = null;
    }
  }
  try {
    return regions?.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

const clean = (v: string | null | undefined): string => (v ?? '').trim();

/** The page's title, else its path (a host alone says little). */
export function pageLabel(page: KnownVisitor['current_page']): string {
  if (!page) return '';
  const title = clean(page.title);
  if (title) return title;
  try {
    const u = new URL(page.url);
    return u.pathname === '/' ? u.host : u.host + u.pathname;
  } catch {
    return clean(page.url);
  }
}

export type IdentitySource = 'name' | 'email' | 'company' | 'country' | 'page' | 'id';

/** The best identity known: name, else email, else company, else where they are
 * ("Visitor from France"), else the page they are on ("Visitor on Pricing"); only with
 * none of those, an id. `via` says which it is. */
export function identify(v: KnownVisitor | undefined, id = ''): { label: string; via: IdentitySource } {
  const name = clean(v?.name);
  if (name) return { label: name, via: 'name' };
  const email = clean(v?.email);
  if (email) return { label: email, via: 'email' };
  const company = clean(v?.company);
  if (company) return { label: `Visitor from ${company}`, via: 'company' };
  const country = clean(v?.country);
  if (country) return { label: `Visitor from ${countryName(country)}`, via: 'country' };
  const page = pageLabel(v?.current_page);
  if (page) return { label: `Visitor on ${page}`, via: 'page' };
  const anon = (v?.id ?? id).replace(/^v_/, '').slice(-6);
  return { label: anon ? `Visitor #${anon}` : 'Visitor', via: 'id' };
}

export const visitorIdentity = (v: KnownVisitor | undefined, id = ''): string => identify(v, id).label;

/** What else is known, for the line under the identity (never repeating it). */
export function visitorFacts(v: KnownVisitor | undefined): string {
  const heading = visitorIdentity(v);
  const facts = [clean(v?.email), clean(v?.company), v?.country ? countryName(clean(v.country)) : ''];
  return facts.filter((f) => f && !heading.includes(f)).join(' · ');
}
