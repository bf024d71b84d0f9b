"""Messenger connects and page views, group-committed (`Runtime.visits`) on a real store."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from pounce.services.ingest import GroupCommit
from pounce.store import accounts, chat
from pounce.store import tables as t
from pounce.store.db import Database
from pounce.store.errors import StoreUnavailable
from pounce.store.records import Visitor, now


def _log(db: Database, **kw: int) -> GroupCommit[chat.Visit]:
    async def write(visits: list[chat.Visit]) -> None:
        async with db.write() as conn:
            await chat.record_visits(conn, visits)

    return GroupCommit(write, name="visits", **kw)


async def _site(db: Database) -> tuple[str, str]:
    async with db.write() as conn:
        org = await accounts.create_org(conn, name="V")
        site = await accounts.create_site(conn, org_id=org, name="s", allowed_origins=[])
    return org, site.id


async def _count(db: Database, table: t.Table, org: str) -> int:
    async with db.read() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count()).select_from(table).where(table.c.org_id == org)
                )
            ).scalar_one()
        )


async def test_visits_of_one_moment_share_a_transaction(db: Database) -> None:
    org, site = await _site(db)
    async with db.write() as conn:
        old = await chat.create_visitor(conn, org_id=org, site_id=site)
    log = _log(db)
    fresh = [chat.new_visitor(org_id=org, site_id=site) for _ in range(20)]
    later = now() + timedelta(seconds=1)
    visits = [
        chat.Visit(v, created=True, at=v.first_seen_at, url=f"https://a.test/{i}", title="A")
        for i, v in enumerate(fresh)
    ]
    visits.append(chat.Visit(old, created=False, at=later, url="https://a.test/old", title="O"))
    await asyncio.gather(*(log.add(v) for v in visits))  # added in one turn of the loop
    assert log.batches == 1
    assert await _count(db, t.visitors, org) == 21
    assert await _count(db, t.page_views, org) == 21
    async with db.read() as conn:
        seen = await chat.get_visitor(conn, org_id=org, visitor_id=old.id)
        views = await chat.page_views_since(conn, org_id=org, visitor_id=fresh[3].id)
    assert seen is not None and seen.last_seen_at == later
    assert [(v["url"], v["title"], v["viewed_at"]) for v in views] == [
        ("https://a.test/3", "A", fresh[3].first_seen_at)
    ]


async def test_a_bad_visit_fails_alone(db: Database) -> None:
    org, site = await _site(db)
    log = _log(db)
    good = chat.new_visitor(org_id=org, site_id=site)
    unknown = chat.new_visitor(org_id=org, site_id=site)  # never stored: its page view's FK fails
    outcomes = await asyncio.gather(
        log.add(chat.Visit(good, created=True, at=good.first_seen_at, url="https://a.test/")),
        log.add(chat.Visit(unknown, created=False, at=now(), url="https://a.test/x")),
        return_exceptions=True,
    )
    assert outcomes[0] is None
    assert isinstance(outcomes[1], Exception) and not isinstance(outcomes[1], StoreUnavailable)
    assert await _count(db, t.visitors, org) == 1
    assert await _count(db, t.page_views, org) == 1


async def test_waiting_visits_are_limited(db: Database) -> None:
    org, site = await _site(db)
    log = _log(db, limit=3, max_batch=2)
    visitors = [chat.new_visitor(org_id=org, site_id=site) for _ in range(6)]
    adds: list[asyncio.Task[None]] = []

    def add(v: Visitor) -> None:
        adds.append(asyncio.create_task(log.add(chat.Visit(v, True, v.first_seen_at))))

    async with db.write():  # the store is busy: the first batch waits for its lock
        for v in visitors[:2]:
            add(v)
        while log.batches == 0:  # the first batch has left the queue for the store
            await asyncio.sleep(0)
        for v in visitors[2:5]:
            add(v)
        while log.waiting < 3:
            await asyncio.sleep(0)
        with pytest.raises(StoreUnavailable):
            await log.add(chat.Visit(visitors[5], True, visitors[5].first_seen_at))
    await asyncio.gather(*adds)
    assert log.batches == 3
    assert await _count(db, t.visitors, org) == 5
