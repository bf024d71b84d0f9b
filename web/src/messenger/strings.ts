/** Every visitor-facing string of the messenger, in English and French. `{name}` marks a placeholder. */

const en = {
  frameTitle: 'Chat',
  closeChat: 'Close chat',
  replyTime: 'We typically reply in a few minutes',
  awayStatus: 'We’re away right now',
  repStatus: 'Online now',
  greetingTitle: 'Hi there 👋',
  greetingBody: 'Have a question? Send us a message and a member of our team will answer you here.',
  transcriptLabel: 'Conversation',
  you: 'You',
  composerLabel: 'Message',
  composerPlaceholder: 'Write a message…',
  send: 'Send',
  sending: 'Sending…',
  notSent: 'Not sent.',
  retry: 'Retry',
  seen: 'Seen',
  typing: '{name} is typing…',
  someoneTyping: 'Someone is typing…',
  repJoined: '{name} joined the conversation',
  nowChattingWith: 'You’re now chatting with {name}',
  conversationEnded: 'This conversation has ended. Send a message to start a new one.',
  newMessageFrom: 'New message from {name}',
  awayLabel: 'Your email address',
  awayPlaceholder: 'you@company.com',
  awaySubmit: 'Notify me',
  awayInvalid: 'Please enter a valid email address.',
  awayThanks: 'Thanks! We’ll follow up at {email}.',
  connecting: 'Connecting…',
  reconnecting: 'Connection lost. Reconnecting…',
  unavailable: 'Chat is unavailable right now.',
  errorRateLimited: 'You’re sending messages too quickly. Please wait a moment.',
  errorTooLong: 'That message is too long.',
  errorGeneric: 'Something went wrong. Please try again.',
  openImage: 'Open image in a new tab',
  poweredBy: 'Powered by Pounce',
};

export type StringKey = keyof typeof en;
export type Strings = Record<StringKey, string>;

const fr: Strings = {
  frameTitle: 'Messagerie',
  closeChat: 'Fermer la messagerie',
  replyTime: 'Nous répondons généralement en quelques minutes',
  awayStatus: 'Nous sommes absents pour le moment',
  repStatus: 'En ligne',
  greetingTitle: 'Bonjour 👋',
  greetingBody: 'Une question ? Envoyez-nous un message, un membre de notre équipe vous répondra ici.',
  transcriptLabel: 'Conversation',
  you: 'Vous',
  composerLabel: 'Message',
  composerPlaceholder: 'Écrivez un message…',
  send: 'Envoyer',
  sending: 'Envoi…',
  notSent: 'Non envoyé.',
  retry: 'Réessayer',
  seen: 'Vu',
  typing: '{name} écrit…',
  someoneTyping: 'Quelqu’un écrit…',
  repJoined: '{name} a rejoint la conversation',
  nowChattingWith: 'Vous discutez maintenant avec {name}',
  conversationEnded: 'Cette conversation est terminée. Envoyez un message pour en commencer une nouvelle.',
  newMessageFrom: 'Nouveau message de {name}',
  awayLabel: 'Votre adresse e-mail',
  awayPlaceholder: 'vous@entreprise.com',
  awaySubmit: 'Me prévenir',
  awayInvalid: 'Veuillez saisir une adresse e-mail valide.',
  awayThanks: 'Merci ! Nous vous répondrons à {email}.',
  connecting: 'Connexion…',
  reconnecting: 'Connexion perdue. Reconnexion…',
  unavailable: 'La messagerie est indisponible pour le moment.',
  errorRateLimited: 'Vous envoyez des messages trop vite. Patientez un instant.',
  errorTooLong: 'Ce message est trop long.',
  errorGeneric: 'Une erreur est survenue. Veuillez réessayer.',
  openImage: 'Ouvrir l’image dans un nouvel onglet',
  poweredBy: 'Propulsé par Pounce',
};

export const STRINGS: Readonly<Record<string, Strings>> = { en, fr };

/** Language of a BCP 47 tag we have strings for ("fr-CA" → "fr"), English otherwise. */
export function pickLanguage(tag: string | null | undefined): string {
  const base = (tag ?? '').toLowerCase().split(/[-_]/)[0] ?? '';
  return base in STRINGS ? base : 'en';
}

export type Translate = (key: StringKey, vars?: Record<string, string>) => string;

export function translator(lang: string): Translate {
  const table = STRINGS[pickLanguage(lang)] ?? en;
  return (key, vars) => table[key].replace(/\{(\w+)\}/g, (m, k: string) => vars?.[k] ?? m);
}
