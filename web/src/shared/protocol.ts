/** Wire types of Pounce real-time protocol v1 (docs/protocol.md), shared by messenger and console. */

export type AuthorKind = 'visitor' | 'rep' | 'bot' | 'system';

export interface Author {
  kind: AuthorKind;
  id: string | null;
  name: string | null;
  avatar_url: string | null;
}

export interface Message {
  conversation_id: string;
  seq: number;
  /** The `id` of the client frame that created the message (null for server-made ones). */
  client_id: string | null;
  author: Author;
  body: string;
  /** Server-rendered, sanitised HTML: the only thing ever inserted as markup. */
  html: string;
  created_at: string;
  /** Rep-only extras (e.g. `auto_pounce: true`); never sent to visitors. */
  meta?: Record<string, unknown>;
}

export interface Rep {
  id: string;
  name: string;
  first_name: string;
  avatar_url: string | null;
}

export type ConversationStatus = 'open' | 'active' | 'closed';

export interface Conversation {
  id: string;
  visitor_id: string;
  status: ConversationStatus;
  owner: Rep | null;
  source: 'inbound' | 'pounce' | 'auto_pounce';
  last_seq: number;
  created_at: string;
  /** How far the owner rep has read (sent to visitors). */
  rep_read_seq?: number | null;
  /** How far the visitor has read (sent to reps). */
  visitor_read_seq?: number | null;
  /** Rep-only: how an auto pounce ended (`replied`, `missed_response`, `spam`, `no_response_needed`). */
  outcome?: string | null;
}

export interface PageView {
  url: string;
  title: string;
  referrer?: string | null;
}

export interface RepPresence {
  id: string;
  name: string;
  role?: string;
  availability: Availability;
  online: boolean;
  /** The rep's *Enable auto pounce*. */
  auto_pounce?: boolean;
}

export type Availability = 'available' | 'away';

export interface VisitorPresence {
  id: string;
  name: string | null;
  email: string | null;
  company: string | null;
  online: boolean;
  current_page: PageView | null;
  first_seen_at: string;
  /** Null when the visitor is offline. */
  session_started_at: string | null;
  country?: string | null;
  pages_viewed: number;
  conversation_id: string | null;
}

export interface VisitorCard extends VisitorPresence {
  attributes: Record<string, unknown>;
}

export interface Alert {
  conversation: Conversation;
  visitor: VisitorCard;
  /** The visitor's first message (null if it could not be loaded). */
  message: Message | null;
  routed_to: string[];
  /** Epoch ms: a visitor replied to my auto pounce and I must act before this. */
  deadline?: number | null;
}

export interface User {
  id: string;
  name: string;
  first_name: string;
  email: string;
  role: string;
  avatar_url: string | null;
  availability: Availability;
  /** *Enable auto pounce* (console only). */
  auto_pounce?: boolean;
}

export type OutcomeChoice = 'spam' | 'no_response_needed';

export type AutoPounceReason = 'available' | 'rep' | 'missed_response';

export interface ErrorFrame {
  type: 'error';
  id?: string;
  code: string;
  message: string;
  /** Set with code `already_taken`. */
  owner?: Rep;
  /** Set with `conflict` on a pounce: the conversation the visitor is already in. */
  conversation_id?: string;
}

export interface AckFrame {
  type: 'ack';
  id: string;
  conversation_id?: string;
  seq?: number;
  message?: Message;
  conversation?: Conversation;
  status?: Availability;
}

/**
 * A `conversation` frame: the server sends `{type, conversation: {...}}`; the flat
 * form (`{type, ...Conversation}`) is accepted too.
 */
export type ConversationFrame = { type: 'conversation' } & ({ conversation: Conversation } | Conversation);

export function conversationOf(frame: ConversationFrame): Conversation {
  if ('conversation' in frame && frame.conversation && typeof frame.conversation === 'object') return frame.conversation;
  const { type: _type, ...rest } = frame as { type: 'conversation' } & Conversation;
  return rest;
}

export type ResumedFrame = { type: 'resumed'; conversations: Record<string, number> };
export type PongFrame = { type: 'pong'; t?: number };

// ---- messenger ----------------------------------------------------------------

export type MessengerServerFrame =
  | {
      type: 'welcome';
      v: 1;
      visitor_id: string;
      visitor_token: string;
      org: { name: string };
      reps_available: boolean;
      conversation: Conversation | null;
      strings_locale: string;
    }
  | AckFrame
  | ({ type: 'message' } & Message)
  | { type: 'typing'; conversation_id: string; author: Rep; typing: boolean }
  | { type: 'read'; conversation_id: string; seq: number }
  | ConversationFrame
  | { type: 'away'; conversation_id: string; message: Message }
  | { type: 'reps_available'; available: boolean }
  | ResumedFrame
  | ErrorFrame
  | PongFrame;

export type MessengerClientFrame =
  | {
      type: 'hello';
      v: 1;
      visitor_token: string | null;
      locale?: string;
      page?: PageView;
      host_origin?: string;
      /** Highest seq seen per conversation: the replay follows `welcome`, then `resumed`. */
      resume?: Record<string, number>;
    }
  | ({ type: 'page_view'; id: string } & PageView)
  | { type: 'message'; id: string; body: string }
  | { type: 'typing'; typing: boolean }
  | { type: 'read'; conversation_id: string; seq: number }
  | { type: 'resume'; after: Record<string, number> }
  | { type: 'leave_email'; id: string; email: string }
  | { type: 'ping'; t?: number };

// ---- console ------------------------------------------------------------------

export type ConsoleServerFrame =
  | {
      type: 'welcome';
      v: 1;
      user: User;
      org: { id: string; name: string };
      reps: RepPresence[];
      visitors: VisitorPresence[];
      alerts: Alert[];
      conversations: Conversation[];
    }
  | ({ type: 'alert' } & Alert)
  | ({ type: 'message' } & Message)
  | { type: 'typing'; conversation_id: string; author: { kind: 'visitor' }; typing: boolean }
  | { type: 'read'; conversation_id: string; seq: number }
  | ConversationFrame
  | { type: 'presence'; rep: RepPresence }
  | { type: 'visitor'; visitor: VisitorPresence }
  | { type: 'auto_pounce'; enabled: boolean; reason: AutoPounceReason; conversation_id?: string | null }
  | AckFrame
  | ErrorFrame
  | ResumedFrame
  | PongFrame;

export type ConsoleClientFrame =
  | { type: 'hello'; v: 1; resume?: Record<string, number> }
  | { type: 'availability'; id: string; status: Availability }
  | { type: 'start_conversation'; id: string; conversation_id: string }
  | { type: 'message'; id: string; conversation_id: string; body: string }
  | { type: 'typing'; conversation_id: string; typing: boolean }
  | { type: 'read'; conversation_id: string; seq: number }
  | { type: 'resume'; after: Record<string, number> }
  | { type: 'close_conversation'; id: string; conversation_id: string }
  | { type: 'pounce'; id: string; visitor_id: string; body: string }
  | { type: 'set_outcome'; id: string; conversation_id: string; outcome: OutcomeChoice }
  | { type: 'ping'; t?: number };
