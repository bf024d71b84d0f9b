"""Transfer: the owner (or an admin) hands a conversation to another rep, at once (cold)
or after that rep accepts (warm, with a handoff note only reps see and a durable
deadline).

Exactly one of concurrent transfers applies: the change is one conditional UPDATE on
the owner the caller saw (`store.chat.transfer_conversation`); a warm request is the
pending `transfer.expire` job, and accept, decline and the deadline each delete it
first, so exactly one of them decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import Actor, Audience, AuthorKind, ConversationStatus, Source
from pounce.domain.proactive import at_capacity
from pounce.domain.routing import VisitorContext, first_matching
from pounce.realtime.frames import server as sf
from pounce.realtime.frames import shapes as s
from pounce.realtime.frames import stream as ev
from pounce.services import events, routing, stream
from pounce.services.errors import ServiceError
from pounce.services.formatting import render_markdown
from pounce.services.lookups import conversation_or_404
from pounce.services.runtime import Runtime
from pounce.services.uow import UnitOfWork, unit_of_work
from pounce.store import accounts, chat, jobs
from pounce.store import proactive as proactive_store
from pounce.store.records import Conversation, User

EXPIRE_JOB = "transfer.expire"

Result = Literal["accepted", "declined", "expired", "void"]


def _key(conversation_id: str) -> str:
    return f"{EXPIRE_JOB}:{conversation_id}"


@dataclass(frozen=True, slots=True)
class Candidate:
    user: User
    open_conversations: int


@dataclass(frozen=True, slots=True)
class Candidates:
    """Who is available and routed for a conversation, with their load, and the org's
    `max_open_chats_per_rep` (0: no limit)."""

    reps: list[Candidate]
    limit: int

    def with_room(self) -> list[Candidate]:
        """The ones below the limit: who the owner drop-down offers."""
        return [c for c in self.reps if not at_capacity(c.open_conversations, self.limit)]


def _check_may_transfer(actor: Actor, conv: Conversation) -> None:
    if conv.status is ConversationStatus.CLOSED:
        raise ServiceError("closed", "This conversation is closed.")
    if conv.owner_id != actor.user_id and not actor.is_admin:
        raise ServiceError("not_owner", "Only the rep who owns this conversation can do that.")
    _check_auto_pounce_settled(conv)


def _check_auto_pounce_settled(conv: Conversation) -> None:
    # An auto pounce's nudge and reply countdown belong to the rep it greeted as: until its
    # outcome is decided (the rep replied, or marked it), it cannot change hands.
    if conv.source is Source.AUTO_POUNCE and conv.outcome is None:
        raise ServiceError(
            "auto_pounce_open",
            "Reply to this auto pounce (or mark it) before transferring it.",
        )


async def _candidates(rt: Runtime, conn: AsyncConnection, conv: Conversation) -> Candidates:
    """Reps who could take the conversation now: available with the console open, allowed
    by the routing rule that matches its visitor (every rep when none does), not its
    owner; with their open conversations and the org's limit on them (the one auto
    pounce rotation obeys), which `Candidates.with_room` applies."""
    users = await accounts.list_users(conn, org_id=conv.org_id)
    ready = set(await routing.available_reps(rt, conn, org_id=conv.org_id, users=users))
    if not ready:
        return Candidates([], 0)
    visitor = await chat.get_visitor(conn, org_id=conv.org_id, visitor_id=conv.visitor_id)
    info = await rt.presence.visitor_info(conv.org_id, conv.visitor_id) or {}
    page = info.get("current_page") or {}
    ctx = VisitorContext(
        url=str(page.get("url") or ""),
        attributes=visitor.attributes if visitor else {},
        company=visitor.company if visitor else None,
        country=visitor.country if visitor else None,
    )
    rule = first_matching(await routing.load_rules(conn, org_id=conv.org_id), ctx)
    allowed = set(rule.rep_ids) if rule is not None else {u.id for u in users}
    load = await proactive_store.open_chats(conn, org_id=conv.org_id)
    settings = await proactive_store.get_settings(conn, org_id=conv.org_id)
    return Candidates(
        [
            Candidate(u, load.get(u.id, 0))
            for u in users
            if u.id in ready and u.id in allowed and u.id != conv.owner_id
        ],
        settings.max_open_chats_per_rep,
    )


async def candidates(
    rt: Runtime, *, actor: Actor, conversation_id: str
) -> tuple[Conversation, User | None, Candidates]:
    """The owner drop-down: who could take this conversation now (`with_room()`)."""
    async with rt.db.read() as conn:
        conv = await conversation_or_404(conn, org_id=actor.org_id, conversation_id=conversation_id)
        _check_may_transfer(actor, conv)
        owner = await _user(conn, conv.org_id, conv.owner_id)
        return conv, owner, await _candidates(rt, conn, conv)


def candidate_shapes(found: list[Candidate]) -> list[s.TransferCandidate]:
    return [
        s.TransferCandidate(rep=_card(c.user), open_conversations=c.open_conversations)
        for c in found
    ]


def _card(user: User) -> s.RepCard:
    card = events.rep_card(user)
    assert card is not None
    return card


async def _user(conn: AsyncConnection, org_id: str, user_id: str | None) -> User | None:
    if user_id is None:
        return None
    return await accounts.get_user(conn, org_id=org_id, user_id=user_id)


def _owner_changed(owner: User | None) -> ServiceError:
    name = owner.name if owner else "nobody"
    return ServiceError(
        "owner_changed",
        f"The conversation changed hands meanwhile (its owner is now {name}); nothing was done.",
        owner=events.rep_card(owner),
    )


async def transfer(
    rt: Runtime,
    *,
    actor: Actor,
    conversation_id: str,
    owner_id: str | None,
    to: str,
    warm: bool = False,
    note: str | None = None,
) -> tuple[Conversation, User | None]:
    """Hand the conversation to `to` (cold), or ask them to take it (warm). Refused when
    its owner is no longer `owner_id`, when `to` cannot take it now, or when a warm
    request for it is pending. Returns the conversation and its owner after."""
    if note is not None and not warm:
        raise ServiceError("invalid", "A handoff note goes with a warm transfer only.")
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        conv = await conversation_or_404(conn, org_id=actor.org_id, conversation_id=conversation_id)
        if conv.owner_id != owner_id and (actor.is_admin or owner_id == actor.user_id):
            # It moved since the sender saw it (e.g. an admin handed it on a moment
            # earlier): say where it went rather than "not yours".
            raise _owner_changed(await _user(conn, conv.org_id, conv.owner_id))
        _check_may_transfer(actor, conv)
        if conv.owner_id != owner_id:
            raise _owner_changed(await _user(conn, conv.org_id, conv.owner_id))
        if to == conv.owner_id:
            raise ServiceError("invalid", "That rep already owns this conversation.")
        found = await _candidates(rt, conn, conv)
        chosen = next((c for c in found.reps if c.user.id == to), None)
        if chosen is None:
            raise ServiceError(
                "rep_unavailable",
                "That rep cannot take this conversation now (away, offline or not routed "
                "to it); nothing was done.",
            )
        if at_capacity(chosen.open_conversations, found.limit):
            raise ServiceError(
                "rep_at_capacity",
                f"That rep has {chosen.open_conversations} open conversations, the most "
                "a rep takes (max_open_chats_per_rep); nothing was done.",
            )
        pending = await jobs.find(conn, org_id=conv.org_id, dedupe_key=_key(conv.id))
        target = await _user(conn, conv.org_id, to)
        assert target is not None
        by = await _user(conn, conv.org_id, actor.user_id)
        if warm:
            if pending is not None:
                raise ServiceError(
                    "transfer_pending", "A transfer of this conversation awaits an answer."
                )
            await _ask(rt, uow, conv, by=by, target=target, note=note)
            owner = await _user(conn, conv.org_id, conv.owner_id)
            return conv, owner
        if pending is not None and await jobs.take(conn, job_id=pending.id):
            _tell(uow, pending.payload, "void")
        conv = await _apply(rt, uow, conv, from_owner=owner_id, target=target, by=by, warm=False)
        return conv, target


async def _ask(
    rt: Runtime,
    uow: UnitOfWork,
    conv: Conversation,
    *,
    by: User | None,
    target: User,
    note: str | None,
) -> None:
    """Store the handoff note (reps only), schedule the deadline and ask `target`."""
    conn = uow.conn
    if note is not None:
        item = await chat.append_message(
            conn,
            org_id=conv.org_id,
            conversation_id=conv.id,
            author_kind=AuthorKind.REP,
            author_id=by.id if by else None,
            client_id=None,
            body=note,
            html=render_markdown(note),
            audience=Audience.REPS,
        )
        stream.post_message(uow, conv, item, by)
        conv = await _reload(conn, conv)
    deadline = rt.clock() + rt.settings.transfer_accept_seconds
    await jobs.enqueue(
        conn,
        org_id=conv.org_id,
        kind=EXPIRE_JOB,
        payload={
            "conversation_id": conv.id,
            "from": conv.owner_id,
            "to": target.id,
            "by": by.id if by else None,
            "note": note,
        },
        run_at=deadline,
        dedupe_key=_key(conv.id),
    )
    alert = await stream.alert(rt, conn, conv)
    events.to_users(
        uow,
        [target.id],
        sf.TransferRequest(
            conversation=alert.conversation,
            visitor=alert.visitor,
            by=_card(by) if by else _card(target),
            note=note,
            deadline=int(deadline * 1000),
        ),
    )
    waiting = sf.TransferWaiting(
        conversation_id=conv.id,
        to=_card(target),
        by=events.rep_card(by),
        deadline=int(deadline * 1000),
    )
    events.to_users(uow, _askers({"by": by.id if by else None, "from": conv.owner_id}), waiting)


def _askers(payload: dict[str, object]) -> list[str]:
    """Who waits on a warm transfer's answer: the rep who asked and the owner."""
    return sorted({str(p) for p in (payload.get("by"), payload.get("from")) if p})


