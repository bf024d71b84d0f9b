"""Setting up a real install: the first-run org, `pounce org add`, and one-time links
with which a new admin chooses their password."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError

from pounce.domain.model import Role
from pounce.services.auth import SessionInfo, hash_password, token_hash
from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime
from pounce.store import accounts
from pounce.store import orgs as org_store
from pounce.store.records import Site, User, now

# How long a set-password link works; it also stops working once a password is set.
LINK_HOURS = 24
# Not an argon2 hash, so no password verifies against it: the account has no password yet.
NO_PASSWORD = "!unset:"  # noqa: S105 - a marker, not a secret
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class NewOrg:
    org_id: str
    name: str
    admin: User
    site: Site
    link: str  # where the admin chooses a password (empty when they chose one already)


def check_fields(*, org_name: str, name: str, email: str) -> tuple[str, str, str]:
    """Trimmed org name, person's name and lower-case email, or a clear refusal."""
    org_name, name, email = org_name.strip(), name.strip(), email.strip().lower()
    if not 1 <= len(org_name) <= 200:
        raise ServiceError("invalid", "The organisation's name is 1 to 200 characters.")
    if not 1 <= len(name) <= 200:
        raise ServiceError("invalid", "The admin's name is 1 to 200 characters.")
    if len(email) > 320 or not EMAIL.match(email):
        raise ServiceError("invalid", f"{email!r} is not an email address.")
    return org_name, name, email


def check_origin(value: str) -> str:
    """`https://www.example.com` (scheme, host and port only), lower-cased."""
    value = value.strip().rstrip("/").lower()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServiceError("invalid", f"{value!r} is not an origin like https://www.example.com")
    if parts.path or parts.query or parts.fragment or parts.username or len(value) > 300:
        raise ServiceError("invalid", f"{value!r} has more than scheme://host[:port]")
    return value


