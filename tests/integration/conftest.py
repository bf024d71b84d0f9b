"""Per-test orgs on the session's running server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.support import clients
from tests.support.seed import Org, seed_org
from tests.support.stack import Stack


@dataclass
class World:
    url: str
    stack: Stack
    org: Org


@pytest.fixture
async def world(stack: Stack) -> World:
    url: str = stack.url  # type: ignore[attr-defined]
    org = await seed_org(stack.database_url, origins=[url])
    return World(url=url, stack=stack, org=org)


@pytest.fixture(autouse=True)
async def _close_forgotten_clients() -> AsyncIterator[None]:
    """Sockets a test left open are closed in its own loop, not collected in another's."""
    yield
    await clients.close_all()
