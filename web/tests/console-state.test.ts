import { describe, expect, it } from 'vitest';
import {
  attentionCount,
  initialState,
  myConversations,
  reduce,
  replyDeadlines,
  seenSeq,
  streamOf,
  takenBy,
  unreadIn,
  visitorLabel,
  type ConsoleAction,
  type ConsoleState,
} from '../src/console/state';
import { eventText } from '../src/console/components/ConversationView';
import type { Alert, ConsoleServerFrame, VisitorCard } from '../src/shared/protocol';
import { ada, bob, conv, msg, presence } from './fixtures';

const frame = (f: ConsoleServerFrame): ConsoleAction => ({ type: 'frame', frame: f });
const run = (actions: ConsoleAction[], s: ConsoleState = initialState()): ConsoleState => actions.reduce(reduce, s);

const me = { id: ada.id, name: ada.name, first_name: 'Ada', email: 'ada@acme.test', role: 'rep' as const, avatar_url: null, availability: 'available' as const, auto_pounce: false };
const welcome = (extra: Partial<Extract<ConsoleServerFrame, { type: 'welcome' }>> = {}): ConsoleAction =>
  frame({ type: 'welcome', v: 1, user: me, org: { id: 'o_1', name: 'Acme' }, reps: [], visitors: [], alerts: [], conversations: [], connection_id: 'console-1', ...extra });

const card: VisitorCard = {
  id: 'v_1', name: null, email: null, company: 'Initech', online: true, current_page: { url: 'https://acme.test/pricing', title: 'Pricing' },
  first_seen_at: '2026-11-24T13:00:00Z', session_started_at: '2026-11-24T13:55:00Z', pages_viewed: 3, conversation_id: 'c_1', attributes: {}, country: 'France',
};
const alert: Alert = { conversation: conv('c_1', { last_seq: 1 }), visitor: card, message: msg(1, 'visitor'), routed_to: [ada.id, bob.id] };

