"""Rep login, sessions, CSRF tokens, rate limiting and signed visitor tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer

from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime
from pounce.store import accounts
from pounce.store.records import User, as_utc, now

SESSION_COOKIE = "pounce_session"
_hasher = PasswordHasher()
# A real hash to verify against when the email is unknown, so timing does not tell.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RateLimiter:
    """A sliding window of failed attempts per key (login: per address and per email)."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = {}

    def _recent(self, key: str, at: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= at - self.window:
            hits.popleft()
        return hits

    def blocked(self, key: str, at: float | None = None) -> bool:
        at = time.monotonic() if at is None else at
        return len(self._recent(key, at)) >= self.limit

    def hit(self, key: str, at: float | None = None) -> None:
        at = time.monotonic() if at is None else at
        self._recent(key, at).append(at)
        if len(self._hits) > 10_000:
            self._hits = {k: v for k, v in self._hits.items() if v}


# Failed logins only: 10 a minute per account, 100 a minute per address (offices share one).
email_limiter = RateLimiter(limit=10, window_seconds=60.0)
address_limiter = RateLimiter(limit=100, window_seconds=60.0)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    user: User
    csrf_token: str
    token: str | None = None


async def login(rt: Runtime, *, email: str, password: str, client_ip: str) -> SessionInfo:
    """Check the password and open a session; the raw token goes in the cookie only."""
    email = email.strip().lower()
    if email_limiter.blocked(email) or address_limiter.blocked(client_ip):
        raise ServiceError("rate_limited", "Too many failed logins; wait a minute and retry.")
    async with rt.db.read() as conn:
        user = await accounts.find_user_by_email(conn, email)
    if user is None:
        verify_password(_DUMMY_HASH, password)
    if user is None or not verify_password(user.password_hash, password):
        email_limiter.hit(email)
        address_limiter.hit(client_ip)
        raise ServiceError("not_authenticated", "Wrong email or password.")
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


async def session_for(rt: Runtime, token: str | None) -> SessionInfo | None:
    if not token or len(token) > 200:
        return None
    async with rt.db.read() as conn:
        found = await accounts.get_session(conn, token_hash(token))
    if found is None:
        return None
    user, csrf, expires_at = found
    if as_utc(expires_at) <= now():
        return None
    return SessionInfo(user=user, csrf_token=csrf)


async def logout(rt: Runtime, token: str) -> None:
    async with rt.db.write() as conn:
        await accounts.delete_session(conn, token_hash(token))


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given or "")


def _visitor_signer(rt: Runtime) -> URLSafeSerializer:
    return URLSafeSerializer(rt.secret_key, salt="pounce.visitor")


def sign_visitor(rt: Runtime, *, org_id: str, visitor_id: str) -> str:
    return _visitor_signer(rt).dumps({"o": org_id, "v": visitor_id})


def read_visitor_token(rt: Runtime, token: str, *, org_id: str) -> str | None:
    """The visitor id in a token we signed for this org, else None."""
    try:
        data = _visitor_signer(rt).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("o") != org_id or not isinstance(data.get("v"), str):
        return None
    return str(data["v"])
