"""Reps: console sessions, availability, and the state a console starts from."""

from __future__ import annotations

from typing import Any

from pounce.domain.model import Actor, Availability, ConversationStatus
from pounce.services import chat as conversations
from pounce.services import events, proactive
from pounce.services.errors import ServiceError
from pounce.services.routing import available_reps
from pounce.services.runtime import Runtime
from pounce.store import accounts, chat
from pounce.store import proactive as proactive_store
from pounce.store.records import User


def visitors_topic(org_id: str) -> str:
    """Every messenger of the org: only visitor-safe, org-wide facts go here."""
    return f"org:{org_id}:visitors"


def rep_presence_json(user: User, online: set[str], *, auto_pounce: bool) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "first_name": user.first_name,
        "avatar_url": user.avatar_url,
        "role": user.role.value,
        "availability": user.availability.value,
        "online": user.id in online,
        "auto_pounce": auto_pounce,
    }


async def broadcast_rep(rt: Runtime, user: User) -> None:
    online = await rt.presence.reps_online(user.org_id)
    async with rt.db.read() as conn:
        ready = await available_reps(rt, conn, org_id=user.org_id)
        auto_pounce, _ = await proactive_store.rep_switch(conn, org_id=user.org_id, user_id=user.id)
    await events.publish(
        rt,
        [events.reps_topic(user.org_id)],
        {"type": "presence", "rep": rep_presence_json(user, online, auto_pounce=auto_pounce)},
    )
    await events.publish(
        rt, [visitors_topic(user.org_id)], {"type": "reps_available", "available": bool(ready)}
    )


async def set_availability(rt: Runtime, *, actor: Actor, status: Availability) -> User:
    async with rt.db.write() as conn:
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
    await broadcast_rep(rt, user)
    if switched_on:
        await events.publish(
            rt, [events.user_topic(user.id)], proactive.auto_pounce_frame(True, "available")
        )
    return user


async def connect(rt: Runtime, *, user: User, conn_id: str) -> dict[str, Any]:
    """Mark the rep online and build the `welcome` frame for their console."""
    first = await rt.presence.rep_connected(user.org_id, user.id, conn_id)
    if first:
        await broadcast_rep(rt, user)
    online = await rt.presence.reps_online(user.org_id)
    visitors_online = await rt.presence.visitors_online(user.org_id)
    async with rt.db.read() as conn:
        org = await accounts.get_org(conn, user.org_id)
        users = await accounts.list_users(conn, org_id=user.org_id)
        by_id = {u.id: u for u in users}
        known = await chat.get_visitors(conn, org_id=user.org_id, visitor_ids=list(visitors_online))
        visitors = [
            events.visitor_presence_json(known[visitor_id], info, online=True)
            for visitor_id, info in visitors_online.items()
            if visitor_id in known
        ]
        open_convs = await chat.list_conversations(
            conn, org_id=user.org_id, status=(ConversationStatus.OPEN,), limit=200
        )
        alerts = [
            await conversations.alert_frame(rt, conn, c)
            for c in open_convs
            if user.id in c.routed_to
        ]
        alerts += await proactive.pending_alerts(rt, conn, org_id=user.org_id, user_id=user.id)
        switches = await proactive_store.rep_switches(conn, org_id=user.org_id)
        mine = await chat.list_conversations(
            conn,
            org_id=user.org_id,
            owner_id=user.id,
            status=(ConversationStatus.ACTIVE,),
            limit=200,
        )
    return {
        "type": "welcome",
        "v": 1,
        "user": {
            "id": user.id,
            "name": user.name,
            "first_name": user.first_name,
            "email": user.email,
            "role": user.role.value,
            "avatar_url": user.avatar_url,
            "availability": user.availability.value,
            "auto_pounce": switches.get(user.id, False),
        },
        "org": {"id": user.org_id, "name": org["name"] if org else ""},
        "reps": [
            rep_presence_json(u, online, auto_pounce=switches.get(u.id, False)) for u in users
        ],
        "visitors": visitors,
        "alerts": [{k: v for k, v in a.items() if k != "type"} for a in alerts],
        "conversations": [
            events.conversation_json(c, by_id.get(c.owner_id or ""), for_rep=True) for c in mine
        ],
    }


async def disconnect(rt: Runtime, *, user: User, conn_id: str) -> None:
    gone = await rt.presence.rep_disconnected(user.org_id, user.id, conn_id)
    if gone:
        async with rt.db.read() as conn:
            fresh = await accounts.get_user(conn, org_id=user.org_id, user_id=user.id)
        await broadcast_rep(rt, fresh or user)