async def _apply(
    rt: Runtime,
    uow: UnitOfWork,
    conv: Conversation,
    *,
    from_owner: str | None,
    target: User,
    by: User | None,
    warm: bool,
) -> Conversation:
    """The conditional change of owner and its events: reps see `transferred`, the
    visitor "now chatting with", every console the conversation's new owner, and the
    new owner an alert."""
    conn = uow.conn
    _check_auto_pounce_settled(conv)
    if not await chat.transfer_conversation(
        conn,
        org_id=conv.org_id,
        conversation_id=conv.id,
        from_owner=from_owner,
        to_owner=target.id,
    ):
        fresh = await chat.get_conversation(conn, org_id=conv.org_id, conversation_id=conv.id)
        if fresh is not None and fresh.status is ConversationStatus.CLOSED:
            raise ServiceError("closed", "This conversation is closed.")
        raise _owner_changed(await _user(conn, conv.org_id, fresh.owner_id if fresh else None))
    previous = await _user(conn, conv.org_id, from_owner)
    # An admin handing on a chat nobody started: its unanswered timer has no more to do.
    await jobs.cancel(conn, org_id=conv.org_id, dedupe_key=f"{stream.UNANSWERED_JOB}:{conv.id}")
    conv = await _reload(conn, conv)
    event = ev.Transferred(from_owner=events.rep_card(previous), to=_card(target), warm=warm)
    await stream.append_event(uow, conv, event, actor=by)
    await stream.append_event(uow, conv, ev.NowChattingWith(rep=_card(target)))
    conv = await _reload(conn, conv)
    stream.post_conversation(uow, conv, target)
    alert = await stream.alert(rt, conn, conv)
    events.to_users(uow, [target.id], stream.alert_frame(alert))
    return conv


