"""Reps: console sessions, availability, and the state a console starts from."""

from __future__ import annotations

from pounce.domain.model import Actor, Availability, ConversationStatus
from pounce.realtime.frames import server as sf
from pounce.realtime.frames import shapes as s
from pounce.services import events, presence, proactive
from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime
from pounce.services.uow import unit_of_work
from pounce.store import accounts, chat
from pounce.store import proactive as proactive_store
from pounce.store.records import User

WELCOME_LIMIT = 200  # open conversations and alerts a console starts with


async def set_availability(rt: Runtime, *, actor: Actor, status: Availability) -> User:
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        before = await accounts.get_user(conn, org_id=actor.org_id, user_id=actor.user_id)
        await accounts.set_availability(
            conn, org_id=actor.org_id, user_id=actor.user_id, availability=status
        )
        # Becoming Available turns auto pounce on; saying so again keeps the rep's choice.
        switched_on = (
            status is Availability.AVAILABLE
            and before is not None
            and before.availability is not Availability.AVAILABLE
            and await proactive.switch_on_when_available(conn, actor=actor)
        )
        user = await accounts.get_user(conn, org_id=actor.org_id, user_id=actor.user_id)
    if user is None:
        raise ServiceError("not_found", "No such user.")
    await presence.broadcast_rep(rt, user)
    if switched_on:
        events.to_users(rt.bus, [user.id], proactive.auto_pounce_frame(True, "available"))
    return user


async def connect(rt: Runtime, *, user: User, connection_id: str) -> sf.ConsoleWelcome:
    """Mark the rep online and build their console's `welcome`, in a fixed number of
    queries whatever the number of conversations, alerts and visitors."""
    first = await rt.presence.rep_connected(user.org_id, user.id, connection_id)
    if first:
        await presence.broadcast_rep(rt, user)
    online = await rt.presence.reps_online(user.org_id)
    visitors_online = await rt.presence.visitors_online(user.org_id)
    async with rt.db.read() as conn:
        org = await accounts.get_org(conn, user.org_id)
        users = await accounts.list_users(conn, org_id=user.org_id)
        by_id = {u.id: u for u in users}
        open_convs = await chat.list_conversations(
            conn, org_id=user.org_id, status=(ConversationStatus.OPEN,), limit=WELCOME_LIMIT
        )
        routed = [c for c in open_convs if user.id in c.routed_to]
        deadlines = await proactive.pending_alerts(conn, org_id=user.org_id, user_id=user.id)
        waiting = await chat.get_conversations(
            conn, org_id=user.org_id, conversation_ids=list(deadlines)[:WELCOME_LIMIT]
        )
        alerted = routed + [c for c in waiting.values() if c.owner_id == user.id]
        firsts = await chat.first_visitor_messages(
            conn, org_id=user.org_id, conversation_ids=[c.id for c in alerted]
        )
        known = await chat.get_visitors(
            conn,
            org_id=user.org_id,
            visitor_ids=[*visitors_online, *(c.visitor_id for c in alerted)],
        )
        switches = await proactive_store.rep_switches(conn, org_id=user.org_id)
        mine = await chat.list_conversations(
            conn,
            org_id=user.org_id,
            owner_id=user.id,
            status=(ConversationStatus.ACTIVE,),
            limit=WELCOME_LIMIT,
        )
    alerts = []
    for conv in alerted:
        visitor = known.get(conv.visitor_id)
        if visitor is None:
            continue
        info = visitors_online.get(visitor.id)
        first_message = firsts.get(conv.id)
        alerts.append(
            s.Alert(
                conversation=events.conversation(conv, by_id.get(conv.owner_id or "")),
                visitor=events.visitor_presence(visitor, info, online=info is not None, card=True),
                message=events.message_for_rep(first_message) if first_message else None,
                routed_to=list(conv.routed_to),
                deadline=deadlines.get(conv.id),
            )
        )
    return sf.ConsoleWelcome(
        v=1,
        user=s.WelcomeUser(
            id=user.id,
            name=user.name,
            first_name=user.first_name,
            email=user.email,
            role=user.role.value,
            avatar_url=user.avatar_url,
            availability=user.availability.value,
            auto_pounce=switches.get(user.id, False),
        ),
        org=s.Org(id=user.org_id, name=str(org["name"]) if org else ""),
        reps=[
            presence.rep_presence(u, online, auto_pounce=switches.get(u.id, False)) for u in users
        ],
        visitors=[
            events.visitor_presence(known[visitor_id], info, online=True)
            for visitor_id, info in visitors_online.items()
            if visitor_id in known
        ],
        alerts=alerts,
        conversations=[events.conversation(c, by_id.get(c.owner_id or "")) for c in mine],
        connection_id=connection_id,
    )


async def disconnect(rt: Runtime, *, user: User, connection_id: str) -> None:
    gone = await rt.presence.rep_disconnected(user.org_id, user.id, connection_id)
    if gone:
        async with rt.db.read() as conn:
            fresh = await accounts.get_user(conn, org_id=user.org_id, user_id=user.id)
        await presence.broadcast_rep(rt, fresh or user)
