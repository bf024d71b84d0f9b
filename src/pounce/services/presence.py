"""Who is here: reps' availability and visitors on the site, as consoles see them."""

from __future__ import annotations

from pounce.realtime.frames import server as sf
from pounce.realtime.frames import shapes as s
from pounce.services import events
from pounce.services.routing import available_reps
from pounce.services.runtime import Runtime
from pounce.store import proactive as proactive_store
from pounce.store.records import User


def rep_presence(user: User, online: set[str], *, auto_pounce: bool) -> s.RepPresence:
    return s.RepPresence(
        id=user.id,
        name=user.name,
        first_name=user.first_name,
        avatar_url=user.avatar_url,
        role=user.role.value,
        availability=user.availability.value,
        online=user.id in online,
        auto_pounce=auto_pounce,
    )


async def broadcast_rep(rt: Runtime, user: User) -> None:
    """A rep's presence to every console, and whether anyone can answer to every
    messenger of the org (call after the change committed)."""
    online = await rt.presence.reps_online(user.org_id)
    async with rt.db.read() as conn:
        ready = await available_reps(rt, conn, org_id=user.org_id)
        auto_pounce, _ = await proactive_store.rep_switch(conn, org_id=user.org_id, user_id=user.id)
    events.to_org_reps(
        rt.bus,
        user.org_id,
        sf.Presence(rep=rep_presence(user, online, auto_pounce=auto_pounce)),
    )
    events.to_org_visitors(rt.bus, user.org_id, sf.RepsAvailable(available=bool(ready)))
