import { describe, expect, it } from 'vitest';
import { chatHref, href, parseRoute } from '../src/console/router';

describe('console routes', () => {
  it('round-trips every route', () => {
    for (const r of [
      { name: 'home' },
      { name: 'live' },
      { name: 'sites' },
      { name: 'shortcuts' },
      { name: 'knowledge' },
      { name: 'auto-pounce' },
      { name: 'reports' },
      { name: 'chat', visitorId: 'v_1', conversationId: 'c/odd id' },
      { name: 'set-password', token: 'eyJvIjoib18xIn0.abc.d-e_f' },
    ] as const) {
      expect(parseRoute(href(r))).toEqual(r);
    }
  });

  it('falls back to home', () => {
    expect(parseRoute('')).toEqual({ name: 'home' });
    expect(parseRoute('#/nope')).toEqual({ name: 'home' });
    expect(parseRoute('#/chat/v_1')).toEqual({ name: 'home' });
    expect(parseRoute('#/set-password')).toEqual({ name: 'home' });
  });

  it('builds chat links', () => {
    expect(chatHref('v_1', 'c_2')).toBe('#/chat/v_1/c_2');
  });
});
