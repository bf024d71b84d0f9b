/** Small building blocks of the console UI: avatars, icons, buttons. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { countdownUrgency, formatCountdown, initials } from '../../shared/format';
import { useNow } from '../../shared/hooks';
import { ApiError } from '../api';

export function Avatar(props: { name: string | null | undefined; url?: string | null; size?: number; tone?: 'brand' | 'visitor' }) {
  const size = props.size ?? 32;
  const style = { width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size * 0.38)}px` };
  if (props.url) return <img class="avatar" src={props.url} alt="" style={style} />;
  return (
    <span class={`avatar avatar-${props.tone ?? 'brand'}`} style={style} aria-hidden="true">
      {initials(props.name)}
    </span>
  );
}

const paths: Record<string, ComponentChildren> = {
  home: <path d="M3 10.5 12 3l9 7.5V20a1 1 0 0 1-1 1h-5v-6h-6v6H4a1 1 0 0 1-1-1z" />,
  live: (
    <>
      <circle cx="12" cy="12" r="3" />
      <path d="M5.6 5.6a9 9 0 0 0 0 12.8M18.4 5.6a9 9 0 0 1 0 12.8M8.5 8.5a5 5 0 0 0 0 7M15.5 8.5a5 5 0 0 1 0 7" />
    </>
  ),
  sites: (
    <>
      <circle cx="12" cy="12" r="9" />
      <path d="M3 12h18M12 3a14 14 0 0 1 0 18M12 3a14 14 0 0 0 0 18" />
    </>
  ),
  bell: <path d="M6 8a6 6 0 1 1 12 0c0 7 3 8 3 8H3s3-1 3-8M10 20a2 2 0 0 0 4 0" />,
  send: <path d="M12 19V5M5 12l7-7 7 7" />,
  chat: <path d="M4 4h16a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H9l-5 4v-4H4a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1z" />,
  copy: (
    <>
      <rect x="9" y="9" width="11" height="11" rx="2" />
      <path d="M5 15V5a1 1 0 0 1 1-1h10" />
    </>
  ),
  logout: <path d="M15 4h4a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1h-4M10 17l5-5-5-5M15 12H4" />,
  check: <path d="M5 12.5 10 17l9-10" />,
  x: <path d="M6 6l12 12M18 6 6 18" />,
  page: (
    <>
      <path d="M6 3h8l4 4v14H6z" />
      <path d="M14 3v4h4" />
    </>
  ),
  slash: (
    <>
      <rect x="3" y="4" width="18" height="16" rx="3" />
      <path d="M14 8l-4 8" />
    </>
  ),
  book: <path d="M4 5a2 2 0 0 1 2-2h13v16H6a2 2 0 0 0-2 2zM4 19V5M8 7h7" />,
  bolt: <path d="M13 2 4 14h7l-1 8 9-12h-7z" />,
  chart: <path d="M4 20V10M10 20V4M16 20v-7M21 20H3" />,
  sparkle: <path d="M12 3l1.8 5.2L19 10l-5.2 1.8L12 17l-1.8-5.2L5 10l5.2-1.8zM19 16l.8 2.2L22 19l-2.2.8L19 22l-.8-2.2L16 19l2.2-.8z" />,
  plus: <path d="M12 5v14M5 12h14" />,
  edit: <path d="M4 20h4L19 9l-4-4L4 16zM14 6l4 4" />,
  trash: <path d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13" />,
  upload: <path d="M12 16V4M6 10l6-6 6 6M4 20h16" />,
  clock: (
    <>
      <circle cx="12" cy="12" r="9" />
      <path d="M12 7v5l3 2" />
    </>
  ),
};

/** An on/off switch in the console's style (the availability toggle's look). */
export function Switch(props: {
  on: boolean;
  label: ComponentChildren;
  onChange: (on: boolean) => void;
  disabled?: boolean;
  testid?: string;
  tone?: 'green' | 'purple';
}) {
  return (
    <button
      type="button"
      role="switch"
      aria-checked={props.on}
      class={`switch switch-${props.tone ?? 'green'}${props.on ? ' is-on' : ''}`}
      disabled={props.disabled}
      onClick={() => props.onChange(!props.on)}
      data-testid={props.testid}
    >
      <span class="switch-track" aria-hidden="true">
        <span class="switch-thumb" />
      </span>
      <span class="switch-label">{props.label}</span>
    </button>
  );
}

/** "Deleted … · Undo": deletes happen at once, and can be taken back for a few seconds. */
export interface Undoable {
  label: string;
  undo: () => Promise<unknown>;
}

export function UndoToast({ item, onDone }: { item: Undoable | null; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!item) return;
    const t = setTimeout(onDone, 8000);
    return () => clearTimeout(t);
  }, [item]);
  if (!item) return null;
  return (
    <div class="toast" role="status" data-testid="undo-toast">
      <span>{item.label}</span>
      <button
        type="button"
        class="link-button"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void item.undo().finally(() => {
            setBusy(false);
            onDone();
          });
        }}
      >
        Undo
      </button>
    </div>
  );
}

/** An API failure as one sentence for a rep. */
export function problem(e: unknown, fallback: string): string {
  if (e instanceof ApiError) {
    if (e.status === 403) return e.detail && e.detail !== 'HTTP 403' ? `Not allowed: ${e.detail}` : 'Not allowed: your role may not do this.';
    if (e.status === 429) return 'Too many requests: wait a minute and try again.';
    return e.detail;
  }
  return fallback;
}

export function Icon(props: { name: keyof typeof paths; size?: number }) {
  const size = props.size ?? 18;
  return (
    <svg
      class="icon"
      viewBox="0 0 24 24"
      width={size}
      height={size}
      fill="none"
      stroke="currentColor"
      stroke-width="1.9"
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden="true"
    >
      {paths[props.name]}
    </svg>
  );
}

/** Time left to a deadline (epoch ms), ticking; red in the last 15 seconds. */
export function Countdown(props: { deadline: number; testid?: string; label?: string }) {
  const now = useNow(250);
  const left = props.deadline - now;
  const urgency = countdownUrgency(left);
  return (
    <span
      class={`countdown countdown-${urgency}`}
      role="timer"
      aria-label={`${props.label ?? 'Time left to reply'}: ${formatCountdown(left)}`}
      data-testid={props.testid ?? 'countdown'}
      data-deadline={props.deadline}
    >
      <Icon name="clock" size={14} />
      {urgency === 'over' ? 'Time is up' : formatCountdown(left)}
    </span>
  );
}
