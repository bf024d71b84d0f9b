"""Redis implementations of Bus and Presence for running many processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast
from urllib.parse import unquote, urlparse

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pounce import metrics
from pounce.realtime import connection
from pounce.realtime.bus import CONNECTION_PREFIX, Deliver, Handler, LocalBus, Unsubscribe
from pounce.realtime.presence import LocalPresence

log = logging.getLogger(__name__)

PREFIX = "pounce:"
PRESENCE_TTL = 30.0
HEARTBEAT = 10.0
BACKLOG_LIMIT = 10_000
PUBLISH_TIMEOUT = 5.0  # no reply for this long: the publishing connection is dead
ReconnectHook = Callable[[], Awaitable[None]]


def _client(url: str) -> aioredis.Redis:
    """A client that retries once on a stale pooled connection (after a Redis restart)."""
    return aioredis.from_url(
        url,
        socket_timeout=5,
        socket_connect_timeout=2,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def resp(*parts: bytes) -> bytes:
    """One command in RESP, the protocol Redis speaks."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class Publisher(asyncio.Protocol):
    """A node's one publishing connection, speaking RESP itself.

    `post` writes PUBLISH straight to the socket (no task wakes up, no pipeline object;
    this halves the hop through Redis) and keeps the frame until Redis's reply to it
    arrives; replies come back in order, so each one settles the oldest frame. If the
    connection is lost, what was not answered goes back to the front of the queue and
    is written again, in order, once `connect` succeeds.
    """

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 6379
        self.tls = parsed.scheme == "rediss"
        self.auth: list[bytes] = []
        if parsed.password is not None:
            user = unquote(parsed.username) if parsed.username else None
            self.auth = [unquote(parsed.password).encode()]
            if user:
                self.auth.insert(0, user.encode())
        self.transport: asyncio.Transport | None = None
        self.queued: deque[bytes] = deque()  # not written yet (no connection)
        self.unanswered: deque[bytes] = deque()  # written, no reply yet
        self._skip = 0  # replies to commands that are not a frame (AUTH)
        self._buffer = b""
        self.waiting_since = 0.0  # when the oldest unanswered frame began to wait
        self.lost: asyncio.Event = asyncio.Event()

    # -- used by RedisBus -------------------------------------------------------------
    def post(self, command: bytes) -> None:
        if len(self.queued) + len(self.unanswered) >= BACKLOG_LIMIT:
            # Bounded: the oldest frame goes (subscribers resume from the store).
            (self.queued or self.unanswered).popleft()
        if self.transport is None:
            self.queued.append(command)
            return
        if not self.unanswered:
            self.waiting_since = time.monotonic()
        self.unanswered.append(command)
        self.transport.write(command)

    def stalled(self, after: float) -> bool:
        """Frames have waited `after` seconds for an answer: the connection is dead."""
        return bool(self.unanswered) and time.monotonic() - self.waiting_since > after

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(
            loop.create_connection(
                lambda: self, self.host, self.port, ssl=True if self.tls else None
            ),
            timeout=2,
        )

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._buffer = b""
        self.lost.clear()
        out = []
        if self.auth:
            out.append(resp(b"AUTH", *self.auth))
            self._skip = 1
        # What was never answered first, then what waited for a connection: in order.
        self.unanswered.extend(self.queued)
        self.queued.clear()
        out.extend(self.unanswered)
        self.waiting_since = time.monotonic()
        if out:
            self.transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        start = 0
        while True:
            end = buffer.find(b"\r\n", start)
            if end < 0:
                break
            # PUBLISH answers with an integer (":<receivers>"); errors start with "-".
            if buffer[start : start + 1] == b"-":
                log.warning("redis refused a command: %s", buffer[start + 1 : end].decode()[:200])
            if self._skip:
                self._skip -= 1
            elif self.unanswered:
                self.unanswered.popleft()
            start = end + 2
        self._buffer = buffer[start:]
        self.waiting_since = time.monotonic()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._skip = 0
        # Unanswered frames are written again after the reconnect (a frame Redis did
        # deliver may then arrive twice; clients drop the second by its seq).
        self.queued.extendleft(reversed(self.unanswered))
        self.unanswered.clear()
        self.lost.set()


