/** How an alert gets a rep's attention: a short chime (Web Audio) and a browser notification. */

let audio: AudioContext | null = null;

/** Browsers only let audio start after a user gesture: create the context on the first one. */
export function unlockAudioOnGesture(): void {
  const unlock = (): void => {
    try {
      audio ??= new AudioContext();
      if (audio.state === 'suspended') void audio.resume();
    } catch {
      audio = null;
    }
  };
  addEventListener('pointerdown', unlock, { once: true, capture: true });
  addEventListener('keydown', unlock, { once: true, capture: true });
}

/** Two soft rising tones, ~0.4 s. Silent when audio is unavailable or still locked. */
export function chime(): void {
  try {
    audio ??= new AudioContext();
    const ctx = audio;
    const t0 = ctx.currentTime;
    [660, 880].forEach((freq, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const start = t0 + i * 0.14;
      osc.type = 'sine';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.18, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.25);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.27);
    });
  } catch {
    /* no audio: the visual alert and the title still work */
  }
}

export type NotificationState = 'unsupported' | NotificationPermission;

export function notificationState(): NotificationState {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

/** Ask for permission (only ever from a click: browsers ignore or punish prompts on load). */
export async function requestNotifications(): Promise<NotificationState> {
  if (typeof Notification === 'undefined') return 'unsupported';
  return Notification.requestPermission();
}

export function showNotification(title: string, body: string, tag: string, onClick: () => void): void {
  if (notificationState() !== 'granted') return;
  try {
    const n = new Notification(title, { body: body.slice(0, 180), tag });
    n.onclick = () => {
      window.focus();
      onClick();
      n.close();
    };
  } catch {
    /* some mobile browsers only allow notifications from a service worker */
  }
}
