"""Routing rules and the round-robin turn counters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import RouteMode, new_id
from pounce.store import tables as t


def _rule_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "position": row.position,
        "name": row.name,
        "url_pattern": row.url_pattern,
        "attributes": dict(row.attributes or {}),
        "company": row.company,
        "country": row.country,
        "team_id": row.team_id,
        "rep_ids": list(row.rep_ids or []),
        "mode": row.mode,
        "enabled": bool(row.enabled),
    }


async def list_rules(conn: AsyncConnection, *, org_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(t.routing_rules)
        .where(t.routing_rules.c.org_id == org_id)
        .order_by(t.routing_rules.c.position, t.routing_rules.c.id)
    )
    return [_rule_dict(r) for r in rows]


async def get_rule(conn: AsyncConnection, *, org_id: str, rule_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(t.routing_rules).where(
                t.routing_rules.c.org_id == org_id, t.routing_rules.c.id == rule_id
            )
        )
    ).first()
    return _rule_dict(row) if row else None


async def create_rule(
    conn: AsyncConnection,
    *,
    org_id: str,
    name: str,
    url_pattern: str = "",
    attributes: dict[str, str] | None = None,
    company: str | None = None,
    country: str | None = None,
    team_id: str | None = None,
    rep_ids: Sequence[str] = (),
    mode: RouteMode = RouteMode.ROUND_ROBIN,
    position: int | None = None,
    enabled: bool = True,
) -> dict[str, Any]:
    if position is None:
        top = (
            await conn.execute(
                select(func.max(t.routing_rules.c.position)).where(
                    t.routing_rules.c.org_id == org_id
                )
            )
        ).scalar()
        position = (top or 0) + 1
    rule_id = new_id("r")
    await conn.execute(
        insert(t.routing_rules).values(
            id=rule_id,
            org_id=org_id,
            position=position,
            name=name,
            url_pattern=url_pattern,
            attributes=attributes or {},
            company=company,
            country=country,
            team_id=team_id,
            rep_ids=list(rep_ids),
            mode=mode.value,
            enabled=enabled,
        )
    )
    rule = await get_rule(conn, org_id=org_id, rule_id=rule_id)
    assert rule is not None
    return rule


async def update_rule(conn: AsyncConnection, *, org_id: str, rule_id: str, **values: Any) -> bool:
    result = await conn.execute(
        update(t.routing_rules)
        .where(t.routing_rules.c.org_id == org_id, t.routing_rules.c.id == rule_id)
        .values(**values)
    )
    return result.rowcount == 1


async def delete_rule(conn: AsyncConnection, *, org_id: str, rule_id: str) -> bool:
    result = await conn.execute(
        delete(t.routing_rules).where(
            t.routing_rules.c.org_id == org_id, t.routing_rules.c.id == rule_id
        )
    )
    return result.rowcount == 1


async def last_turns(conn: AsyncConnection, *, org_id: str, queue: str) -> dict[str, int]:
    rows = await conn.execute(
        select(t.route_turns.c.user_id, t.route_turns.c.turn).where(
            t.route_turns.c.org_id == org_id, t.route_turns.c.queue == queue
        )
    )
    return {user_id: int(turn) for user_id, turn in rows}


async def record_turn(conn: AsyncConnection, *, org_id: str, queue: str, user_id: str) -> None:
    """Give `user_id` the newest turn in `queue` (they go to the back of the line)."""
    top = (
        await conn.execute(
            select(func.max(t.route_turns.c.turn)).where(
                t.route_turns.c.org_id == org_id, t.route_turns.c.queue == queue
            )
        )
    ).scalar()
    turn = (top or 0) + 1
    updated = await conn.execute(
        update(t.route_turns)
        .where(
            t.route_turns.c.org_id == org_id,
            t.route_turns.c.queue == queue,
            t.route_turns.c.user_id == user_id,
        )
        .values(turn=turn)
    )
    if updated.rowcount == 0:
        await conn.execute(
            insert(t.route_turns).values(org_id=org_id, queue=queue, user_id=user_id, turn=turn)
        )
