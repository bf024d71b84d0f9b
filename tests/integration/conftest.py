"""Per-test orgs on the session's running server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pounce.store.db import Database
from tests.conftest import require_services
from tests.support import clients
from tests.support.seed import Org, seed_org
from tests.support.stack import Stack, drop_stack, make_stack, migrated_sqlite


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


@pytest.fixture(params=["embedded", "scaleout"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated store of the test's own, on SQLite and on PostgreSQL (no server)."""
    stack = None
    if request.param == "scaleout":
        require_services()
        stack = make_stack("scaleout", tmp_path)
        url = stack.database_url
    else:
        url = migrated_sqlite(tmp_path / "store.db")
    database = Database(url)
    yield database
    await database.dispose()
    if stack is not None:
        drop_stack(stack)
