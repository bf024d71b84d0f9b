"""Install-wide facts about orgs (is there any yet?) and the writes of setting one up."""

from __future__ import annotations

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.store import tables as t


async def any_org(conn: AsyncConnection) -> bool:
    """Does the install have an org yet (the first-run screen shows until it does)?"""
    return (await conn.execute(select(t.orgs.c.id).limit(1))).first() is not None


async def list_orgs(conn: AsyncConnection) -> list[tuple[str, str, int]]:
    """Every org of the install (for its operator): id, name and active users, oldest first."""
    users = (
        select(t.users.c.org_id, func.count().label("n"))
        .where(t.users.c.active.is_(True))
        .group_by(t.users.c.org_id)
        .subquery()
    )
    rows = await conn.execute(
        select(t.orgs.c.id, t.orgs.c.name, func.coalesce(users.c.n, 0))
        .outerjoin(users, users.c.org_id == t.orgs.c.id)
        .order_by(t.orgs.c.created_at, t.orgs.c.id)
    )
    return [(r[0], r[1], int(r[2])) for r in rows]


async def lock_orgs(conn: AsyncConnection) -> None:
    """Hold off every other org insert until this transaction ends, so a check that no
    org exists stays true until it commits. SQLite's write transactions (BEGIN
    IMMEDIATE) are one at a time already; PostgreSQL needs the table lock."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("LOCK TABLE orgs IN SHARE ROW EXCLUSIVE MODE"))


async def replace_password_hash(
    conn: AsyncConnection, *, org_id: str, user_id: str, old_hash: str, new_hash: str
) -> bool:
    """Set a password only if the hash is still `old_hash`: of two uses of one link, one
    wins."""
    result = await conn.execute(
        update(t.users)
        .where(
            t.users.c.org_id == org_id,
            t.users.c.id == user_id,
            t.users.c.password_hash == old_hash,
            t.users.c.active.is_(True),
        )
        .values(password_hash=new_hash)
    )
    return result.rowcount == 1


async def get_setting(conn: AsyncConnection, *, org_id: str, name: str) -> object:
    """One key of the org's `settings` (None when unset)."""
    query = select(t.orgs.c.settings).where(t.orgs.c.id == org_id)
    return ((await conn.execute(query)).scalar() or {}).get(name)


async def put_setting(conn: AsyncConnection, *, org_id: str, name: str, value: object) -> None:
    """Replace one key of the org's `settings` (in a write transaction)."""
    query = select(t.orgs.c.settings).where(t.orgs.c.id == org_id)
    settings = dict((await conn.execute(query)).scalar() or {})
    settings[name] = value
    await conn.execute(update(t.orgs).where(t.orgs.c.id == org_id).values(settings=settings))
