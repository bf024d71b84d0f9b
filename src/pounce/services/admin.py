"""Org configuration: users, teams, sites and routing rules (admins write, reps read)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from pounce.domain.model import Actor, Role, RouteMode
from pounce.services.auth import hash_password
from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime
from pounce.store import accounts
from pounce.store import routing as routing_store
from pounce.store.records import Site, User


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise ServiceError("forbidden", "Only an admin can change this.")


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "first_name": user.first_name,
        "role": user.role.value,
        "availability": user.availability.value,
        "avatar_url": user.avatar_url,
    }


def snippet(site: Site, public_url: str) -> str:
    return (
        f'<script src="{public_url}/messenger/loader.js" '
        f'data-site-key="{site.site_key}" async></script>'
    )


def site_json(site: Site, public_url: str) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "site_key": site.site_key,
        "allowed_origins": list(site.allowed_origins),
        "snippet": snippet(site, public_url),
    }


async def add_user(
    rt: Runtime,
    *,
    org_id: str,
    email: str,
    name: str,
    password: str,
    role: Role,
    avatar_url: str | None = None,
) -> User:
    password_hash = await hash_password(rt, password)  # not while holding the write lock
    try:
        async with rt.db.write() as conn:
            return await accounts.create_user(
                conn,
                org_id=org_id,
                email=email,
                name=name,
                password_hash=password_hash,
                role=role,
                avatar_url=avatar_url,
            )
    except IntegrityError:
        raise ServiceError("conflict", f"A user with email {email} exists already.") from None


async def list_users(rt: Runtime, *, actor: Actor) -> list[User]:
    async with rt.db.read() as conn:
        return await accounts.list_users(conn, org_id=actor.org_id)


async def update_user(rt: Runtime, *, actor: Actor, user_id: str, values: dict[str, Any]) -> User:
    own_profile = {"name", "avatar_url", "password"}
    if user_id != actor.user_id or not set(values) <= own_profile:
        require_admin(actor)
    values = dict(values)
    if "password" in values:
        values["password_hash"] = await hash_password(rt, values.pop("password"))
    if "role" in values:
        values["role"] = Role(values["role"]).value
    async with rt.db.write() as conn:
        if not await accounts.update_user(conn, org_id=actor.org_id, user_id=user_id, **values):
            raise ServiceError("not_found", "No such user.")
        user = await accounts.get_user(conn, org_id=actor.org_id, user_id=user_id)
    assert user is not None
    return user


async def list_teams(rt: Runtime, *, actor: Actor) -> list[dict[str, Any]]:
    async with rt.db.read() as conn:
        return await accounts.list_teams(conn, org_id=actor.org_id)


async def _check_reps(rt: Runtime, org_id: str, rep_ids: Sequence[str]) -> None:
    async with rt.db.read() as conn:
        known = {u.id for u in await accounts.list_users(conn, org_id=org_id)}
    unknown = [r for r in rep_ids if r not in known]
    if unknown:
        raise ServiceError("invalid", f"Unknown rep ids: {', '.join(unknown)}")


async def create_team(
    rt: Runtime, *, actor: Actor, name: str, member_ids: Sequence[str]
) -> dict[str, Any]:
    require_admin(actor)
    await _check_reps(rt, actor.org_id, member_ids)
    try:
        async with rt.db.write() as conn:
            team_id = await accounts.create_team(
                conn, org_id=actor.org_id, name=name, member_ids=member_ids
            )
    except IntegrityError:
        raise ServiceError("conflict", f"A team named {name!r} exists already.") from None
    return {"id": team_id, "name": name, "member_ids": sorted(member_ids)}


async def list_sites(rt: Runtime, *, actor: Actor) -> list[Site]:
    async with rt.db.read() as conn:
        return await accounts.list_sites(conn, org_id=actor.org_id)


async def get_site(rt: Runtime, *, actor: Actor, site_id: str) -> Site:
    async with rt.db.read() as conn:
        site = await accounts.get_site(conn, org_id=actor.org_id, site_id=site_id)
    if site is None:
        raise ServiceError("not_found", "No such site.")
    return site


async def create_site(
    rt: Runtime, *, actor: Actor, name: str, allowed_origins: Sequence[str]
) -> Site:
    require_admin(actor)
    async with rt.db.write() as conn:
        return await accounts.create_site(
            conn, org_id=actor.org_id, name=name, allowed_origins=allowed_origins
        )


async def update_site(rt: Runtime, *, actor: Actor, site_id: str, values: dict[str, Any]) -> Site:
    require_admin(actor)
    async with rt.db.write() as conn:
        if not await accounts.update_site(conn, org_id=actor.org_id, site_id=site_id, **values):
            raise ServiceError("not_found", "No such site.")
        site = await accounts.get_site(conn, org_id=actor.org_id, site_id=site_id)
    assert site is not None
    rt.forget_site(site.site_key)  # this node at once; others within SITE_CACHE_SECONDS
    return site


async def list_rules(rt: Runtime, *, actor: Actor) -> list[dict[str, Any]]:
    async with rt.db.read() as conn:
        return await routing_store.list_rules(conn, org_id=actor.org_id)


async def _check_team(rt: Runtime, org_id: str, team_id: str | None) -> None:
    if team_id is None:
        return
    async with rt.db.read() as conn:
        teams = await accounts.list_teams(conn, org_id=org_id)
    if team_id not in {t["id"] for t in teams}:
        raise ServiceError("invalid", f"Unknown team id: {team_id}")


async def create_rule(rt: Runtime, *, actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
    require_admin(actor)
    await _check_reps(rt, actor.org_id, values.get("rep_ids", ()))
    await _check_team(rt, actor.org_id, values.get("team_id"))
    values = {**values, "mode": RouteMode(values.get("mode", RouteMode.ROUND_ROBIN))}
    async with rt.db.write() as conn:
        return await routing_store.create_rule(conn, org_id=actor.org_id, **values)


async def update_rule(
    rt: Runtime, *, actor: Actor, rule_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    require_admin(actor)
    if "rep_ids" in values:
        await _check_reps(rt, actor.org_id, values["rep_ids"])
    await _check_team(rt, actor.org_id, values.get("team_id"))
    if "mode" in values:
        values = {**values, "mode": RouteMode(values["mode"]).value}
    async with rt.db.write() as conn:
        if not await routing_store.update_rule(
            conn, org_id=actor.org_id, rule_id=rule_id, **values
        ):
            raise ServiceError("not_found", "No such routing rule.")
        rule = await routing_store.get_rule(conn, org_id=actor.org_id, rule_id=rule_id)
    assert rule is not None
    return rule


async def delete_rule(rt: Runtime, *, actor: Actor, rule_id: str) -> None:
    require_admin(actor)
    async with rt.db.write() as conn:
        if not await routing_store.delete_rule(conn, org_id=actor.org_id, rule_id=rule_id):
            raise ServiceError("not_found", "No such routing rule.")
