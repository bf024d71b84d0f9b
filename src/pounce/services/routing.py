"""Routing an inbound conversation to reps, inside the transaction that opens it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import Availability, RouteMode
from pounce.domain.routing import Decision, Rule, VisitorContext, decide, first_matching
from pounce.services.runtime import Runtime
from pounce.store import accounts
from pounce.store import routing as routing_store
from pounce.store.records import User


async def available_reps(
    rt: Runtime, conn: AsyncConnection, *, org_id: str, users: Sequence[User] | None = None
) -> list[str]:
    """Reps who said Available and have the console open, in a stable order."""
    online = await rt.presence.reps_online(org_id)
    if not online:
        return []  # nobody has the console open: no need to read who said Available
    if users is None:
        users = await accounts.list_users(conn, org_id=org_id)
    return [u.id for u in users if u.availability is Availability.AVAILABLE and u.id in online]


async def ready_reps(rt: Runtime, *, org_id: str) -> list[str]:
    """`available_reps` outside a transaction: the store is read only when a rep has the
    console open."""
    online = await rt.presence.reps_online(org_id)
    if not online:
        return []
    async with rt.db.read() as conn:
        users = await accounts.list_users(conn, org_id=org_id)
    return [u.id for u in users if u.availability is Availability.AVAILABLE and u.id in online]


async def load_rules(conn: AsyncConnection, *, org_id: str) -> list[Rule]:
    rules: list[Rule] = []
    for row in await routing_store.list_rules(conn, org_id=org_id):
        if not row["enabled"]:
            continue
        rep_ids = list(row["rep_ids"])
        if row["team_id"]:
            members = await accounts.team_member_ids(conn, org_id=org_id, team_id=row["team_id"])
            rep_ids += [m for m in members if m not in rep_ids]
        rules.append(
            Rule(
                id=row["id"],
                url_pattern=row["url_pattern"],
                attributes=row["attributes"],
                company=row["company"],
                country=row["country"],
                rep_ids=tuple(rep_ids),
                mode=RouteMode(row["mode"]),
            )
        )
    return rules


async def route(
    rt: Runtime,
    conn: AsyncConnection,
    *,
    org_id: str,
    ctx: VisitorContext,
    available: Iterable[str] | None = None,
) -> Decision:
    """Decide who is alerted and record the round-robin turn, in the caller's transaction."""
    users = await accounts.list_users(conn, org_id=org_id)
    ready = (
        list(available)
        if available is not None
        else await available_reps(rt, conn, org_id=org_id, users=users)
    )
    rules = await load_rules(conn, org_id=org_id)
    rule = first_matching(rules, ctx)
    turns: dict[str, int] = {}
    if rule is not None and rule.mode is RouteMode.ROUND_ROBIN:
        turns = await routing_store.last_turns(conn, org_id=org_id, queue=f"rule:{rule.id}")
    decision = decide(rules, ctx, all_reps=[u.id for u in users], available=ready, last_turn=turns)
    if rule is not None and rule.mode is RouteMode.ROUND_ROBIN:
        for rep in decision.alerted:
            await routing_store.record_turn(conn, org_id=org_id, queue=decision.queue, user_id=rep)
    return decision
