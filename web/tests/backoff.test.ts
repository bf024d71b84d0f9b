import { describe, expect, it } from 'vitest';
import { BACKOFF_MAX_MS, BACKOFF_MIN_MS, backoffCeiling, backoffDelay } from '../src/shared/backoff';

describe('reconnect backoff', () => {
  it('doubles from 1 s and caps at 10 s', () => {
    expect([0, 1, 2, 3, 4, 5, 20].map(backoffCeiling)).toEqual([1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });

  it('stays within 0.5 s … 10 s with any jitter', () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      for (const r of [0, 0.25, 0.5, 0.999999, 1]) {
        const d = backoffDelay(attempt, () => r);
        expect(d).toBeGreaterThanOrEqual(BACKOFF_MIN_MS);
        expect(d).toBeLessThanOrEqual(BACKOFF_MAX_MS);
      }
    }
  });

  it('starts at 0.5 s at the earliest and jitters over half the window', () => {
    expect(backoffDelay(0, () => 0)).toBe(500);
    expect(backoffDelay(0, () => 1)).toBe(1000);
    expect(backoffDelay(3, () => 0)).toBe(4000);
    expect(backoffDelay(3, () => 0.5)).toBe(6000);
  });

  it('never shrinks from one attempt to the next at equal jitter', () => {
    for (let a = 0; a < 10; a++) expect(backoffDelay(a + 1, () => 0.3)).toBeGreaterThanOrEqual(backoffDelay(a, () => 0.3));
  });
});
