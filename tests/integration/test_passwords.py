"""Password hashing: argon2 with RFC 9106's parameters by default, computed on threads
of its own so a login never stalls the sockets of its process; the cheapest parameters
only when a test server asks for them, and then the server says so."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from pounce.app import create_app
from pounce.config import Settings
from pounce.domain.model import Role
from pounce.services import admin, auth
from pounce.services.errors import ServiceError
from pounce.store.records import User
from tests.support.harness import Harness, harness
from tests.support.stack import migrated_sqlite

STANDARD = "$argon2id$v=19$m=65536,t=3,p=4$"
CHEAPEST = "$argon2id$v=19$m=8,t=1,p=1$"
PASSPHRASE = "correct horse battery"


async def _new_rep(h: Harness) -> User:
    """A rep added through the admin service, so hashed with the server's setting."""
    return await admin.add_user(
        h.rt,
        org_id=h.org.id,
        email="new@acme.test",
        name="New Rep",
        password=PASSPHRASE,
        role=Role.REP,
    )


async def test_logins_are_checked_off_the_event_loop(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        user = await _new_rep(h)
        assert user.password_hash.startswith(STANDARD)
        work = {
            "check": auth.verify_password(h.rt, user.password_hash, PASSPHRASE),
            "dummy check": auth.verify_password(h.rt, None, PASSPHRASE),
            "hash": auth.hash_password(h.rt, "another passphrase"),
        }
        done = {}
        for what, coroutine in work.items():
            task = asyncio.ensure_future(coroutine)
            # The task's first step runs here: done on the loop, it would have finished.
            await asyncio.sleep(0)
            assert not task.done(), f"the {what} ran on the event loop"
            done[what] = await task
        assert done["check"] is True and done["dummy check"] is False
        assert str(done["hash"]).startswith(STANDARD)

        session = await auth.login(
            h.rt, email=user.email, password=PASSPHRASE, client_ip="127.0.0.9"
        )
        assert session.user.id == user.id
        with pytest.raises(ServiceError) as unknown:
            await auth.login(h.rt, email="nobody@acme.test", password="x", client_ip="127.0.0.9")
        assert unknown.value.code == "not_authenticated"


async def test_the_cheapest_parameters_only_when_asked_and_either_kind_verifies(
    tmp_path: Path,
) -> None:
    hashes = {}
    for fast in (False, True):
        path = tmp_path / ("fast" if fast else "standard")
        path.mkdir()
        async with harness(path, insecure_fast_password_hashing=fast) as h:
            user = await _new_rep(h)
            hashes[fast] = user.password_hash
            # verified with the parameters stored in each hash, whatever the setting
            for stored in hashes.values():
                assert await auth.verify_password(h.rt, stored, PASSPHRASE)
                assert not await auth.verify_password(h.rt, stored, "a wrong guess")
    assert hashes[False].startswith(STANDARD)
    assert hashes[True].startswith(CHEAPEST)


async def test_a_server_with_insecure_hashing_warns_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = migrated_sqlite(tmp_path / "pounce.db")
    for fast in (False, True):
        caplog.clear()
        settings = Settings(
            var_dir=tmp_path,
            database_url=url,
            secret_key="warn-test-secret-key-0123456789",
            insecure_fast_password_hashing=fast,
        )
        app = create_app(settings, run_worker=False)
        with caplog.at_level(logging.WARNING, logger="pounce"):
            async with app.router.lifespan_context(app):
                pass
        warned = [r for r in caplog.records if "INSECURE_FAST_PASSWORD_HASHING" in r.message]
        assert bool(warned) is fast


async def test_password_work_waiting_at_once_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "MAX_PENDING_HASHES", 2)
    async with harness(tmp_path) as h, h.http() as rest:
        stored = (await _new_rep(h)).password_hash  # standard: each check takes a while
        waiting = [asyncio.ensure_future(auth.verify_password(h.rt, stored, PASSPHRASE))]
        waiting.append(asyncio.ensure_future(auth.verify_password(h.rt, None, PASSPHRASE)))
        await asyncio.sleep(0)  # both are on the hashing threads or queued for them
        with pytest.raises(ServiceError) as refused:
            await auth.verify_password(h.rt, stored, PASSPHRASE)
        assert refused.value.code == "unavailable"
        assert refused.value.extra == {"retry_after_seconds": 1}
        login = await rest.post(
            "/api/v1/session", json={"email": "new@acme.test", "password": PASSPHRASE}
        )
        assert login.status_code == 503 and login.headers["Retry-After"] == "1", login.text
        assert login.json()["code"] == "unavailable"
        assert await asyncio.gather(*waiting) == [True, False]
        # the queue drained: the same sign-in goes through
        again = await rest.post(
            "/api/v1/session", json={"email": "new@acme.test", "password": PASSPHRASE}
        )
        assert again.status_code == 200, again.text
