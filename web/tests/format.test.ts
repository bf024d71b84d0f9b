import { describe, expect, it } from 'vitest';
import { formatDuration, initials, wsUrl } from '../src/shared/format';

describe('display helpers', () => {
  it('initials', () => {
    expect(initials('Ada Lovelace')).toBe('AL');
    expect(initials('Ada Augusta King Lovelace')).toBe('AL');
    expect(initials('ada')).toBe('A');
    expect(initials('Visitor #x7')).toBe('VX');
    expect(initials('  ')).toBe('?');
    expect(initials(null)).toBe('?');
  });

  it('durations on the live view', () => {
    expect(formatDuration(42_000)).toBe('42s');
    expect(formatDuration(185_000)).toBe('3m 05s');
    expect(formatDuration(3_720_000)).toBe('1h 02m');
    expect(formatDuration(-5)).toBe('0s');
  });

  it('socket URLs follow the page scheme', () => {
    expect(wsUrl('/ws/console', { protocol: 'https:', host: 'chat.acme.test' })).toBe('wss://chat.acme.test/ws/console');
    expect(wsUrl('/ws/console', { protocol: 'http:', host: 'localhost:8000' })).toBe('ws://localhost:8000/ws/console');
  });
});
