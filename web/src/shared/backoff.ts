/** Reconnect delays: exponential from 0.5 s, capped at 10 s, with jitter so clients do not stampede. */

export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 10_000;

/** Upper bound of the delay before reconnect attempt `attempt` (0-based): 1, 2, 4, 8, 10, 10… s. */
export function backoffCeiling(attempt: number): number {
  return Math.min(BACKOFF_MAX_MS, 2 * BACKOFF_MIN_MS * 2 ** Math.max(0, attempt));
}

/**
 * Delay before attempt `attempt`: uniform in [ceiling/2, ceiling], so always within
 * 0.5–10 s. Half the window is jitter (a restarting server, close code 1012, is not
 * hit by every client in the same millisecond); the other half keeps it growing.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = backoffCeiling(attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
