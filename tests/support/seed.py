"""Create isolated orgs straight in the store a server uses (each test gets its own)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from argon2 import PasswordHasher

from pounce.domain.model import Role, RouteMode
from pounce.store import accounts
from pounce.store import routing as routing_store
from pounce.store.db import Database

PASSWORD = "correct horse battery"
# The server verifies with the parameters stored in the hash: the cheapest argon2 ones
# make each login in the tests cost microseconds instead of 0.17 s of CPU (about 600 of
# them in a run). Logins with the real parameters are covered where users are created
# through the product (`pounce demo`, `org add`, the users API).
_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


@dataclass
class Person:
    id: str
    email: str
    name: str
    role: Role


@dataclass
class Org:
    id: str
    name: str
    site_id: str
    site_key: str
    admin: Person
    reps: list[Person] = field(default_factory=list)
    password: str = PASSWORD


async def seed_org(
    database_url: str,
    *,
    origins: list[str],
    reps: int = 2,
    mode: RouteMode = RouteMode.EVERYONE,
    include_admin_in_rule: bool = False,
) -> Org:
    db = Database(database_url)
    tag = secrets.token_hex(4)
    try:
        async with db.write() as conn:
            org_id = await accounts.create_org(conn, name=f"Org {tag}")
            admin = await accounts.create_user(
                conn,
                org_id=org_id,
                email=f"admin-{tag}@example.test",
                name=f"Admin {tag}",
                password_hash=_HASH,
                role=Role.ADMIN,
            )
            people = []
            for i in range(reps):
                user = await accounts.create_user(
                    conn,
                    org_id=org_id,
                    email=f"rep{i}-{tag}@example.test",
                    name=f"Rep{i} {tag}",
                    password_hash=_HASH,
                    role=Role.REP,
                )
                people.append(Person(user.id, user.email, user.name, user.role))
            site = await accounts.create_site(
                conn, org_id=org_id, name="Site", allowed_origins=origins
            )
            rule_reps = [p.id for p in people] + ([admin.id] if include_admin_in_rule else [])
            await routing_store.create_rule(
                conn, org_id=org_id, name="all reps", rep_ids=rule_reps, mode=mode
            )
    finally:
        await db.dispose()
    return Org(
        id=org_id,
        name=f"Org {tag}",
        site_id=site.id,
        site_key=site.site_key,
        admin=Person(admin.id, admin.email, admin.name, admin.role),
        reps=people,
    )
