"""Leads never stranded: the Waiting list, alerts when a rep becomes available, and
answering a visitor by email.

A conversation waits while it is inbound, open and has no owner (nobody started it,
whether or not anyone was available when it came in). A rep who becomes available (the
`availability` frame, or a console connect while Available) is alerted to the waiting
conversations the routing rules allow them to take, in a fixed number of queries. A rep
answers a visitor who left an email by email: the reply is a rep message in the stream
(audience all) and an outbox row in the same transaction; the worker sends it through
the `Mailer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from html import escape

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import Actor, Audience, Availability
from pounce.domain.ownership import send_refusal
from pounce.domain.routing import VisitorContext, decide
from pounce.realtime.frames import shapes as s
from pounce.services import chat as chat_service
from pounce.services import events, stream
from pounce.services.errors import ServiceError, Undeliverable
from pounce.services.formatting import render_markdown
from pounce.services.lookups import conversation_or_404
from pounce.services.routing import load_rules
from pounce.services.runtime import Runtime
from pounce.services.transcripts import (
    check_address,
    compose,
    email_enabled,
    message_id,
    org_display_name,
)
from pounce.services.uow import unit_of_work
from pounce.store import accounts, chat
from pounce.store import outbox as outbox_store
from pounce.store.appender import is_resend
from pounce.store.errors import ClientIdReused
from pounce.store.records import Conversation, Message, User, Visitor

KIND = "email.reply"
WAITING_LIMIT = 200  # the most the Waiting list (and an availability alert burst) shows


@dataclass(frozen=True, slots=True)
class Waiting:
    conversation: Conversation
    visitor: Visitor
    question: Message | None
    online: bool


async def waiting(rt: Runtime, *, org_id: str, limit: int = WAITING_LIMIT) -> list[Waiting]:
    """The org's waiting conversations, oldest first, with visitor and first question
    (three queries whatever their number)."""
    online = await rt.presence.visitors_online(org_id)
    async with rt.db.read() as conn:
        convs = await chat.waiting_conversations(conn, org_id=org_id, limit=limit)
        visitors = await chat.get_visitors(
            conn, org_id=org_id, visitor_ids=[c.visitor_id for c in convs]
        )
        firsts = await chat.first_visitor_messages(
            conn, org_id=org_id, conversation_ids=[c.id for c in convs]
        )
    return [
        Waiting(c, visitors[c.visitor_id], firsts.get(c.id), c.visitor_id in online)
        for c in convs
        if c.visitor_id in visitors
    ]


async def routed_waiting(
    rt: Runtime,
    conn: AsyncConnection,
    *,
    org_id: str,
    users: Sequence[User],
    user_ids: Sequence[str],
) -> dict[str, list[Conversation]]:
    """For each of these reps who is Available: the waiting conversations the routing
    rules would route to them now (oldest first). A fixed number of queries: the waiting
    conversations, their visitors, their last pages, and the rules."""
    by_id = {u.id: u for u in users}
    ready = [
        uid
        for uid in user_ids
        if uid in by_id and by_id[uid].availability is Availability.AVAILABLE
    ]
    if not ready:
        return {}
    convs = await chat.waiting_conversations(conn, org_id=org_id, limit=WAITING_LIMIT)
    if not convs:
        return {}
    visitor_ids = [c.visitor_id for c in convs]
    visitors = await chat.get_visitors(conn, org_id=org_id, visitor_ids=visitor_ids)
    online = await rt.presence.visitors_online(org_id)
    pages = await chat.last_pages(conn, org_id=org_id, visitor_ids=visitor_ids)
    rules = await load_rules(conn, org_id=org_id)
    all_reps = [u.id for u in users]
    found: dict[str, list[Conversation]] = {uid: [] for uid in ready}
    for conv in convs:
        visitor = visitors.get(conv.visitor_id)
        if visitor is None:
            continue
        page = (online.get(visitor.id) or {}).get("current_page") or {}
        ctx = VisitorContext(
            url=str(page.get("url") or pages.get(visitor.id) or ""),
            attributes=visitor.attributes,
            company=visitor.company,
            country=visitor.country,
        )
        for uid in ready:
            decision = decide(rules, ctx, all_reps=all_reps, available=[uid], last_turn={})
            if uid in decision.alerted:
                found[uid].append(conv)
    return found


async def alert_when_available(rt: Runtime, user: User) -> int:
    """The rep just became Available: route them the waiting conversations the rules
    give them (`route_waiting`) and alert them. Returns how many."""
    return await route_waiting(rt, user, alert=True)


async def route_waiting(rt: Runtime, user: User, *, alert: bool = False) -> int:
    """Add an Available rep to the routed reps of the waiting conversations the routing
    rules give them now, as routing does for a new conversation, so that the visitor's
    next messages reach them live (and they may act as a routed rep, e.g. block); with
    `alert`, alert them to each. A console that connects while Available calls it
    without: its `welcome` carries the alerts. Returns how many conversations."""
    async with rt.db.read() as conn:
        users = await accounts.list_users(conn, org_id=user.org_id)
        convs = (
            await routed_waiting(rt, conn, org_id=user.org_id, users=users, user_ids=[user.id])
        ).get(user.id, [])
    if not convs:
        return 0
    async with unit_of_work(rt) as uow:
        # Still waiting now (nobody started one meanwhile), with the rep among the routed.
        routed = await chat.add_routed(
            uow.conn, org_id=user.org_id, conversation_ids=[c.id for c in convs], user_id=user.id
        )
        if not alert:
            return len(routed)
        alerts = await build_alerts(rt, uow.conn, org_id=user.org_id, convs=routed)
        for shown in alerts:
            events.to_users(uow, [user.id], stream.alert_frame(shown))
    return len(alerts)


async def build_alerts(
    rt: Runtime, conn: AsyncConnection, *, org_id: str, convs: Sequence[Conversation]
) -> list[s.Alert]:
    """Alerts for unowned conversations, in two queries whatever their number."""
    visitors = await chat.get_visitors(
        conn, org_id=org_id, visitor_ids=[c.visitor_id for c in convs]
    )
    firsts = await chat.first_visitor_messages(
        conn, org_id=org_id, conversation_ids=[c.id for c in convs]
    )
    online = await rt.presence.visitors_online(org_id)
    alerts = []
    for conv in convs:
        visitor = visitors.get(conv.visitor_id)
        if visitor is None:
            continue
        info = online.get(visitor.id)
        first = firsts.get(conv.id)
        alerts.append(
            s.Alert(
                conversation=events.conversation(conv, None),
                visitor=events.visitor_presence(visitor, info, online=info is not None, card=True),
                message=events.message_for_rep(first) if first else None,
                routed_to=list(conv.routed_to),
            )
        )
    return alerts


# -- answer by email ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replied:
    message: Message
    to: str
    created: bool


async def answer_by_email(
    rt: Runtime, *, actor: Actor, conversation_id: str, client_id: str, body: str
) -> Replied:
    """Store the rep's reply in the conversation (audience all: the visitor sees it if
    they come back) and queue it to the visitor's email, in one transaction. An
    unstarted conversation is started (claimed) first, by the usual rule. Refused while
    the visitor is on the site (`visitor_online`: the chat reaches them now). Sending the
    same client id again returns the stored reply and queues nothing."""
    body = body.strip()
    if not body:
        raise ServiceError("invalid", "The reply is empty.")
    async with rt.db.read() as conn:
        conv = await conversation_or_404(conn, org_id=actor.org_id, conversation_id=conversation_id)
        visitor = await chat.get_visitor(conn, org_id=actor.org_id, visitor_id=conv.visitor_id)
        existing = await chat.find_rep_message(
            conn, org_id=actor.org_id, rep_id=actor.user_id, client_id=client_id
        )
    if not email_enabled(rt):
        raise ServiceError("email_off", "Email is off: this server has no POUNCE_SMTP_URL.")
    if visitor is None or not visitor.email:
        raise ServiceError("no_email", "The visitor has not left an email address.")
    if existing is not None:
        if not is_resend(existing, body=body, conversation_id=conv.id):
            raise ServiceError(ClientIdReused.code, "This client id was used for another message.")
        return Replied(existing, visitor.email, created=False)
    if await rt.presence.visitor_info(actor.org_id, visitor.id) is not None:
        raise ServiceError(
            "visitor_online", "The visitor is online: answer in the chat, not by email."
        )
    if conv.owner_id is None:
        await chat_service.start_conversation(rt, actor=actor, conversation_id=conv.id)
    try:
        return await _store_reply(
            rt,
            actor=actor,
            conversation_id=conv.id,
            client_id=client_id,
            body=body,
            to=visitor.email,
        )
    except IntegrityError:
        # Sent twice at once on PostgreSQL: the other transaction stored it first.
        async with rt.db.read() as conn:
            stored = await chat.find_rep_message(
                conn, org_id=actor.org_id, rep_id=actor.user_id, client_id=client_id
            )
        if stored is None or not is_resend(stored, body=body, conversation_id=conv.id):
            raise
        return Replied(stored, visitor.email, created=False)


async def _store_reply(
    rt: Runtime, *, actor: Actor, conversation_id: str, client_id: str, body: str, to: str
) -> Replied:
    """The reply and its outbox row, in one transaction."""
    async with unit_of_work(rt) as uow:
        c = uow.conn
        conv = await conversation_or_404(c, org_id=actor.org_id, conversation_id=conversation_id)

        def may_write(conv: Conversation) -> None:
            refusal = send_refusal(actor, conv.state)
            if refusal is not None:
                raise ServiceError(refusal.value, "You cannot write in this conversation.")

        try:
            # The same reply sent twice at once: the second finds the first here.
            sent = await chat_service.store_rep_message(
                uow,
                actor=actor,
                conv=conv,
                client_id=client_id,
                body=body,
                audience=Audience.ALL,
                may_write=may_write,
            )
        except ClientIdReused:
            raise ServiceError(
                ClientIdReused.code, "This client id was used for another message."
            ) from None
        if not sent.created:
            return Replied(sent.message, to, created=False)
        conv, reply = sent.conversation, sent.message
        await uow.outbox(
            actor.org_id,
            KIND,
            {"conversation_id": conv.id, "seq": reply.seq, "to": to},
            key=f"{KIND}:{conv.id}:{reply.seq}",
        )
    return Replied(reply, to, created=True)


async def deliver(rt: Runtime, row: outbox_store.Row) -> None:
    """The outbox handler for KIND: the rep's reply (and the visitor's question)."""
    if rt.mailer is None:
        raise Undeliverable("email is off (POUNCE_SMTP_URL is not set)")
    conversation_id = str(row.payload.get("conversation_id", ""))
    seq = int(row.payload.get("seq") or 0)
    to = str(row.payload.get("to", ""))
    check_address(to)
    async with rt.db.read() as conn:
        found = await chat.messages_after(
            conn, org_id=row.org_id, conversation_id=conversation_id, after_seq=seq - 1, limit=1
        )
        if not found or found[0].seq != seq or found[0].audience is not Audience.ALL:
            raise Undeliverable(f"reply {conversation_id}#{seq} is gone")
        reply = found[0]
        question = await chat.first_visitor_message(
            conn, org_id=row.org_id, conversation_id=conversation_id
        )
        org = await accounts.get_org(conn, row.org_id)
        rep = await accounts.get_user(conn, org_id=row.org_id, user_id=reply.author_id or "")
    org_name = org_display_name(org)
    sender = rt.settings.resolved_mail_from()
    await rt.mailer.send(
        build_email(
            org_name=org_name,
            rep_name=rep.name if rep else org_name,
            to=to,
            sender=sender,
            message_id=message_id(row.key, sender),
            reply=reply,
            question=question,
        )
    )


def build_email(
    *,
    org_name: str,
    rep_name: str,
    to: str,
    sender: str,
    message_id: str,
    reply: Message,
    question: Message | None,
) -> EmailMessage:
    subject = f"Re: your question to {org_name}"
    text = [f"{rep_name} ({org_name}):", "", reply.body]
    html = [
        f"<p style='color:#555;font-size:12px'><strong>{escape(rep_name)}</strong> · "
        f"{escape(org_name)}</p>",
        f"<div>{render_markdown(reply.body)}</div>",
    ]
    if question is not None:
        text += ["", "You asked:", *(f"> {line}" for line in question.body.splitlines())]
        html.append(
            "<blockquote style='color:#555;border-left:3px solid #ddd;margin:16px 0;"
            f"padding-left:12px'>{render_markdown(question.body)}</blockquote>"
        )
    return compose(
        subject=subject,
        sender=sender,
        to=to,
        message_id=message_id,
        at=reply.created_at,
        text=text,
        html=html,
    )
