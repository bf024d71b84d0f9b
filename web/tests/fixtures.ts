/** Builders of protocol objects for tests. */
import type { Author, Conversation, Message, Rep, RepPresence, VisitorConversation } from '../src/shared/protocol';

export const ada: Rep = { id: 'u_ada', name: 'Ada Lovelace', first_name: 'Ada', avatar_url: null };
export const bob: Rep = { id: 'u_bob', name: 'Bob Noyce', first_name: 'Bob', avatar_url: null };

const authors: Record<string, Author> = {
  visitor: { kind: 'visitor', id: 'v_1', name: null, avatar_url: null },
  rep: { kind: 'rep', id: ada.id, name: ada.name, avatar_url: null },
  bot: { kind: 'bot', id: null, name: 'Acme bot', avatar_url: null },
  system: { kind: 'system', id: null, name: null, avatar_url: null },
};

export function msg(seq: number, kind: Author['kind'] = 'visitor', cid = 'c_1', extra: Partial<Message> = {}): Message {
  return {
    conversation_id: cid,
    seq,
    client_id: null,
    author: authors[kind]!,
    body: `message ${seq}`,
    html: `<p>message ${seq}</p>`,
    created_at: new Date(Date.UTC(2026, 10, 24, 14, 0, seq)).toISOString(),
    ...extra,
  };
}

/** A conversation as reps see it. */
export function conv(id = 'c_1', extra: Partial<Conversation> = {}): Conversation {
  return {
    id,
    visitor_id: 'v_1',
    status: 'open',
    owner: null,
    source: 'inbound',
    outcome: null,
    routed_to: [],
    last_seq: 0,
    visitor_read_seq: 0,
    rep_read_seq: 0,
    created_at: '2026-11-24T14:00:00.000Z',
    updated_at: '2026-11-24T14:00:00.000Z',
    closed_at: null,
    ...extra,
  };
}

/** A conversation as its visitor sees it. */
export function vconv(id = 'c_1', extra: Partial<VisitorConversation> = {}): VisitorConversation {
  return {
    id,
    visitor_id: 'v_1',
    status: 'open',
    owner: null,
    last_seq: 0,
    rep_read_seq: 0,
    created_at: '2026-11-24T14:00:00.000Z',
    ...extra,
  };
}

/** A rep in the presence list. */
export function presence(rep: Rep, extra: Partial<RepPresence> = {}): RepPresence {
  return { ...rep, role: 'rep', availability: 'available', online: true, auto_pounce: false, ...extra };
}
