"""Leads on SQLite and on PostgreSQL: reps added to a waiting conversation's routed reps
at the same moment (two reps going Available at once, on any nodes) all stay routed."""

from __future__ import annotations

import asyncio

from pounce.domain.model import Source
from pounce.store import chat
from pounce.store.db import Database
from tests.integration.conftest import World


async def test_reps_routed_at_once_to_a_waiting_conversation_all_stay(world: World) -> None:
    org = world.org
    db = Database(world.stack.database_url)
    try:
        async with db.write() as conn:
            visitor = await chat.create_visitor(conn, org_id=org.id, site_id=org.site_id)
            conv = await chat.create_conversation(
                conn,
                org_id=org.id,
                site_id=org.site_id,
                visitor_id=visitor.id,
                source=Source.INBOUND,
            )

        async def add(user_id: str) -> tuple[str, ...]:
            async with db.write() as conn:
                [now] = await chat.add_routed(
                    conn, org_id=org.id, conversation_ids=[conv.id], user_id=user_id
                )
                return now.routed_to

        for _ in range(20):
            async with db.write() as conn:
                await chat.set_routed(conn, org_id=org.id, conversation_id=conv.id, routed_to=[])
            seen = await asyncio.gather(add("u_a"), add("u_b"))
            async with db.read() as conn:
                stored = await chat.get_conversation(conn, org_id=org.id, conversation_id=conv.id)
            assert stored is not None and sorted(stored.routed_to) == ["u_a", "u_b"], seen
        # Routed already: unchanged. Started meanwhile: no longer waiting, left alone.
        assert await add("u_a") == stored.routed_to
        async with db.write() as conn:
            assert await chat.claim_conversation(
                conn, org_id=org.id, conversation_id=conv.id, user_id=org.reps[0].id
            )
            assert (
                await chat.add_routed(
                    conn, org_id=org.id, conversation_ids=[conv.id], user_id="u_c"
                )
                == []
            )
    finally:
        await db.dispose()
