"""Failed logins slow the address that makes them, not the account's owner elsewhere: the
throttle is per (email, client address) and per client address, never per email alone.
Clients bind to 127.0.0.2, 127.0.0.3 … to be different addresses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.integration.conftest import World
from tests.support.seed import PASSWORD


@asynccontextmanager
async def _from(base: str, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=base, transport=transport) as client:
        yield client


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/session", json={"email": email, "password": password})


async def test_a_guesser_elsewhere_does_not_lock_the_owner_out(world: World) -> None:
    owner = world.org.reps[0].email
    async with _from(world.url, "127.0.0.2") as attacker:
        guesses = [(await _login(attacker, owner, f"guess {i}")).status_code for i in range(5)]
        assert guesses == [401] * 5
        # Locked now (1 s, doubling with each further failure): even the right password
        # from this address is refused without being checked.
        refused = await _login(attacker, owner, PASSWORD)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["code"] == "rate_limited"
        assert refused.json()["retry_after_seconds"] >= 1
        more = {(await _login(attacker, owner, f"again {i}")).status_code for i in range(7)}
        assert 429 in more and more <= {401, 429}, more
    async with _from(world.url, "127.0.0.3") as usual:
        res = await _login(usual, owner, PASSWORD)
        assert res.status_code == 200, res.text
        assert res.json()["user"]["email"] == owner


# The throttle lives in the server process whatever the store, and each of the 50 failed
# logins costs an argon2 check: once, on the embedded stack.
@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_an_address_guessing_many_accounts_is_slowed_others_are_not(world: World) -> None:
    """Past 50 failures across accounts, the address waits; another address does not."""
    victim = world.org.reps[1].email
    async with _from(world.url, "127.0.0.4") as sprayer:
        codes = [
            (await _login(sprayer, f"user{i}-{world.org.id}@example.test", "x")).status_code
            for i in range(50)
        ]
        assert codes == [401] * 50, codes
        res = await _login(sprayer, victim, PASSWORD)  # a fresh account, the same address
        assert res.status_code == 429, res.text
    async with _from(world.url, "127.0.0.5") as colleague:
        assert (await _login(colleague, victim, PASSWORD)).status_code == 200
