import { describe, expect, it } from 'vitest';
import { identify, pageLabel, visitorFacts, visitorIdentity } from '../src/console/identity';

const page = { url: 'https://acme.test/pricing?plan=pro', title: 'Pricing — Acme' };

describe('visitorIdentity', () => {
  it('takes the name first', () => {
    expect(visitorIdentity({ id: 'v_abcdef123456', name: 'Dana Lee', email: 'dana@globex.test', company: 'Globex', country: 'FR', current_page: page })).toBe('Dana Lee');
  });
  it('then the email', () => {
    expect(visitorIdentity({ name: '  ', email: 'dana@globex.test', company: 'Globex', country: 'FR', current_page: page })).toBe('dana@globex.test');
  });
  it('then the company', () => {
    expect(visitorIdentity({ name: null, email: null, company: 'Globex', country: 'FR', current_page: page })).toBe('Visitor from Globex');
  });
  it('then where they are, by the country’s name', () => {
    expect(visitorIdentity({ country: 'fr', current_page: page })).toBe('Visitor from France');
    expect(visitorIdentity({ country: 'DE' })).toBe('Visitor from Germany');
  });
  it('then the page they are on', () => {
    expect(visitorIdentity({ id: 'v_abcdef123456', current_page: page })).toBe('Visitor on Pricing — Acme');
    expect(visitorIdentity({ current_page: { url: 'https://acme.test/enterprise', title: '' } })).toBe('Visitor on acme.test/enterprise');
  });
  it('falls back to the id only when nothing else is known', () => {
    expect(visitorIdentity({ id: 'v_abcdef123456' })).toBe('Visitor #123456');
    expect(visitorIdentity(undefined, 'v_zz9')).toBe('Visitor #zz9');
    expect(visitorIdentity(undefined)).toBe('Visitor');
  });
});

describe('identify', () => {
  it('says where the identity came from', () => {
    expect(identify({ email: 'a@b.test' }).via).toBe('email');
    expect(identify({ current_page: page })).toEqual({ label: 'Visitor on Pricing — Acme', via: 'page' });
    expect(identify({}, 'v_x1').via).toBe('id');
  });
});

describe('visitorFacts', () => {
  it('lists what the heading does not say', () => {
    expect(visitorFacts({ name: 'Dana', email: 'dana@globex.test', company: 'Globex', country: 'FR' })).toBe('dana@globex.test · Globex · France');
    expect(visitorFacts({ email: 'dana@globex.test', company: 'Globex' })).toBe('Globex');
    expect(visitorFacts({ company: 'Globex', country: 'FR' })).toBe('France');
    expect(visitorFacts({ country: 'FR' })).toBe('');
  });
});

describe('pageLabel', () => {
  it('prefers the title, else host and path', () => {
    expect(pageLabel(page)).toBe('Pricing — Acme');
    expect(pageLabel({ url: 'https://acme.test/', title: ' ' })).toBe('acme.test');
    expect(pageLabel({ url: 'not a url', title: '' })).toBe('not a url');
    expect(pageLabel(null)).toBe('');
  });
});
