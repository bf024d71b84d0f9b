import { describe, expect, it } from 'vitest';
import { initialState, reduce, type ConsoleAction, type ConsoleState } from '../src/console/state';
import { claimsOf, companyRows, locationOf, MAX_PROFILES, provenanceLabel } from '../src/console/profile';
import { identifyFrame } from '../src/messenger/client';
import type { ConsoleServerFrame, VisitorPresence, VisitorProfile } from '../src/shared/protocol';
import { ada, conv } from './fixtures';

const frame = (f: ConsoleServerFrame): ConsoleAction => ({ type: 'frame', frame: f });
const run = (actions: ConsoleAction[], s: ConsoleState = initialState()): ConsoleState => actions.reduce(reduce, s);

const presence: VisitorPresence = {
  id: 'v_1', name: null, email: null, company: null, country: 'FR', online: true,
  current_page: { url: 'https://acme.test/pricing', title: 'Pricing', viewed_at: '2026-12-06T10:00:00.000Z' },
  first_seen_at: '2026-12-06T09:00:00.000Z', session_started_at: '2026-12-06T10:00:00.000Z', pages_viewed: 1, conversation_id: null,
};
const profile: VisitorProfile = {
  visitor: presence,
  identity: [
    { field: 'email', value: 'ann@acme.test', provenance: 'verified', updated_at: '2026-12-06T10:00:00.000Z' },
    { field: 'email', value: 'ann@home.test', provenance: 'visitor', source: 'away_message', updated_at: '2026-12-06T10:01:00.000Z' },
  ],
  contact: { user_id: 'u-42', visitor_ids: ['v_1'] },
  city: null,
  pages: [{ visitor_id: 'v_1', url: 'https://acme.test/pricing', title: 'Pricing', viewed_at: '2026-12-06T10:00:00.000Z' }],
  more_pages: false,
  conversations: [],
  owner: null,
  last_seen_at: '2026-12-06T10:00:00.000Z',
};

const loaded = (): ConsoleState =>
  run([{ type: 'request', id: 'r1', request: { kind: 'profile', visitorId: 'v_1' } }, frame({ type: 'visitor_profile', id: 'r1', profile })]);

