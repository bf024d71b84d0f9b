"""Who is online: reps' console sockets and visitors' messenger sockets."""

from __future__ import annotations

from typing import Any, Protocol


class Presence(Protocol):
    """Online state, counted per connection so several tabs count once."""

    @property
    def healthy(self) -> bool: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def check(self) -> bool:
        """Reachable right now (asks the backend, not a cached flag)."""
        ...

    async def rep_connected(self, org_id: str, user_id: str, conn_id: str) -> bool:
        """Register a console socket; True if the rep just came online."""
        ...

    async def rep_disconnected(self, org_id: str, user_id: str, conn_id: str) -> bool:
        """Forget a console socket; True if the rep has no socket left."""
        ...

    async def reps_online(self, org_id: str) -> set[str]: ...

    async def visitor_connected(
        self, org_id: str, visitor_id: str, conn_id: str, info: dict[str, Any]
    ) -> bool: ...

    async def visitor_update(self, org_id: str, visitor_id: str, info: dict[str, Any]) -> None: ...

    async def visitor_disconnected(self, org_id: str, visitor_id: str, conn_id: str) -> bool: ...

    async def visitors_online(self, org_id: str) -> dict[str, dict[str, Any]]: ...

    async def visitor_info(self, org_id: str, visitor_id: str) -> dict[str, Any] | None: ...


class LocalPresence:
    """Presence kept in this process: the embedded default."""

    def __init__(self) -> None:
        self._reps: dict[str, dict[str, set[str]]] = {}
        self._visitors: dict[str, dict[str, set[str]]] = {}
        self._visitor_info: dict[str, dict[str, dict[str, Any]]] = {}

    @property
    def healthy(self) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def check(self) -> bool:
        return True

    async def rep_connected(self, org_id: str, user_id: str, conn_id: str) -> bool:
        conns = self._reps.setdefault(org_id, {}).setdefault(user_id, set())
        first = not conns
        conns.add(conn_id)
        return first

    async def rep_disconnected(self, org_id: str, user_id: str, conn_id: str) -> bool:
        org = self._reps.get(org_id, {})
        conns = org.get(user_id)
        if conns is None:
            return False
        conns.discard(conn_id)
        if conns:
            return False
        del org[user_id]
        return True

    async def reps_online(self, org_id: str) -> set[str]:
        return set(self._reps.get(org_id, {}))

    async def visitor_connected(
        self, org_id: str, visitor_id: str, conn_id: str, info: dict[str, Any]
    ) -> bool:
        conns = self._visitors.setdefault(org_id, {}).setdefault(visitor_id, set())
        first = not conns
        conns.add(conn_id)
        current = self._visitor_info.setdefault(org_id, {}).setdefault(visitor_id, {})
        current.update(info)
        return first

    async def visitor_update(self, org_id: str, visitor_id: str, info: dict[str, Any]) -> None:
        current = self._visitor_info.get(org_id, {}).get(visitor_id)
        if current is not None:
            current.update(info)

    async def visitor_disconnected(self, org_id: str, visitor_id: str, conn_id: str) -> bool:
        org = self._visitors.get(org_id, {})
        conns = org.get(visitor_id)
        if conns is None:
            return False
        conns.discard(conn_id)
        if conns:
            return False
        del org[visitor_id]
        self._visitor_info.get(org_id, {}).pop(visitor_id, None)
        return True

    async def visitors_online(self, org_id: str) -> dict[str, dict[str, Any]]:
        online = self._visitors.get(org_id, {})
        infos = self._visitor_info.get(org_id, {})
        return {vid: dict(infos.get(vid, {})) for vid in online}

    async def visitor_info(self, org_id: str, visitor_id: str) -> dict[str, Any] | None:
        if visitor_id not in self._visitors.get(org_id, {}):
            return None
        return dict(self._visitor_info.get(org_id, {}).get(visitor_id, {}))
