/** Preact hooks shared by the apps. */
import { useEffect, useReducer, useState } from 'preact/hooks';

export interface Store<S> {
  readonly state: S;
  subscribe(fn: () => void): () => void;
}

/** Re-render on every change of an external store; returns its current state. */
export function useStore<S>(store: Store<S>): S {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => store.subscribe(() => bump(0)), [store]);
  return store.state;
}

/** The current time, refreshed every `ms` (for live durations). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
