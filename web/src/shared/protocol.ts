/**
 * Wire types of Pounce real-time protocol v1 (docs/protocol.md), shared by messenger and
 * console. They are the types generated from the server's frame classes
 * (./generated/protocol.ts), under the names the apps use.
 */
import type * as G from './generated/protocol';

export type * from './generated/protocol';

export type AuthorKind = G.Author['kind'];
/** A message as reps see it; a visitor's messages are the same without `meta`. */
export type Message = G.MessageWithMeta;
export type Rep = G.RepCard;
export type ConversationStatus = G.Conversation['status'];
/** A conversation as reps see it. */
export type Conversation = G.Conversation;
/** A conversation as its visitor sees it: no routing, source or outcome. */
export type VisitorConversation = G.ConversationForVisitor;
export type PageView = G.PageInfo;
export type Availability = G.RepPresence['availability'];
/** A visitor's card: their presence with `attributes` (alerts carry it). */
export type VisitorCard = G.VisitorPresence;
export type User = G.WelcomeUser;
export type OutcomeChoice = G.SetOutcome['outcome'];
export type AutoPounceReason = G.AutoPounceSwitched['reason'];
export type AckFrame = G.RepAck | G.VisitorAck;
export type ResumedFrame = G.Resumed;
export type TransferCandidatesFrame = G.TransferCandidatesFrame;
export type PongFrame = G.Pong;
/** An event of a conversation's stream (closed, owner changed …), as reps see it. */
export type StreamEvent = G.EventToRep['event'];
/** An event in a conversation's log: its frame without the `type`. */
export type EventItem = Omit<G.EventToRep, 'type'>;
/** An event of the visitor's conversation as the messenger keeps it. */
export type VisitorEventItem = Omit<G.EventToVisitor, 'type'>;

export type MessengerServerFrame = G.Protocol['messenger_server'];
export type MessengerClientFrame = G.Protocol['messenger_client'];
export type ConsoleServerFrame = G.Protocol['console_server'];
export type ConsoleClientFrame = G.Protocol['console_client'];

/** The conversation a `conversation` frame carries. */
export function conversationOf<C>(frame: { conversation: C }): C {
  return frame.conversation;
}
