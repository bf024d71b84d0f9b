"""`Recent`: the few-seconds cache of sites, users and settings in front of the store."""

from __future__ import annotations

import asyncio

import pytest

from pounce.services.runtime import Recent


class Store:
    """A read that waits until released, counting how often it ran."""

    def __init__(self) -> None:
        self.reads = 0
        self.value = "v1"
        self.release = asyncio.Event()

    async def read(self) -> str:
        self.reads += 1
        await self.release.wait()
        return self.value


async def test_misses_at_the_same_moment_share_one_read() -> None:
    cache: Recent[str, str] = Recent(60)
    store = Store()
    gets = [asyncio.create_task(cache.get("k", store.read)) for _ in range(50)]
    await asyncio.sleep(0)
    store.release.set()
    assert await asyncio.gather(*gets) == ["v1"] * 50
    assert store.reads == 1
    assert await cache.get("k", store.read) == "v1"  # kept
    assert store.reads == 1


async def test_a_read_under_way_when_forgotten_is_not_kept() -> None:
    cache: Recent[str, str] = Recent(60)
    store = Store()
    first = asyncio.create_task(cache.get("k", store.read))
    await asyncio.sleep(0)
    store.value = "v2"  # an edit on this node, while the read is under way
    cache.forget("k")
    store.release.set()
    await first
    assert await cache.get("k", store.read) == "v2"
    assert store.reads == 2


async def test_a_failed_read_reaches_every_waiter_and_is_not_kept() -> None:
    cache: Recent[str, str] = Recent(60)
    calls = 0

    async def broken() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        raise RuntimeError("store down")

    gets = [asyncio.create_task(cache.get("k", broken)) for _ in range(3)]
    outcomes = await asyncio.gather(*gets, return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes) and calls == 1
    with pytest.raises(RuntimeError):
        await cache.get("k", broken)
    assert calls == 2


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    cache: Recent[str, str] = Recent(60)
    store = Store()
    a = asyncio.create_task(cache.get("k", store.read))
    b = asyncio.create_task(cache.get("k", store.read))
    await asyncio.sleep(0)
    a.cancel()
    store.release.set()
    assert await b == "v1"
    assert a.cancelled() and store.reads == 1