async def _reload(conn: AsyncConnection, conv: Conversation) -> Conversation:
    fresh = await chat.get_conversation(conn, org_id=conv.org_id, conversation_id=conv.id)
    assert fresh is not None
    return fresh


def _tell(
    uow: UnitOfWork, payload: dict[str, object], result: Result, to: User | None = None
) -> None:
    """Tell the asker, the owner and the asked rep how a warm transfer ended."""
    people = {str(p) for p in (payload.get("by"), payload.get("from"), payload.get("to")) if p}
    events.to_users(
        uow,
        sorted(people),
        sf.TransferResult(
            conversation_id=str(payload.get("conversation_id")),
            to=events.rep_card(to),
            result=result,
        ),
    )


async def reply(
    rt: Runtime, *, actor: Actor, conversation_id: str, accept: bool
) -> tuple[Conversation, User | None]:
    """The asked rep accepts (the conversation becomes theirs) or declines (it stays
    with its owner, who is told). Refused once the request expired or was answered."""
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        conv = await conversation_or_404(conn, org_id=actor.org_id, conversation_id=conversation_id)
        pending = await jobs.find(conn, org_id=actor.org_id, dedupe_key=_key(conv.id))
        if pending is None or pending.payload.get("to") != actor.user_id:
            raise ServiceError(
                "no_transfer", "No transfer of this conversation awaits your answer (it expired?)."
            )
        if not await jobs.take(conn, job_id=pending.id):
            raise ServiceError("no_transfer", "The transfer was answered or expired meanwhile.")
        me = await _user(conn, actor.org_id, actor.user_id)
        assert me is not None
        if not accept:
            _tell(uow, pending.payload, "declined", me)
            return conv, await _user(conn, conv.org_id, conv.owner_id)
        from_owner = pending.payload.get("from")
        by = await _user(conn, actor.org_id, str(pending.payload.get("by") or ""))
        try:
            conv = await _apply(
                rt,
                uow,
                conv,
                from_owner=str(from_owner) if from_owner else None,
                target=me,
                by=by,
                warm=True,
            )
        except ServiceError as exc:  # the UPDATE changed nothing: keep the taken request
            refused = exc
            _tell(uow, pending.payload, "void", me)
        else:
            _tell(uow, pending.payload, "accepted", me)
            return conv, me
    raise refused


