"""Publish/subscribe between connections, in one process or across many."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from pounce.realtime import connection

Handler = Callable[[str, bytes], None]
Unsubscribe = Callable[[], Awaitable[None]]
# A frame for one socket: delivered to the connection with that id on its node.
Deliver = Callable[[str, bytes], None]
CONNECTION_PREFIX = "conn:"


class Bus(Protocol):
    """Fan-out of encoded frames on topics (`org:{id}:reps`, `user:{id}`, `visitor:{id}`),
    and to one socket (`conn:{connection id}`: nobody subscribes, it goes to the node that
    holds that socket).

    Delivery is best effort: the store is the source of truth and clients resume
    from it. Handlers must not block; they queue the bytes for a socket.
    """

    @property
    def healthy(self) -> bool: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, topic: str, data: bytes) -> None: ...

    def post_many(self, topics: Iterable[str], data: bytes) -> None:
        """The same frame to several topics, from plain code: queued or delivered now."""
        ...

    async def subscribe(self, topics: Iterable[str], handler: Handler) -> Unsubscribe: ...


class LocalBus:
    """The in-process bus of the embedded default."""

    def __init__(self, deliver: Deliver = connection.deliver) -> None:
        self._handlers: dict[str, set[Handler]] = {}
        self._deliver = deliver

    @property
    def healthy(self) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._handlers.clear()

    async def publish(self, topic: str, data: bytes) -> None:
        self.dispatch(topic, data)

    def post_many(self, topics: Iterable[str], data: bytes) -> None:
        for topic in topics:
            self.dispatch(topic, data)

    def dispatch(self, topic: str, data: bytes) -> None:
        if topic.startswith(CONNECTION_PREFIX):
            self._deliver(topic[len(CONNECTION_PREFIX) :], data)
            return
        for handler in tuple(self._handlers.get(topic, ())):
            handler(topic, data)

    def has_subscribers(self, topic: str) -> bool:
        return bool(self._handlers.get(topic))

    async def subscribe(self, topics: Iterable[str], handler: Handler) -> Unsubscribe:
        names = tuple(dict.fromkeys(topics))
        for name in names:
            self._handlers.setdefault(name, set()).add(handler)

        async def unsubscribe() -> None:
            for name in names:
                handlers = self._handlers.get(name)
                if handlers is not None:
                    handlers.discard(handler)
                    if not handlers:
                        del self._handlers[name]

        return unsubscribe
