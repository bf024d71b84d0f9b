"""Rep login, sessions, CSRF tokens, rate limiting and signed visitor tokens."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer

from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime
from pounce.store import accounts
from pounce.store.records import User, as_utc, now

SESSION_COOKIE = "pounce_session"
_T = TypeVar("_T")
# argon2-cffi's default (RFC 9106, low memory: 64 MiB, 3 passes, 4 lanes): about 0.13 s
# of CPU per hash or check.
_STANDARD = PasswordHasher()
# `insecure_fast_password_hashing` (test servers only): the cheapest parameters.
_FAST = PasswordHasher.from_parameters(profiles.CHEAPEST)
# Hashes and checks run here, never on the event loop, where each would stall every
# socket of the process; two at a time bound their memory.
HASHING_THREADS = 2
# Hashes and checks waiting or running at once (a few seconds of work); past it a
# sign-in is refused at once (503, retry in 1 s) instead of queueing without end.
MAX_PENDING_HASHES = 64
_pending = 0


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(HASHING_THREADS, thread_name_prefix="password-hash")


def _hasher(rt: Runtime) -> PasswordHasher:
    return _FAST if rt.settings.insecure_fast_password_hashing else _STANDARD


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """A real hash to verify against when the email is unknown, so timing does not tell;
    made on first use rather than at import (it costs as much as a login)."""
    return hasher.hash("not-a-real-password")


def _verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def _off_the_loop(work: Callable[[], _T]) -> _T:
    global _pending
    if _pending >= MAX_PENDING_HASHES:
        raise ServiceError(
            "unavailable", "Too many sign-ins at once; retry in a moment.", retry_after_seconds=1
        )
    _pending += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool(), work)
    finally:
        _pending -= 1


async def hash_password(rt: Runtime, password: str) -> str:
    """A new password's hash, computed off the event loop; call it outside transactions."""
    return await _off_the_loop(functools.partial(_hasher(rt).hash, password))


async def verify_password(rt: Runtime, password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; None checks against a dummy hash (same cost), for an
    account that does not exist. Verified with the parameters stored in the hash."""
    hasher = _hasher(rt)

    def check() -> bool:
        if password_hash is None:
            _verify(hasher, _dummy_hash(hasher), password)
            return False
        return _verify(hasher, password_hash, password)

    return await _off_the_loop(check)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RateLimiter:
    """A sliding window of attempts per key (the copilot's requests per rep)."""

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


@dataclass(slots=True)
class _Strikes:
    failures: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class Throttle:
    """Failed attempts per key, with growing delays.

    The first `free` failures cost nothing; each one after locks the key for
    `base * 2 ** (n - free)` seconds (n: failures so far), at most `ceiling`. A key with
    no failure for `forget` seconds starts afresh. At most `max_keys` keys are kept; past
    that the one that failed least recently is dropped.
    """

    def __init__(
        self,
        *,
        free: int,
        base: float = 1.0,
        ceiling: float = 900.0,
        forget: float = 3600.0,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.base = base
        self.ceiling = ceiling
        self.forget = forget
        self.max_keys = max_keys
        self.clock = clock
        self._keys: OrderedDict[Hashable, _Strikes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def _current(self, key: Hashable, at: float) -> _Strikes | None:
        strikes = self._keys.get(key)
        if strikes is not None and at - strikes.last >= self.forget:
            del self._keys[key]
            return None
        return strikes

    def wait(self, key: Hashable) -> float:
        """Seconds until `key` may try again (0: now)."""
        at = self.clock()
        strikes = self._current(key, at)
        return max(0.0, strikes.locked_until - at) if strikes else 0.0

    def failed(self, key: Hashable) -> None:
        at = self.clock()
        strikes = self._current(key, at) or _Strikes()
        strikes.failures += 1
        strikes.last = at
        over = strikes.failures - self.free
        if over >= 0:
            strikes.locked_until = at + min(self.ceiling, self.base * 2.0 ** min(over, 64))
        self._keys[key] = strikes
        self._keys.move_to_end(key)
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def succeeded(self, key: Hashable) -> None:
        self._keys.pop(key, None)


# Failed logins. Per (account, address): the owner's own address is never slowed by
# someone else's guesses from another. Per address, across accounts: more room, as an
# office shares one address, but a guesser trying many accounts is slowed as well.
account_throttle = Throttle(free=5)
address_throttle = Throttle(free=50)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    user: User
    csrf_token: str
    token: str | None = None


async def login(rt: Runtime, *, email: str, password: str, client_ip: str) -> SessionInfo:
    """Check the password and open a session; the raw token goes in the cookie only.
    Failures are throttled per (email, client address) and per client address."""
    email = email.strip().lower()
    pair = (email, client_ip)
    wait = max(account_throttle.wait(pair), address_throttle.wait(client_ip))
    if wait > 0:
        seconds = math.ceil(wait)
        raise ServiceError(
            "rate_limited",
            f"Too many failed logins from this address; retry in {seconds} s.",
            retry_after_seconds=seconds,
        )
    async with rt.db.read() as conn:
        user = await accounts.find_user_by_email(conn, email)
    matched = await verify_password(rt, None if user is None else user.password_hash, password)
    if user is None or not matched:
        account_throttle.failed(pair)
        address_throttle.failed(client_ip)
        raise ServiceError("not_authenticated", "Wrong email or password.")
    account_throttle.succeeded(pair)
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
    return _signer(rt.secret_key)


@functools.lru_cache(maxsize=8)
def _signer(secret_key: str) -> URLSafeSerializer:
    """One serializer per key (made on every messenger connect otherwise)."""
    return URLSafeSerializer(secret_key, salt="pounce.visitor")


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