describe('console state', () => {
  it('an alert brings the visitor card and first message', () => {
    const s = run([welcome(), frame({ type: 'alert', ...alert })]);
    expect(s.alerts).toHaveLength(1);
    expect(s.log['c_1']!.map((m) => m.seq)).toEqual([1]);
    expect(attentionCount(s)).toBe(1);
  });

  it('when another rep takes it, the card says so and stops counting', () => {
    const s = run([welcome(), frame({ type: 'alert', ...alert }), frame({ type: 'conversation', conversation: conv('c_1', { status: 'active', owner: bob }) })]);
    expect(s.alerts[0]!.takenBy).toEqual(bob);
    expect(attentionCount(s)).toBe(0);
    expect(takenBy(s, 'c_1')).toEqual(bob);
    expect(reduce(s, { type: 'drop_alert', conversationId: 'c_1' }).alerts).toEqual([]);
  });

  it('handles the nested conversation frame and an alert without its message', () => {
    const s = run([
      welcome(),
      frame({ type: 'alert', ...alert, message: null }),
      frame({ type: 'conversation', conversation: conv('c_1', { status: 'active', owner: bob }) }),
    ]);
    expect(s.log).toEqual({});
    expect(s.alerts[0]!.takenBy).toEqual(bob);
  });

  it('winning start_conversation makes it mine and clears the alert', () => {
    const s = run([
      welcome(),
      frame({ type: 'alert', ...alert }),
      { type: 'request', id: 'r1', request: { kind: 'start', conversationId: 'c_1' } },
      frame({ type: 'ack', id: 'r1', conversation: conv('c_1', { status: 'active', owner: ada }) }),
    ]);
    expect(s.alerts).toEqual([]);
    expect(myConversations(s).map((c) => c.id)).toEqual(['c_1']);
    expect(takenBy(s, 'c_1')).toBeNull();
  });

  it('losing start_conversation (already_taken) names the owner', () => {
    const s = run([
      welcome(),
      frame({ type: 'alert', ...alert }),
      { type: 'request', id: 'r1', request: { kind: 'start', conversationId: 'c_1' } },
      frame({ type: 'error', id: 'r1', code: 'already_taken', message: 'taken', owner: bob }),
    ]);
    expect(takenBy(s, 'c_1')).toEqual(bob);
    expect(s.alerts[0]!.takenBy).toEqual(bob);
    expect(s.requests).toEqual({});
  });

  it('my sent message is pending until acked; unread counts only visitor messages', () => {
    let s = run([welcome({ conversations: [conv('c_1', { status: 'active', owner: ada })] }), frame({ type: 'message', ...msg(1, 'visitor') })]);
    expect(unreadIn(s, 'c_1')).toBe(1);
    expect(attentionCount(s)).toBe(1);
    s = reduce(s, { type: 'read', conversationId: 'c_1', seq: 1 });
    expect(unreadIn(s, 'c_1')).toBe(0);
    s = reduce(s, { type: 'request', id: 'm1', request: { kind: 'message', conversationId: 'c_1' }, body: 'Hi!' });
    expect(s.pending['c_1']).toHaveLength(1);
    const mine = msg(2, 'rep', 'c_1', { client_id: 'm1' });
    s = reduce(s, frame({ type: 'ack', id: 'm1', conversation_id: 'c_1', seq: 2, message: mine }));
    expect(s.pending['c_1']).toEqual([]);
    expect(unreadIn(s, 'c_1')).toBe(0);
    expect(seenSeq(s, 'c_1')).toBe(0);
    s = reduce(s, frame({ type: 'read', conversation_id: 'c_1', seq: 2, by: 'visitor' }));
    expect(seenSeq(s, 'c_1')).toBe(2);
  });

  it('closing removes it from my conversations', () => {
    const s = run([
      welcome({ conversations: [conv('c_1', { status: 'active', owner: ada })] }),
      { type: 'request', id: 'x', request: { kind: 'close', conversationId: 'c_1' } },
      frame({ type: 'ack', id: 'x' }),
    ]);
    expect(myConversations(s)).toEqual([]);
    expect(s.conversations['c_1']!.status).toBe('closed');
  });

  it('availability follows acks and presence from my other tabs', () => {
    let s = run([welcome(), { type: 'request', id: 'a', request: { kind: 'availability', status: 'away' } }, frame({ type: 'ack', id: 'a', status: 'away' })]);
    expect(s.me?.availability).toBe('away');
    s = reduce(s, frame({ type: 'presence', rep: presence(ada) }));
    expect(s.me?.availability).toBe('available');
  });

  it('live view: visitors come, move and go', () => {
    const v = { ...card, current_page: { url: 'https://acme.test/', title: 'Home' } };
    let s = run([welcome({ visitors: [v] })]);
    expect(Object.keys(s.visitors)).toEqual(['v_1']);
    s = reduce(s, frame({ type: 'visitor', visitor: { ...v, pages_viewed: 4, current_page: { url: 'https://acme.test/blog', title: 'Blog' } } }));
    expect(s.visitors['v_1']!.current_page?.title).toBe('Blog');
    s = reduce(s, frame({ type: 'visitor', visitor: { ...v, online: false } }));
    expect(s.visitors).toEqual({});
    expect(s.departed['v_1']).toBeDefined();
  });

  it('labels anonymous visitors by country, else by a short id', () => {
    expect(visitorLabel({ id: 'v_1', name: 'Ann' })).toBe('Ann');
    expect(visitorLabel({ id: 'v_1', name: null, country: 'France' })).toBe('Visitor from France');
    expect(visitorLabel({ id: 'v_abcdef123', name: null })).toBe('Visitor #def123');
    expect(visitorLabel(undefined, 'v_42')).toBe('Visitor #42');
  });

  describe('pounce and auto pounce', () => {
    const mineAuto = conv('c_1', { status: 'active', owner: ada, source: 'auto_pounce', last_seq: 2 });

    it('a pounce ack brings my new conversation and its first message', () => {
      const first = msg(1, 'rep', 'c_9', { client_id: 'p1' });
      const s = run([
        welcome(),
        { type: 'request', id: 'p1', request: { kind: 'pounce', visitorId: 'v_1' } },
        frame({ type: 'ack', id: 'p1', conversation_id: 'c_9', seq: 1, message: first, conversation: conv('c_9', { status: 'active', owner: ada, source: 'pounce', last_seq: 1 }) }),
      ]);
      expect(s.requests).toEqual({});
      expect(myConversations(s).map((c) => c.id)).toEqual(['c_9']);
      expect(s.log['c_9']!.map((m) => m.seq)).toEqual([1]);
    });

    it('a reply alert with a deadline counts down until an outcome settles it', () => {
      const deadline = Date.UTC(2026, 10, 24, 14, 1);
      let s = run([welcome({ conversations: [mineAuto] }), frame({ type: 'alert', ...alert, conversation: { ...mineAuto, owner: null }, deadline })]);
      expect(replyDeadlines(s).map((a) => a.alert.deadline)).toEqual([deadline]);
      s = reduce(s, frame({ type: 'conversation', conversation: { ...mineAuto, outcome: 'replied' } }));
      expect(replyDeadlines(s)).toEqual([]);
    });

    it('a missed response hands the conversation back and drops my countdown', () => {
      const s = run([
        welcome({ conversations: [mineAuto] }),
        frame({ type: 'alert', ...alert, conversation: mineAuto, deadline: 1 }),
        frame({ type: 'conversation', conversation: { ...mineAuto, owner: null, status: 'open', outcome: 'missed_response' } }),
      ]);
      expect(s.alerts).toEqual([]);
    });

    it('marking spam closes it; a refusal is shown on the conversation', () => {
      let s = run([welcome({ conversations: [mineAuto] }), { type: 'request', id: 'o1', request: { kind: 'outcome', conversationId: 'c_1' } }]);
      const closed = reduce(s, frame({ type: 'ack', id: 'o1', conversation: { ...mineAuto, status: 'closed', outcome: 'spam' } }));
      expect(closed.conversations['c_1']!.outcome).toBe('spam');
      expect(myConversations(closed)).toEqual([]);
      s = reduce(s, frame({ type: 'error', id: 'o1', code: 'not_owner', message: 'no' }));
      expect(s.errors['c_1']).toBe('not_owner');
    });

    it('my switch follows auto_pounce frames and presence; a missed response leaves a notice', () => {
      let s = run([welcome({ user: { ...me, auto_pounce: true } })]);
      expect(s.me?.auto_pounce).toBe(true);
      s = reduce(s, frame({ type: 'auto_pounce', enabled: false, reason: 'missed_response', conversation_id: 'c_1' }));
      expect(s.me?.auto_pounce).toBe(false);
      expect(s.autoPounceNotice).toEqual({ enabled: false, reason: 'missed_response', conversationId: 'c_1' });
      s = reduce(s, frame({ type: 'presence', rep: presence(ada, { auto_pounce: true }) }));
      expect(s.me?.auto_pounce).toBe(true);
      s = reduce(s, frame({ type: 'auto_pounce', enabled: true, reason: 'rep', conversation_id: null }));
      expect(s.autoPounceNotice).toBeNull();
    });

    it('switching it off myself says nothing', () => {
      const s = run([welcome({ user: { ...me, auto_pounce: true } }), frame({ type: 'auto_pounce', enabled: false, reason: 'rep', conversation_id: null })]);
      expect(s.me?.auto_pounce).toBe(false);
      expect(s.autoPounceNotice).toBeNull();
    });
  });
});