async def pending_for(rt: Runtime, *, user: User) -> list[sf.TransferRequest | sf.TransferWaiting]:
    """The warm transfers this rep has to answer (`transfer_request`) or waits on as their
    asker or owner (`transfer_waiting`): sent again to a console that connects, so a
    reload loses neither the prompt nor the "asked …" state."""
    return (await pending_for_reps(rt, org_id=user.org_id, user_ids=[user.id]))[user.id]


async def pending_for_reps(
    rt: Runtime, *, org_id: str, user_ids: list[str]
) -> dict[str, list[sf.TransferRequest | sf.TransferWaiting]]:
    """`pending_for` for several reps of one org, read once (after a bus outage every
    console of the process gets them again with its `sync`)."""
    frames: dict[str, list[sf.TransferRequest | sf.TransferWaiting]] = {u: [] for u in user_ids}
    async with rt.db.read() as conn:
        wanted = set(user_ids)
        jobs_found = [
            job
            for job in await jobs.pending(conn, org_id=org_id, kind=EXPIRE_JOB)
            if wanted & {job.payload.get("to"), job.payload.get("by"), job.payload.get("from")}
        ]
        if not jobs_found:
            return frames
        convs = await chat.get_conversations(
            conn,
            org_id=org_id,
            conversation_ids=[str(job.payload.get("conversation_id")) for job in jobs_found],
        )
        users = {u.id: u for u in await accounts.list_users(conn, org_id=org_id)}
        for job in jobs_found:
            conv = convs.get(str(job.payload.get("conversation_id")))
            by = users.get(str(job.payload.get("by") or ""))
            to = users.get(str(job.payload.get("to") or ""))
            if conv is None or to is None:
                continue
            deadline = int(job.run_at * 1000)
            for user_id in wanted & set(_askers(job.payload)):
                frames[user_id].append(
                    sf.TransferWaiting(
                        conversation_id=conv.id,
                        to=_card(to),
                        by=events.rep_card(by),
                        deadline=deadline,
                    )
                )
            if to.id not in wanted or by is None:
                continue
            alert = await stream.alert(rt, conn, conv)
            note = job.payload.get("note")
            frames[to.id].append(
                sf.TransferRequest(
                    conversation=alert.conversation,
                    visitor=alert.visitor,
                    by=_card(by),
                    note=str(note) if note is not None else None,
                    deadline=deadline,
                )
            )
        return frames


async def handle_expire(rt: Runtime, uow: UnitOfWork, job: jobs.Job) -> None:
    """Nobody answered a warm transfer in time: it stays with its owner, who is told."""
    to = await _user(uow.conn, job.org_id, str(job.payload.get("to") or ""))
    _tell(uow, job.payload, "expired", to)
