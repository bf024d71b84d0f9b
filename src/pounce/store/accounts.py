"""Orgs, users, teams, sites and rep sessions."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import Availability, Role, new_id
from pounce.store import tables as t
from pounce.store.records import Site, User, now


async def create_org(conn: AsyncConnection, *, name: str, org_id: str | None = None) -> str:
    org_id = org_id or new_id("o")
    await conn.execute(insert(t.orgs).values(id=org_id, name=name, settings={}, created_at=now()))
    return org_id


async def get_org(conn: AsyncConnection, org_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(t.orgs).where(t.orgs.c.id == org_id))).first()
    return dict(row._mapping) if row else None


async def find_org_by_name(conn: AsyncConnection, name: str) -> str | None:
    return (await conn.execute(select(t.orgs.c.id).where(t.orgs.c.name == name))).scalar()


async def create_user(
    conn: AsyncConnection,
    *,
    org_id: str,
    email: str,
    name: str,
    password_hash: str,
    role: Role,
    avatar_url: str | None = None,
) -> User:
    user_id = new_id("u")
    values = {
        "id": user_id,
        "org_id": org_id,
        "email": email.lower(),
        "name": name,
        "password_hash": password_hash,
        "role": role.value,
        "availability": Availability.AWAY.value,
        "avatar_url": avatar_url,
        "active": True,
        "created_at": now(),
    }
    await conn.execute(insert(t.users).values(**values))
    user = await get_user(conn, org_id=org_id, user_id=user_id)
    assert user is not None
    return user


async def get_user(conn: AsyncConnection, *, org_id: str, user_id: str) -> User | None:
    row = (
        await conn.execute(
            select(t.users).where(t.users.c.org_id == org_id, t.users.c.id == user_id)
        )
    ).first()
    return User.from_row(row) if row else None


async def find_user_by_email(conn: AsyncConnection, email: str) -> User | None:
    """Login looks a user up by email before the org is known (emails are unique)."""
    row = (
        await conn.execute(
            select(t.users).where(t.users.c.email == email.lower(), t.users.c.active.is_(True))
        )
    ).first()
    return User.from_row(row) if row else None


async def list_users(conn: AsyncConnection, *, org_id: str) -> list[User]:
    rows = await conn.execute(
        select(t.users)
        .where(t.users.c.org_id == org_id, t.users.c.active.is_(True))
        .order_by(t.users.c.created_at, t.users.c.id)
    )
    return [User.from_row(r) for r in rows]


async def update_user(conn: AsyncConnection, *, org_id: str, user_id: str, **values: Any) -> bool:
    result = await conn.execute(
        update(t.users).where(t.users.c.org_id == org_id, t.users.c.id == user_id).values(**values)
    )
    return result.rowcount == 1


async def set_availability(
    conn: AsyncConnection, *, org_id: str, user_id: str, availability: Availability
) -> bool:
    return await update_user(conn, org_id=org_id, user_id=user_id, availability=availability.value)


async def create_team(
    conn: AsyncConnection, *, org_id: str, name: str, member_ids: Sequence[str]
) -> str:
    team_id = new_id("t")
    await conn.execute(insert(t.teams).values(id=team_id, org_id=org_id, name=name))
    for user_id in member_ids:
        await conn.execute(
            insert(t.team_members).values(team_id=team_id, user_id=user_id, org_id=org_id)
        )
    return team_id


async def list_teams(conn: AsyncConnection, *, org_id: str) -> list[dict[str, Any]]:
    teams = (
        await conn.execute(
            select(t.teams).where(t.teams.c.org_id == org_id).order_by(t.teams.c.name)
        )
    ).all()
    members = (
        await conn.execute(
            select(t.team_members.c.team_id, t.team_members.c.user_id).where(
                t.team_members.c.org_id == org_id
            )
        )
    ).all()
    by_team: dict[str, list[str]] = {}
    for team_id, user_id in members:
        by_team.setdefault(team_id, []).append(user_id)
    return [
        {"id": row.id, "name": row.name, "member_ids": sorted(by_team.get(row.id, []))}
        for row in teams
    ]


async def team_member_ids(conn: AsyncConnection, *, org_id: str, team_id: str) -> list[str]:
    rows = await conn.execute(
        select(t.team_members.c.user_id)
        .where(t.team_members.c.org_id == org_id, t.team_members.c.team_id == team_id)
        .order_by(t.team_members.c.user_id)
    )
    return [r[0] for r in rows]


async def create_site(
    conn: AsyncConnection,
    *,
    org_id: str,
    name: str,
    allowed_origins: Sequence[str],
    site_key: str | None = None,
) -> Site:
    site_id = new_id("s")
    key = site_key or new_id("sk")
    secret = new_identity_secret()
    await conn.execute(
        insert(t.sites).values(
            id=site_id,
            org_id=org_id,
            name=name,
            site_key=key,
            allowed_origins=list(allowed_origins),
            created_at=now(),
            identity_secret=secret,
        )
    )
    return Site(
        id=site_id,
        org_id=org_id,
        name=name,
        site_key=key,
        allowed_origins=tuple(allowed_origins),
        identity_secret=secret,
    )


def new_identity_secret() -> str:
    """A site's secret for signing `identify` tokens (256 bits)."""
    return secrets.token_urlsafe(32)


async def get_site(conn: AsyncConnection, *, org_id: str, site_id: str) -> Site | None:
    row = (
        await conn.execute(
            select(t.sites).where(t.sites.c.org_id == org_id, t.sites.c.id == site_id)
        )
    ).first()
    return Site.from_row(row) if row else None


async def find_site_by_key(conn: AsyncConnection, site_key: str) -> Site | None:
    """The messenger knows only its site key; the key names the org."""
    row = (await conn.execute(select(t.sites).where(t.sites.c.site_key == site_key))).first()
    return Site.from_row(row) if row else None


async def list_sites(conn: AsyncConnection, *, org_id: str) -> list[Site]:
    rows = await conn.execute(
        select(t.sites).where(t.sites.c.org_id == org_id).order_by(t.sites.c.created_at)
    )
    return [Site.from_row(r) for r in rows]


async def update_site(conn: AsyncConnection, *, org_id: str, site_id: str, **values: Any) -> bool:
    result = await conn.execute(
        update(t.sites).where(t.sites.c.org_id == org_id, t.sites.c.id == site_id).values(**values)
    )
    return result.rowcount == 1


async def create_session(
    conn: AsyncConnection,
    *,
    org_id: str,
    user_id: str,
    token_hash: str,
    csrf_token: str,
    expires_at: datetime,
) -> None:
    await conn.execute(
        insert(t.sessions).values(
            token_hash=token_hash,
            org_id=org_id,
            user_id=user_id,
            csrf_token=csrf_token,
            created_at=now(),
            expires_at=expires_at,
        )
    )


async def get_session(conn: AsyncConnection, token_hash: str) -> tuple[User, str, datetime] | None:
    """The session's user, CSRF token and expiry; the token hash is the only key."""
    row = (
        await conn.execute(
            select(t.sessions.c.csrf_token, t.sessions.c.expires_at, t.users)
            .join(t.users, t.users.c.id == t.sessions.c.user_id)
            .where(
                t.sessions.c.token_hash == token_hash,
                t.users.c.org_id == t.sessions.c.org_id,
                t.users.c.active.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    return User.from_row(row), row.csrf_token, row.expires_at


async def delete_session(conn: AsyncConnection, token_hash: str) -> None:
    await conn.execute(delete(t.sessions).where(t.sessions.c.token_hash == token_hash))