describe('the conversation stream', () => {
  const event = (seq: number, e: Extract<ConsoleServerFrame, { type: 'event' }>['event'], actor = ada) =>
    frame({
      type: 'event',
      conversation_id: 'c_1',
      seq,
      created_at: '2026-12-06T12:00:00.000Z',
      actor: { kind: 'rep', id: actor.id, name: actor.name, avatar_url: null },
      event: e,
    });

  it('merges events between messages by seq, once each', () => {
    const s = run([
      welcome({ conversations: [conv('c_1', { status: 'active', owner: ada })] }),
      frame({ type: 'message', ...msg(1, 'visitor') }),
      event(3, { kind: 'closed' }),
      event(2, { kind: 'owner_changed', owner: ada }),
      event(2, { kind: 'owner_changed', owner: ada }),
      frame({ type: 'message', ...msg(4, 'rep') }),
    ]);
    expect(streamOf(s, 'c_1').map((it) => `${it.kind}:${it.item.seq}`)).toEqual(['message:1', 'event:2', 'event:3', 'message:4']);
    expect(s.conversations['c_1']!.last_seq).toBe(4);
  });

  it('says what an event was, naming the rep', () => {
    const s = run([welcome(), event(2, { kind: 'owner_changed', owner: bob }, bob), event(3, { kind: 'closed' }, bob), event(4, { kind: 'outcome_set', outcome: 'spam' })]);
    const texts = (s.events['c_1'] ?? []).map((e) => eventText(e, ada.id));
    expect(texts).toEqual(['Bob Noyce started the conversation', 'Bob Noyce closed the conversation', 'Outcome: Spam']);
  });

  it('a history load moves what is loaded; a catch-up after reconnecting does not', () => {
    let s = run([welcome(), { type: 'request', id: 'h1', request: { kind: 'history', conversationIds: ['c_1'] } }]);
    s = reduce(s, frame({ type: 'resumed', conversations: { c_1: 7 }, more: ['c_1'], id: 'h1' }));
    expect(s.loadedThrough['c_1']).toBe(7);
    s = reduce(s, frame({ type: 'resumed', conversations: { c_1: 40 } }));
    expect(s.loadedThrough['c_1']).toBe(7);
  });

  it('closing offers an undo until it is dismissed or used', () => {
    let s = run([welcome({ conversations: [conv('c_1', { status: 'active', owner: ada })] }), { type: 'request', id: 'x1', request: { kind: 'close', conversationId: 'c_1' } }]);
    s = reduce(s, frame({ type: 'ack', id: 'x1' }));
    expect(s.justClosed).toBe('c_1');
    s = reduce(s, { type: 'request', id: 'r1', request: { kind: 'reopen', conversationId: 'c_1' } });
    s = reduce(s, frame({ type: 'ack', id: 'r1', conversation: conv('c_1', { status: 'active', owner: ada }) }));
    expect(s.justClosed).toBeNull();
    expect(s.conversations['c_1']!.status).toBe('active');
  });

  it('a transfer away from me closes my window with a notice; a warm ask waits until it ends', () => {
    let s = run([welcome({ conversations: [conv('c_1', { status: 'active', owner: ada })] })]);
    s = reduce(s, frame({ type: 'conversation', conversation: conv('c_1', { status: 'active', owner: bob }) }));
    expect(s.transferNotice).toEqual({ conversationId: 'c_1', visitorId: 'v_1', to: bob, result: 'transferred' });
    expect(myConversations(s)).toEqual([]);
    expect(reduce(s, { type: 'dismiss_transfer_notice' }).transferNotice).toBeNull();

    const ask = { type: 'transfer_request' as const, conversation: conv('c_2', { status: 'active', owner: bob }), visitor: card, by: bob, note: 'VIP', deadline: 1 };
    s = run([welcome(), frame(ask)]);
    expect(Object.keys(s.transferAsks)).toEqual(['c_2']);
    s = reduce(s, frame({ type: 'transfer_result', conversation_id: 'c_2', to: ada, result: 'expired' }));
    expect(s.transferAsks).toEqual({});
    expect(s.transferNotice).toBeNull(); // I was the one asked: nothing to tell me
  });

  it("my warm transfer's waiting state comes from the server, again after a reconnect, until it ends", () => {
    const waiting = { type: 'transfer_waiting' as const, conversation_id: 'c_1', to: bob, by: ada, deadline: 5 };
    let s = run([welcome({ conversations: [conv('c_1', { status: 'active', owner: ada })] }), frame(waiting)]);
    expect(s.transferWaiting['c_1']?.to).toEqual(bob);
    // A new socket's welcome forgets it; the server sends what still waits right after.
    s = reduce(s, welcome({ conversations: [conv('c_1', { status: 'active', owner: ada })] }));
    expect(s.transferWaiting).toEqual({});
    s = reduce(s, frame(waiting));
    expect(s.transferWaiting['c_1']?.deadline).toBe(5);
    s = reduce(s, frame({ type: 'transfer_result', conversation_id: 'c_1', to: bob, result: 'expired' }));
    expect(s.transferWaiting).toEqual({});
    expect(s.transferNotice?.result).toBe('expired');
    expect(myConversations(s).map((c) => c.id)).toEqual(['c_1']);
  });

  it('a welcome drops a warm ask that ended while the console was away', () => {
    const ask = { type: 'transfer_request' as const, conversation: conv('c_2', { status: 'active', owner: bob }), visitor: card, by: bob, note: null, deadline: 1 };
    const s = run([welcome(), frame(ask), welcome()]);
    expect(s.transferAsks).toEqual({});
  });

  it('a sync after a bus outage drops warm asks; the server sends what still waits after it', () => {
    const ask = { type: 'transfer_request' as const, conversation: conv('c_2', { status: 'active', owner: bob }), visitor: card, by: bob, note: null, deadline: 1 };
    const sync = { type: 'sync' as const, reps: [], visitors: [], alerts: [], conversations: [] };
    const s = run([welcome(), frame(ask), frame(sync)]);
    expect(s.transferAsks).toEqual({});
    expect(run([welcome(), frame(ask), frame(sync), frame(ask)]).transferAsks['c_2']?.deadline).toBe(1);
  });

  it('the asker hears a decline', () => {
    let s = run([welcome({ conversations: [conv('c_1', { status: 'active', owner: ada })] })]);
    s = reduce(s, frame({ type: 'transfer_result', conversation_id: 'c_1', to: bob, result: 'declined' }));
    expect(s.transferNotice?.result).toBe('declined');
    expect(myConversations(s).map((c) => c.id)).toEqual(['c_1']);
  });

  it('a transfer event reads as who moved it to whom', () => {
    const e = { conversation_id: 'c_1', seq: 4, created_at: '2026-11-24T14:00:00Z', actor: { kind: 'rep' as const, id: ada.id, name: ada.name, avatar_url: null } };
    expect(eventText({ ...e, event: { kind: 'transferred', from_owner: ada, to: bob, warm: false } }, ada.id)).toBe('You transferred the conversation to Bob Noyce');
    expect(eventText({ ...e, event: { kind: 'transferred', from_owner: ada, to: bob, warm: true } }, bob.id)).toBe('Ada Lovelace transferred the conversation to you, who accepted');
  });
});