def _signer(rt: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(rt.secret_key, salt="pounce.set-password")


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


def password_link(rt: Runtime, user: User) -> str:
    """A link to the console's set-password page for `user`, good for LINK_HOURS and for
    one use: it names the current password hash, which setting a password replaces."""
    token = _signer(rt).dumps(
        {"o": user.org_id, "u": user.id, "p": _fingerprint(user.password_hash)}
    )
    return f"{rt.settings.resolved_public_url()}/app/#/set-password/{quote(token, safe='')}"


async def _org_exists(rt: Runtime) -> bool:
    async with rt.db.read() as conn:
        return await org_store.any_org(conn)


async def setup_required(rt: Runtime) -> bool:
    """True until the install has an org: the console then offers its first-run screen."""
    return not await _org_exists(rt)


async def _create(
    rt: Runtime,
    *,
    org_name: str,
    name: str,
    email: str,
    password_hash: str,
    website: str | None,
    only_first: bool,
) -> tuple[str, User, Site]:
    try:
        async with rt.db.write() as conn:
            if only_first:
                await org_store.lock_orgs(conn)
                if await org_store.any_org(conn):
                    raise ServiceError("conflict", "Pounce is set up already: sign in.")
            org_id = await accounts.create_org(conn, name=org_name)
            admin = await accounts.create_user(
                conn,
                org_id=org_id,
                email=email,
                name=name,
                password_hash=password_hash,
                role=Role.ADMIN,
            )
            site = await accounts.create_site(
                conn,
                org_id=org_id,
                name=f"{org_name} website",
                allowed_origins=[website] if website else [],
            )
    except IntegrityError:
        raise ServiceError("conflict", f"A user with email {email} exists already.") from None
    return org_id, admin, site


async def add_org(
    rt: Runtime, *, name: str, admin_email: str, admin_name: str, website: str | None = None
) -> NewOrg:
    """An org, its first admin (no password yet: see `link`) and its first site."""
    org_name, person, email = check_fields(org_name=name, name=admin_name, email=admin_email)
    origin = check_origin(website) if website else None
    org_id, admin, site = await _create(
        rt,
        org_name=org_name,
        name=person,
        email=email,
        password_hash=NO_PASSWORD + secrets.token_urlsafe(16),
        website=origin,
        only_first=False,
    )
    return NewOrg(org_id, org_name, admin, site, password_link(rt, admin))


async def first_run(
    rt: Runtime,
    *,
    org_name: str,
    name: str,
    email: str,
    password: str,
    website: str | None = None,
) -> tuple[NewOrg, SessionInfo]:
    """The install's first org and admin, signed in; refused once any org exists, and of
    concurrent attempts exactly one succeeds."""
    org_name, person, email = check_fields(org_name=org_name, name=name, email=email)
    origin = check_origin(website) if website else None
    if await _org_exists(rt):  # cheap refusal before the costly hash
        raise ServiceError("conflict", "Pounce is set up already: sign in.")
    org_id, admin, site = await _create(
        rt,
        org_name=org_name,
        name=person,
        email=email,
        password_hash=await hash_password(rt, password),
        website=origin,
        only_first=True,
    )
    return NewOrg(org_id, org_name, admin, site, ""), await open_session(rt, admin)


async def user_for_link(rt: Runtime, token: str) -> tuple[User, str]:
    """The user a set-password link is for, and their org's name; refused when the link
    is forged, expired or used."""
    try:
        data = _signer(rt).loads(token, max_age=LINK_HOURS * 3600)
    except SignatureExpired:
        raise ServiceError(
            "link_expired",
            f"This link has expired (links work for {LINK_HOURS} hours): ask for a new one.",
        ) from None
    except BadSignature:
        raise ServiceError("link_invalid", "This link is not valid: copy the whole link.") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in "oup"):
        raise ServiceError("link_invalid", "This link is not valid: copy the whole link.")
    async with rt.db.read() as conn:
        user = await accounts.get_user(conn, org_id=data["o"], user_id=data["u"])
        org = await accounts.get_org(conn, data["o"])
    if user is None or org is None:
        raise ServiceError("link_invalid", "This link's account no longer exists.")
    if _fingerprint(user.password_hash) != data["p"]:
        raise ServiceError(
            "link_used", "This link was used already: sign in with the password chosen then."
        )
    return user, str(org["name"])


async def set_password(rt: Runtime, *, token: str, password: str) -> SessionInfo:
    """Use a set-password link once: store the password and sign its user in."""
    user, _ = await user_for_link(rt, token)
    new_hash = await hash_password(rt, password)
    async with rt.db.write() as conn:
        won = await org_store.replace_password_hash(
            conn,
            org_id=user.org_id,
            user_id=user.id,
            old_hash=user.password_hash,
            new_hash=new_hash,
        )
    if not won:
        raise ServiceError(
            "link_used", "This link was used already: sign in with the password chosen then."
        )
    return await open_session(rt, user)


async def list_orgs(rt: Runtime) -> list[tuple[str, str, int]]:
    """Every org of the install: id, name and number of active users (`pounce org list`)."""
    async with rt.db.read() as conn:
        return await org_store.list_orgs(conn)


async def link_for_email(rt: Runtime, email: str) -> str:
    """A fresh set-password link for an existing user (e.g. when theirs expired)."""
    async with rt.db.read() as conn:
        user = await accounts.find_user_by_email(conn, email.strip().lower())
    if user is None:
        raise ServiceError("not_found", f"No user has the email {email}.")
    return password_link(rt, user)


async def open_session(rt: Runtime, user: User) -> SessionInfo:
    """A new session for `user` (as a login makes); the raw token goes in the cookie only."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    async with rt.db.write() as conn:
        await accounts.create_session(
            conn,
            org_id=user.org_id,
            user_id=user.id,
            token_hash=token_hash(token),
            csrf_token=csrf,
            expires_at=now() + timedelta(days=rt.settings.session_days),
        )
    return SessionInfo(user=user, csrf_token=csrf, token=token)