describe('Visitor 360 state', () => {
  it('keeps the answer by visitor and settles the request', () => {
    const s = loaded();
    expect(s.profiles['v_1']).toEqual(profile);
    expect(s.requests['r1']).toBeUndefined();
    expect(claimsOf(s.profiles['v_1']!, 'email').map(provenanceLabel)).toEqual(['Verified', 'Typed by the visitor']);
  });

  it('the location line: the GeoIP claims first, else the stored country', () => {
    expect(locationOf(profile)).toEqual({ text: 'France', claim: undefined });
    const located: VisitorProfile = {
      ...profile,
      identity: [
        ...profile.identity,
        { field: 'country', value: 'DE', provenance: 'enriched', source: 'geoip', confidence: 0.8, updated_at: '2026-12-06T10:02:00.000Z' },
        { field: 'city', value: 'Berlin', provenance: 'enriched', source: 'geoip', confidence: 0.8, updated_at: '2026-12-06T10:02:00.000Z' },
      ],
    };
    const { text, claim } = locationOf(located);
    expect(text).toBe('Berlin, Germany');
    expect(claim && provenanceLabel(claim)).toBe('Enriched by geoip · High confidence');
  });
  it('the company section: the company always, what enrichment adds when known', () => {
    expect(companyRows(profile)).toEqual(['company']);
    const enriched: VisitorProfile = {
      ...profile,
      identity: [
        ...profile.identity,
        { field: 'company', value: 'Acme', provenance: 'enriched', source: 'data.test', confidence: 0.9, updated_at: '2026-12-06T10:02:00.000Z' },
        { field: 'industry', value: 'Software', provenance: 'enriched', source: 'data.test', confidence: 0.9, updated_at: '2026-12-06T10:02:00.000Z' },
        { field: 'company_size', value: '51-200', provenance: 'enriched', source: 'data.test', confidence: 0.5, updated_at: '2026-12-06T10:02:00.000Z' },
      ],
    };
    expect(companyRows(enriched)).toEqual(['company', 'industry', 'company_size']);
    expect(claimsOf(enriched, 'company_size').map(provenanceLabel)).toEqual(['Enriched by data.test · Medium confidence']);
  });

  it('a refusal is remembered for the panel', () => {
    const s = run([
      { type: 'request', id: 'r2', request: { kind: 'profile', visitorId: 'v_9' } },
      frame({ type: 'error', id: 'r2', code: 'not_found', message: 'No such visitor.' }),
    ]);
    expect(s.profileErrors['v_9']).toBe('not_found');
  });

  it('a page view goes on top of the list, once', () => {
    const page = { url: 'https://acme.test/docs', title: 'Docs', viewed_at: '2026-12-06T10:05:00.000Z' };
    const moved = frame({ type: 'visitor', visitor: { ...presence, current_page: page, pages_viewed: 2 } });
    const s = run([moved, moved], loaded());
    expect(s.profiles['v_1']!.pages.map((p) => p.title)).toEqual(['Docs', 'Pricing']);
    expect(s.profiles['v_1']!.last_seen_at).toBe(page.viewed_at);
  });

  it('identity changes replace the claims of every device of the contact', () => {
    const identity = [{ field: 'name' as const, value: 'Ann', provenance: 'verified' as const, updated_at: '2026-12-06T10:06:00.000Z' }];
    const s = run([frame({ type: 'visitor_identity', visitor_ids: ['v_1', 'v_2'], identity, contact: { user_id: 'u-42', visitor_ids: ['v_1', 'v_2'] } })], loaded());
    expect(s.profiles['v_1']!.identity).toEqual(identity);
    expect(s.profiles['v_2']).toBeUndefined();
  });

  it('a conversation frame updates the list and the owner', () => {
    const c = conv('c_1', { visitor_id: 'v_1', status: 'active', owner: { id: ada.id, name: ada.name, first_name: 'Ada', avatar_url: null } });
    const s = run([frame({ type: 'conversation', conversation: c })], loaded());
    expect(s.profiles['v_1']!.conversations.map((x) => x.id)).toEqual(['c_1']);
    expect(s.profiles['v_1']!.owner?.id).toBe(ada.id);
  });

  it('keeps a bounded number of profiles, the latest loaded', () => {
    let s = initialState();
    for (let i = 0; i < MAX_PROFILES + 5; i++) {
      s = reduce(s, frame({ type: 'visitor_profile', id: `r${i}`, profile: { ...profile, visitor: { ...presence, id: `v_${i}` } } }));
    }
    expect(Object.keys(s.profiles)).toHaveLength(MAX_PROFILES);
    expect(s.profiles[`v_${MAX_PROFILES + 4}`]).toBeDefined();
    expect(s.profiles['v_0']).toBeUndefined();
  });

  it('opening a visitor from a list', () => {
    const s = run([{ type: 'open_visitor', visitorId: 'v_1' }]);
    expect(s.panelVisitor).toBe('v_1');
    expect(run([{ type: 'open_visitor', visitorId: null }], s).panelVisitor).toBeNull();
  });
});

describe('Pounce.identify arguments', () => {
  it('become an identify frame', () => {
    const f = identifyFrame({ token: 'a.b.c', email: '' });
    expect(typeof f).toBe('object');
    expect(f).toMatchObject({ type: 'identify', token: 'a.b.c' });
    expect(f).not.toHaveProperty('email');
  });

  it('anything else is explained', () => {
    expect(identifyFrame(null)).toMatch(/pass an object/);
    expect(identifyFrame({ user: 'x' })).toMatch(/unknown field "user"/);
    expect(identifyFrame({ user_id: 42 })).toMatch(/must be a string/);
  });
});

describe('conversations in the console state', () => {
  it('a stale copy (read before a transfer) does not bring the old owner back', () => {
    const riley = { id: 'u_riley', name: 'Riley Rep', first_name: 'Riley', avatar_url: null };
    const moved = conv('c_1', { owner: riley, status: 'active', updated_at: '2026-12-06T10:00:02.000Z' });
    const stale = conv('c_1', { owner: ada, status: 'active', updated_at: '2026-12-06T10:00:01.000Z' });
    const s = run([frame({ type: 'conversation', conversation: moved }), { type: 'loaded', conversations: [stale] }]);
    expect(s.conversations['c_1']!.owner?.id).toBe('u_riley');
    const later = conv('c_1', { owner: ada, status: 'active', updated_at: '2026-12-06T10:00:03.000Z' });
    expect(run([{ type: 'loaded', conversations: [later] }], s).conversations['c_1']!.owner?.id).toBe(ada.id);
  });
});
