"""The Redis bus's publishing connection against a real Redis: order, waiting, resend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from pounce.realtime.redis import Publisher, resp
from tests.conftest import require_services
from tests.support.services import PrivateRedis


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    require_services()
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _subscribed(url: str, channel: str) -> tuple[aioredis.Redis, Any]:
    client = aioredis.from_url(url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    await pubsub.get_message(timeout=1)  # the confirmation
    return client, pubsub


async def _receive(pubsub: Any, distinct: int, timeout: float = 10) -> list[bytes]:
    """Every payload until `distinct` different ones have arrived (repeats kept)."""
    got: list[bytes] = []
    async with asyncio.timeout(timeout):
        while len(set(got)) < distinct:
            message = await pubsub.get_message(timeout=1)
            if message is not None:
                got.append(message["data"])
    return got


async def _until(condition: Callable[[], bool], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def _frames(channel: bytes, numbers: range) -> list[bytes]:
    return [resp(b"PUBLISH", channel, b"%d" % i) for i in numbers]


async def test_frames_wait_for_a_connection_and_are_resent_after_losing_it(
    private_redis: PrivateRedis,
) -> None:
    client, pubsub = await _subscribed(private_redis.url, "pounce:t")
    publisher = Publisher(private_redis.url)
    try:
        # Posted before there is any connection: they wait, then leave in order.
        for frame in _frames(b"pounce:t", range(100)):
            publisher.post(frame)
        assert len(publisher.queued) == 100 and publisher.transport is None
        await publisher.connect()
        assert await _receive(pubsub, 100) == [b"%d" % i for i in range(100)]
        await _until(lambda: not publisher.unanswered)  # Redis answered each one

        # The connection dies with frames unanswered: they are written again, in order.
        for frame in _frames(b"pounce:t", range(100, 200)):
            publisher.post(frame)
        publisher.abort()
        await _until(lambda: publisher.transport is None)
        assert len(publisher.queued) == 100  # none answered, none forgotten
        await publisher.connect()
        got = await _receive(pubsub, 100)
        first_seen = list(dict.fromkeys(got))
        assert first_seen == [b"%d" % i for i in range(100, 200)]
        await _until(lambda: not publisher.unanswered and not publisher.queued)
    finally:
        publisher.close()
        await pubsub.aclose()
        await client.aclose()


async def test_the_publisher_authenticates_with_the_urls_password(
    private_redis: PrivateRedis,
) -> None:
    redis.Redis(port=private_redis.port).config_set("requirepass", "s3cret:/x")
    url = f"redis://:s3cret%3A%2Fx@127.0.0.1:{private_redis.port}/0"
    client, pubsub = await _subscribed(url, "pounce:auth")
    publisher = Publisher(url)
    try:
        await publisher.connect()
        publisher.post(resp(b"PUBLISH", b"pounce:auth", b"hello"))
        assert await _receive(pubsub, 1) == [b"hello"]
        await _until(lambda: not publisher.unanswered)
    finally:
        publisher.close()
        await pubsub.aclose()
        await client.aclose()
