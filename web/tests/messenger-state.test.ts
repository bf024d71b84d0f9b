import { describe, expect, it } from 'vitest';
import { initialState, ownerRep, readUpdates, reduce, seenSeq, unreadCount, type MessengerAction, type MessengerState } from '../src/messenger/state';
import type { MessengerServerFrame } from '../src/shared/protocol';
import { ada, msg, vconv } from './fixtures';

const frame = (f: MessengerServerFrame): MessengerAction => ({ type: 'frame', frame: f });
const run = (actions: MessengerAction[], s: MessengerState = initialState()): MessengerState => actions.reduce(reduce, s);
const welcome = (conversation: ReturnType<typeof vconv> | null = null): MessengerAction =>
  frame({ type: 'welcome', v: 1, visitor_id: 'v_1', visitor_token: 't', org: { name: 'Acme' }, reps_available: true, conversation, strings_locale: 'en', connection_id: 'messenger-1' });
const seqs = (s: MessengerState, cid = 'c_1'): number[] => (s.log[cid] ?? []).map((m) => m.seq);

describe('messenger state', () => {
  it('an optimistic message stays pending until its ack, then becomes the stored message', () => {
    let s = run([welcome(), { type: 'send', id: 'm1', body: 'Hello' }]);
    expect(s.pending).toEqual([{ id: 'm1', body: 'Hello', status: 'sending' }]);
    const stored = msg(1, 'visitor', 'c_1', { client_id: 'm1', body: 'Hello' });
    s = reduce(s, frame({ type: 'ack', id: 'm1', conversation_id: 'c_1', seq: 1, message: stored }));
    expect(s.pending).toEqual([]);
    expect(seqs(s)).toEqual([1]);
    expect(s.currentId).toBe('c_1'); // the first message opened the conversation
  });

  it('our own message echoed as a frame before the ack is not shown twice', () => {
    const stored = msg(1, 'visitor', 'c_1', { client_id: 'm1' });
    const s = run([
      welcome(),
      { type: 'send', id: 'm1', body: 'Hello' },
      frame({ type: 'message', ...stored }),
      frame({ type: 'ack', id: 'm1', conversation_id: 'c_1', seq: 1, message: stored }),
    ]);
    expect(s.pending).toEqual([]);
    expect(seqs(s)).toEqual([1]);
  });

  it('a replay after reconnect merges with live messages without loss or duplicates', () => {
    const s = run([
      welcome(vconv('c_1')),
      { type: 'resuming' },
      frame({ type: 'message', ...msg(1, 'rep') }),
      frame({ type: 'message', ...msg(3, 'rep') }), // live, before the replay fills 2
      frame({ type: 'message', ...msg(1, 'rep') }),
      frame({ type: 'message', ...msg(2, 'visitor') }),
      frame({ type: 'message', ...msg(3, 'rep') }),
      frame({ type: 'resumed', conversations: { c_1: 3 } }),
    ]);
    expect(seqs(s)).toEqual([1, 2, 3]);
    expect(s.replaying).toBe(0);
  });

  it('counts outstanding replays (resume in hello, then one more for a new conversation)', () => {
    let s = run([{ type: 'resuming' }, welcome(vconv('c_2')), { type: 'resuming' }]);
    expect(s.replaying).toBe(2);
    s = reduce(s, frame({ type: 'resumed', conversations: {} }));
    expect(s.replaying).toBe(1);
    s = reduce(s, frame({ type: 'resumed', conversations: {} }));
    expect(s.replaying).toBe(0);
    expect(reduce({ ...s, replaying: 3 }, { type: 'connection', state: 'connecting' }).replaying).toBe(0);
  });

  it('a failed send can be retried with the same id', () => {
    let s = run([welcome(), { type: 'send', id: 'm1', body: 'x' }, frame({ type: 'error', id: 'm1', code: 'rate_limited', message: 'slow' })]);
    expect(s.pending[0]).toMatchObject({ status: 'failed', error: 'rate_limited' });
    s = reduce(s, { type: 'retry', id: 'm1' });
    expect(s.pending[0]).toEqual({ id: 'm1', body: 'x', status: 'sending' });
  });

  it('shows the owner once a rep joins', () => {
    const s = run([welcome(vconv('c_1')), frame({ type: 'conversation', conversation: vconv('c_1', { status: 'active', owner: ada }) })]);
    expect(ownerRep(s)).toEqual(ada);
  });

  it('accepts the nested conversation frame the server sends', () => {
    const s = run([welcome(vconv('c_1')), frame({ type: 'conversation', conversation: vconv('c_1', { status: 'active', owner: ada, rep_read_seq: 2 }) })]);
    expect(ownerRep(s)).toEqual(ada);
    expect(s.repRead).toEqual({ c_1: 2 });
  });

  it('"Seen" appears when the rep has read the visitor’s last message', () => {
    let s = run([welcome(vconv('c_1')), frame({ type: 'message', ...msg(1, 'visitor') }), frame({ type: 'message', ...msg(2, 'rep') }), frame({ type: 'message', ...msg(3, 'visitor') })]);
    expect(seenSeq(s)).toBe(0);
    s = reduce(s, frame({ type: 'read', conversation_id: 'c_1', seq: 2, by: 'rep' }));
    expect(seenSeq(s)).toBe(0);
    s = reduce(s, frame({ type: 'read', conversation_id: 'c_1', seq: 3, by: 'rep' }));
    expect(seenSeq(s)).toBe(3);
  });

  it('counts unread rep, bot and system messages, not the visitor’s own', () => {
    let s = run([welcome(vconv('c_1')), frame({ type: 'message', ...msg(1, 'visitor') }), frame({ type: 'message', ...msg(2, 'rep') }), frame({ type: 'message', ...msg(3, 'bot') })]);
    expect(unreadCount(s)).toBe(2);
    expect(readUpdates(s)).toEqual([{ conversationId: 'c_1', seq: 3 }]);
    s = reduce(s, { type: 'read', conversationId: 'c_1', seq: 3 });
    expect(unreadCount(s)).toBe(0);
    expect(readUpdates(s)).toEqual([]);
  });

  it('away: system message, email form, then thanks on ack', () => {
    const away = msg(2, 'system', 'c_1', { body: 'Leave your email' });
    let s = run([welcome(vconv('c_1')), frame({ type: 'away', conversation_id: 'c_1', message: away })]);
    expect(s.away).toEqual({ conversationId: 'c_1', status: 'form' });
    expect(seqs(s)).toEqual([2]);
    s = reduce(s, { type: 'away_submit', id: 'e1', email: 'ann@example.com' });
    expect(s.away?.status).toBe('sending');
    s = reduce(s, frame({ type: 'ack', id: 'e1' }));
    expect(s.away).toMatchObject({ status: 'sent', email: 'ann@example.com' });
    // The same away again (e.g. replayed) does not bring the form back.
    s = reduce(s, frame({ type: 'away', conversation_id: 'c_1', message: away }));
    expect(s.away?.status).toBe('sent');
  });

  it('a rep’s typing shows until they stop or send', () => {
    let s = run([welcome(vconv('c_1')), frame({ type: 'typing', conversation_id: 'c_1', author: ada, typing: true })]);
    expect(s.typing).toEqual(ada);
    s = reduce(s, frame({ type: 'message', ...msg(1, 'rep') }));
    expect(s.typing).toBeNull();
  });

  it('a new conversation (a rep’s pounce) becomes the current one after a closed one', () => {
    const s = run([
      welcome(vconv('c_1')),
      frame({ type: 'conversation', conversation: vconv('c_1', { status: 'closed' }) }),
      frame({ type: 'message', ...msg(1, 'rep', 'c_2') }),
    ]);
    expect(s.currentId).toBe('c_2');
    expect(s.order).toEqual(['c_1', 'c_2']);
  });

  it('keeps the "now chatting with" line of a transfer and ignores other events', () => {
    const e = { conversation_id: 'c_1', created_at: '2026-11-24T14:00:00Z', actor: null };
    const s = run([
      welcome(vconv('c_1')),
      frame({ type: 'event', ...e, seq: 2, event: { kind: 'closed' } }),
      frame({ type: 'event', ...e, seq: 3, event: { kind: 'now_chatting_with', rep: ada } }),
    ]);
    expect((s.lines['c_1'] ?? []).map((x) => x.seq)).toEqual([3]);
  });
});
