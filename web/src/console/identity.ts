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

/** The best identity known: name, else email, else company, else where they are
 * ("Visitor from France"), else the page they are on ("Visitor on Pricing"); only with
 * none of those, an id. */
export function visitorIdentity(v: KnownVisitor | undefined, id = ''): string {
  const name = clean(v?.name);
  if (name) return name;
  const email = clean(v?.email);
  if (email) return email;
  const company = clean(v?.company);
  if (company) return `Visitor from ${company}`;
  const country = clean(v?.country);
  if (country) return `Visitor from ${countryName(country)}`;
  const page = pageLabel(v?.current_page);
  if (page) return `Visitor on ${page}`;
  const anon = (v?.id ?? id).replace(/^v_/, '').slice(-6);
  return anon ? `Visitor #${anon}` : 'Visitor';
}

/** What else is known, for the line under the identity (never repeating it). */
export function visitorFacts(v: KnownVisitor | undefined): string {
  const heading = visitorIdentity(v);
  const facts = [clean(v?.email), clean(v?.company), v?.country ? countryName(clean(v.country)) : ''];
  return facts.filter((f) => f && !heading.includes(f)).join(' · ');
}
