"""Reps: console sessions, availability, and the state a console starts from."""

from __future__ import annotations

from dataclasses import dataclass

from pounce.domain.model import Actor, Availability, ConversationStatus
from pounce.realtime.frames import server as sf
from pounce.realtime.frames import shapes as s
from pounce.services import events, leads, presence, proactive
from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime
from pounce.services.uow import unit_of_work
from pounce.store import accounts, chat
from pounce.store import proactive as proactive_store
from pounce.store.records import Conversation, User

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
    if (
        status is Availability.AVAILABLE
        and before is not None
        and before.availability is not Availability.AVAILABLE
    ):
        await leads.alert_when_available(rt, user)
    return user


@dataclass
class ConsoleState:
    """What a console starts from, or catches up on after the bus lost frames."""

    reps: list[s.RepPresence]
    visitors: list[s.VisitorPresence]
    alerts: dict[str, list[s.Alert]]  # by rep
    conversations: dict[str, list[s.Conversation]]  # each rep's own open ones
    org_name: str
    switches: dict[str, bool]


async def console_state(rt: Runtime, *, org_id: str, user_ids: list[str]) -> ConsoleState:
    """The state of the org's consoles for these reps: presence, visitors on the site, each
    rep's alerts and open conversations, in a fixed number of queries however many reps,
    conversations, alerts and visitors there are."""
    online = await rt.presence.reps_online(org_id)
    visitors_online = await rt.presence.visitors_online(org_id)
    async with rt.db.read() as conn:
        org = await accounts.get_org(conn, org_id)
        users = await accounts.list_users(conn, org_id=org_id)
        by_id = {u.id: u for u in users}
        open_convs = await chat.list_conversations(
            conn, org_id=org_id, status=(ConversationStatus.OPEN,), limit=WELCOME_LIMIT
        )
        deadlines = await proactive.pending_alerts(conn, org_id=org_id, user_ids=user_ids)
        waiting_ids = [cid for convs in deadlines.values() for cid in convs][:WELCOME_LIMIT]
        waiting = await chat.get_conversations(conn, org_id=org_id, conversation_ids=waiting_ids)
        alerted: dict[str, list[Conversation]] = {}
        for user_id in user_ids:
            mine = [c for c in open_convs if user_id in c.routed_to]
            mine += [
                waiting[cid]
                for cid in deadlines.get(user_id, {})
                if cid in waiting and waiting[cid].owner_id == user_id
            ]
            alerted[user_id] = mine
        # Waiting conversations the rules route to an Available rep (leads never stranded).
        routed = await leads.routed_waiting(rt, conn, org_id=org_id, users=users, user_ids=user_ids)
        for user_id, convs in routed.items():
            have = {c.id for c in alerted[user_id]}
            alerted[user_id] += [c for c in convs if c.id not in have]
        every = {c.id: c for convs in alerted.values() for c in convs}
        firsts = await chat.first_visitor_messages(
            conn, org_id=org_id, conversation_ids=list(every)
        )
        known = await chat.get_visitors(
            conn,
            org_id=org_id,
            visitor_ids=[*visitors_online, *(c.visitor_id for c in every.values())],
        )
        switches = await proactive_store.rep_switches(conn, org_id=org_id)
        active = await chat.list_conversations(
            conn,
            org_id=org_id,
            status=(ConversationStatus.ACTIVE,),
            owners=user_ids,
            limit=WELCOME_LIMIT * max(1, len(user_ids)),
        )

    def alert(conv: Conversation, user_id: str) -> s.Alert | None:
        visitor = known.get(conv.visitor_id)
        if visitor is None:
            return None
        info = visitors_online.get(visitor.id)
        first_message = firsts.get(conv.id)
        return s.Alert(
            conversation=events.conversation(conv, by_id.get(conv.owner_id or "")),
            visitor=events.visitor_presence(visitor, info, online=info is not None, card=True),
            message=events.message_for_rep(first_message) if first_message else None,
            routed_to=list(conv.routed_to),
            deadline=deadlines.get(user_id, {}).get(conv.id),
        )

    return ConsoleState(
        reps=[
            presence.rep_presence(u, online, auto_pounce=switches.get(u.id, False)) for u in users
        ],
        visitors=[
            events.visitor_presence(known[visitor_id], info, online=True)
            for visitor_id, info in visitors_online.items()
            if visitor_id in known
        ],
        alerts={
            user_id: [a for c in convs if (a := alert(c, user_id)) is not None]
            for user_id, convs in alerted.items()
        },
        conversations={
            user_id: [
                events.conversation(c, by_id.get(c.owner_id or ""))
                for c in active
                if c.owner_id == user_id
            ][:WELCOME_LIMIT]
            for user_id in user_ids
        },
        org_name=str(org["name"]) if org else "",
        switches=switches,
    )


async def connect(rt: Runtime, *, user: User, connection_id: str) -> sf.ConsoleWelcome:
    """Mark the rep online and build their console's `welcome`."""
    first = await rt.presence.rep_connected(user.org_id, user.id, connection_id)
    if first:
        await presence.broadcast_rep(rt, user)
        if user.availability is Availability.AVAILABLE:
            # Routing skipped them while their console was closed: waiting conversations
            # the rules give them are theirs to see live now (the welcome alerts them).
            await leads.route_waiting(rt, user)
    state = await console_state(rt, org_id=user.org_id, user_ids=[user.id])
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
            auto_pounce=state.switches.get(user.id, False),
        ),
        org=s.Org(id=user.org_id, name=state.org_name),
        reps=state.reps,
        visitors=state.visitors,
        alerts=state.alerts[user.id],
        conversations=state.conversations[user.id],
        connection_id=connection_id,
    )


async def sync(rt: Runtime, *, org_id: str, user_ids: list[str]) -> dict[str, sf.ConsoleSync]:
    """After the bus lost frames: each of these reps' state now, built once for the org."""
    state = await console_state(rt, org_id=org_id, user_ids=user_ids)
    return {
        user_id: sf.ConsoleSync(
            reps=state.reps,
            visitors=state.visitors,
            alerts=state.alerts[user_id],
            conversations=state.conversations[user_id],
        )
        for user_id in user_ids
    }


async def disconnect(rt: Runtime, *, user: User, connection_id: str) -> None:
    gone = await rt.presence.rep_disconnected(user.org_id, user.id, connection_id)
    if gone:
        async with rt.db.read() as conn:
            fresh = await accounts.get_user(conn, org_id=user.org_id, user_id=user.id)
        await presence.broadcast_rep(rt, fresh or user)