class RedisBus:
    """Redis pub/sub: one subscriber connection per process fans out to local handlers.

    If Redis goes away, publishing fails softly (the store already has the data) and
    the reader reconnects with backoff, resubscribes, then runs the reconnect hooks
    so clients resume from the store and nothing published meanwhile is missed.
    """

    def __init__(
        self, url: str, *, node: str | None = None, deliver: Deliver = connection.deliver
    ) -> None:
        self.url = url
        self.node = node or connection.NODE
        # Frames for one socket of this node arrive on its node channel, "topic\ndata".
        self._node_channel = f"{PREFIX}node:{self.node}"
        self._local = LocalBus(deliver)
        self._client: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._healthy = False
        self._topics: set[str] = set()
        self.reconnects = 0
        self.on_reconnect: list[ReconnectHook] = []
        self._publisher = Publisher(url)
        self._sender: asyncio.Task[None] | None = None

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def start(self) -> None:
        self._client = _client(self.url)
        self._reader = asyncio.create_task(self._read_forever(), name="redis-bus")
        self._sender = asyncio.create_task(self._send_forever(), name="redis-publish")

    async def close(self) -> None:
        for task in (self._reader, self._sender):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._publisher.close()
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()

    async def publish(self, topic: str, data: bytes) -> None:
        self.post_many((topic,), data)

    def post_many(self, topics: Iterable[str], data: bytes) -> None:
        """Send a frame to Redis now; if it cannot go now, it goes in order later.

        One connection per node carries every frame the node publishes, in the order
        they were published (several pooled connections could reorder them). If Redis
        fails, frames wait (bounded, see `Publisher`) and are sent after the
        reconnect: a node whose connection went stale (Redis restarted) would otherwise
        lose frames that subscribers who already reconnected will never resume for.
        While Redis is really down, subscribers lose their own connection too and
        resume from the store when it returns.
        """
        publisher = self._publisher
        for topic in topics:
            if topic.startswith(CONNECTION_PREFIX):
                node = connection.node_of(topic[len(CONNECTION_PREFIX) :])
                if node == self.node:  # this node's socket: no hop through Redis
                    self._local.dispatch(topic, data)
                elif node is not None:
                    channel = f"{PREFIX}node:{node}".encode()
                    publisher.post(resp(b"PUBLISH", channel, topic.encode() + b"\n" + data))
                continue
            publisher.post(resp(b"PUBLISH", (PREFIX + topic).encode(), data))

    async def _send_forever(self) -> None:
        """Keep the publishing connection up: reconnect with backoff when it drops."""
        publisher = self._publisher
        delay = 0.05
        while True:
            try:
                await publisher.connect()
            except (OSError, TimeoutError) as exc:
                log.warning("redis publish connection failed (%s); retrying in %.2f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            delay = 0.05
            while not publisher.lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(publisher.lost.wait(), 1.0)
                if publisher.stalled(PUBLISH_TIMEOUT):
                    log.warning("redis did not answer for %.0f s; reconnecting", PUBLISH_TIMEOUT)
                    publisher.abort()
                    await publisher.lost.wait()

    async def subscribe(self, topics: Iterable[str], handler: Handler) -> Unsubscribe:
        names = tuple(dict.fromkeys(topics))
        fresh = [n for n in names if not self._local.has_subscribers(n)]
        local_unsubscribe = await self._local.subscribe(names, handler)
        self._topics.update(names)
        if fresh and self._pubsub is not None and self._healthy:
            try:
                await self._pubsub.subscribe(*(PREFIX + n for n in fresh))
            except (RedisError, OSError) as exc:
                self._healthy = False
                log.warning("redis subscribe failed (%s); will resubscribe on reconnect", exc)

        async def unsubscribe() -> None:
            await local_unsubscribe()
            gone = [n for n in names if not self._local.has_subscribers(n)]
            self._topics.difference_update(gone)
            if gone and self._pubsub is not None and self._healthy:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(*(PREFIX + n for n in gone))

        return unsubscribe

    async def _connect(self) -> None:
        assert self._client is not None
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        # The node's own channel (frames for one of its sockets) also keeps the connection
        # in subscribe mode when there are no topics.
        await self._pubsub.subscribe(self._node_channel, *(PREFIX + t for t in self._topics))

    async def _read_forever(self) -> None:
        delay = 0.2
        first = True
        while True:
            try:
                await self._connect()
                self._healthy = True
                if not first:
                    self.reconnects += 1
                    metrics.BUS_RECONNECTS.inc()
                    log.info("redis bus reconnected")
                    for hook in list(self.on_reconnect):
                        with contextlib.suppress(Exception):
                            await hook()
                first = False
                delay = 0.2
                while True:
                    message = await self._pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    channel = message["channel"]
                    channel = channel.decode() if isinstance(channel, bytes) else str(channel)
                    data = message["data"]
                    if channel == self._node_channel:
                        topic, _, data = data.partition(b"\n")
                        channel = PREFIX + topic.decode()
                    self._local.dispatch(channel.removeprefix(PREFIX), data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._healthy:
                    log.warning("redis bus lost (%s); reconnecting", exc)
                self._healthy = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


class RedisPresence:
    """Online state in Redis sorted sets scored by expiry, refreshed by heartbeats.

    A node that dies stops refreshing its connections, so they drop out after the TTL.
    While Redis is unreachable the node answers from what it knows locally.
    """

    def __init__(self, url: str, *, ttl: float = PRESENCE_TTL) -> None:
        self.url = url
        self.ttl = ttl
        self._client: aioredis.Redis | None = None
        self._local = LocalPresence()
        self._mine: dict[str, tuple[str, str]] = {}  # zset key member -> (org, kind)
        self._beat: asyncio.Task[None] | None = None
        self._healthy = False

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def start(self) -> None:
        self._client = _client(self.url)
        try:
            await self._client.ping()
            self._healthy = True
        except (RedisError, OSError) as exc:
            log.warning("redis presence unreachable at start: %s", exc)
        self._beat = asyncio.create_task(self._heartbeat(), name="redis-presence")

    async def close(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
        if self._client is not None:
            with contextlib.suppress(Exception):
                pipe = self._client.pipeline()
                for member, (org, kind) in self._mine.items():
                    who, _, conn_id = member.partition("|")
                    pipe.zrem(self._key(org, kind), member)
                    pipe.zrem(self._who_key(org, kind, who), conn_id)
                await pipe.execute()
            with contextlib.suppress(Exception):
                await self._client.aclose()

    async def check(self) -> bool:
        try:
            await self._call(lambda r: r.ping())
        except (RedisError, OSError):
            return False
        return True

    def _key(self, org_id: str, kind: str) -> str:
        return f"{PREFIX}presence:{org_id}:{kind}"

    def _who_key(self, org_id: str, kind: str, who: str) -> str:
        """One rep's or visitor's own connections: "is X online" without the org's list."""
        return f"{PREFIX}presence:{org_id}:{kind}:who:{who}"

    def _info_key(self, org_id: str) -> str:
        return f"{PREFIX}presence:{org_id}:visitor_info"

    async def _call(self, fn: Callable[[aioredis.Redis], Awaitable[Any]]) -> Any:
        assert self._client is not None
        try:
            result = await fn(self._client)
            self._healthy = True
            return result
        except (RedisError, OSError) as exc:
            if self._healthy:
                log.warning("redis presence failed (%s); answering from this node", exc)
            self._healthy = False
            raise

    async def _members(self, org_id: str, kind: str) -> dict[str, set[str]]:
        now = time.time()
        raw = await self._call(lambda r: r.zrangebyscore(self._key(org_id, kind), now, "+inf"))
        found: dict[str, set[str]] = {}
        for item in raw:
            text = item.decode() if isinstance(item, bytes) else str(item)
            who, _, conn = text.partition("|")
            found.setdefault(who, set()).add(conn)
        return found

    async def _live_connections(self, org_id: str, kind: str, who: str) -> int:
        key = self._who_key(org_id, kind, who)
        return int(await self._call(lambda r: r.zcount(key, time.time(), "+inf")))

    async def _add(self, org_id: str, kind: str, who: str, conn_id: str) -> bool:
        """Register a connection; True if `who` had no live one before."""
        member = f"{who}|{conn_id}"
        self._mine[member] = (org_id, kind)
        expires = time.time() + self.ttl
        who_key = self._who_key(org_id, kind, who)

        async def add(r: aioredis.Redis) -> Any:
            pipe = r.pipeline(transaction=False)
            pipe.zcount(who_key, time.time(), "+inf")
            pipe.zadd(self._key(org_id, kind), {member: expires})
            pipe.zadd(who_key, {conn_id: expires})
            pipe.expire(who_key, int(self.ttl) + 1)
            return await pipe.execute()

        try:
            before, *_ = await self._call(add)
            return not before
        except (RedisError, OSError):
            return True

    async def _remove(self, org_id: str, kind: str, who: str, conn_id: str) -> bool:
        """Forget a connection; True if `who` has no live one left."""
        member = f"{who}|{conn_id}"
        self._mine.pop(member, None)
        who_key = self._who_key(org_id, kind, who)

        async def remove(r: aioredis.Redis) -> Any:
            pipe = r.pipeline(transaction=False)
            pipe.zrem(self._key(org_id, kind), member)
            pipe.zrem(who_key, conn_id)
            pipe.zcount(who_key, time.time(), "+inf")
            return await pipe.execute()

        try:
            *_, left = await self._call(remove)
            return not left
        except (RedisError, OSError):
            return True

    async def rep_connected(self, org_id: str, user_id: str, conn_id: str) -> bool:
        await self._local.rep_connected(org_id, user_id, conn_id)
        return await self._add(org_id, "reps", user_id, conn_id)

    async def rep_disconnected(self, org_id: str, user_id: str, conn_id: str) -> bool:
        await self._local.rep_disconnected(org_id, user_id, conn_id)
        return await self._remove(org_id, "reps", user_id, conn_id)

    async def reps_online(self, org_id: str) -> set[str]:
        try:
            return set(await self._members(org_id, "reps"))
        except (RedisError, OSError):
            return await self._local.reps_online(org_id)

    async def visitor_connected(
        self, org_id: str, visitor_id: str, conn_id: str, info: dict[str, Any]
    ) -> bool:
        await self._local.visitor_connected(org_id, visitor_id, conn_id, info)
        first = await self._add(org_id, "visitors", visitor_id, conn_id)
        await self.visitor_update(org_id, visitor_id, info)
        return first

    async def visitor_update(self, org_id: str, visitor_id: str, info: dict[str, Any]) -> None:
        await self._local.visitor_update(org_id, visitor_id, info)
        with contextlib.suppress(RedisError, OSError):
            current = await self.visitor_info(org_id, visitor_id) or {}
            merged = orjson.dumps({**current, **info})
            await self._call(lambda r: r.hset(self._info_key(org_id), visitor_id, merged))

    async def visitor_disconnected(self, org_id: str, visitor_id: str, conn_id: str) -> bool:
        await self._local.visitor_disconnected(org_id, visitor_id, conn_id)
        gone = await self._remove(org_id, "visitors", visitor_id, conn_id)
        if gone:
            with contextlib.suppress(RedisError, OSError):
                await self._call(lambda r: r.hdel(self._info_key(org_id), visitor_id))
        return gone

    async def visitors_online(self, org_id: str) -> dict[str, dict[str, Any]]:
        try:
            online = await self._members(org_id, "visitors")
            if not online:
                return {}
            ids = sorted(online)
            raw = await self._call(lambda r: r.hmget(self._info_key(org_id), ids))
        except (RedisError, OSError):
            return await self._local.visitors_online(org_id)
        return {
            vid: (orjson.loads(blob) if blob else {}) for vid, blob in zip(ids, raw, strict=True)
        }

    async def visitor_info(self, org_id: str, visitor_id: str) -> dict[str, Any] | None:
        try:
            if not await self._live_connections(org_id, "visitors", visitor_id):
                return None
            blob = await self._call(lambda r: r.hget(self._info_key(org_id), visitor_id))
        except (RedisError, OSError):
            return await self._local.visitor_info(org_id, visitor_id)
        return orjson.loads(blob) if blob else {}

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            if self._client is None or not self._mine:
                continue
            try:
                now = time.time()
                pipe = self._client.pipeline(transaction=False)
                by_key: dict[str, dict[str, float]] = {}
                expires = now + self.ttl
                for member, (org, kind) in self._mine.items():
                    by_key.setdefault(self._key(org, kind), {})[member] = expires
                    who, _, conn_id = member.partition("|")
                    who_key = self._who_key(org, kind, who)
                    pipe.zadd(who_key, {conn_id: expires})
                    pipe.expire(who_key, int(self.ttl) + 1)
                for key, members in by_key.items():
                    pipe.zadd(key, members)
                    pipe.zremrangebyscore(key, "-inf", now)
                await pipe.execute()
                self._healthy = True
            except (RedisError, OSError) as exc:
                self._healthy = False
                log.warning("presence heartbeat failed: %s", exc)
