"""Per-test orgs on the session's running server."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

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
