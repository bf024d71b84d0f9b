"""Shared fixtures: real server processes on SQLite, or on PostgreSQL + Redis."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx._transports.default
import pytest

from tests.support.stack import (
    Stack,
    drop_stack,
    drop_templates,
    in_ci,
    make_stack,
    services_available,
)

MODES = ["embedded", "scaleout"]

# Each httpx client loads certifi's CA bundle into a new SSL context (~25 ms of CPU), and
# the suite makes several hundred clients, all of them for plain http: the default
# context is made once and shared (an SSLContext serves any number of connections).
_make_ssl_context = httpx._transports.default.create_ssl_context
_default_ssl_context = _make_ssl_context()


def _shared_ssl_context(
    verify: Any = True, cert: Any = None, trust_env: bool = True
) -> ssl.SSLContext:
    if verify is True and cert is None and trust_env:
        return _default_ssl_context
    return _make_ssl_context(verify=verify, cert=cert, trust_env=trust_env)


httpx._transports.default.create_ssl_context = _shared_ssl_context


def require_services() -> None:
    missing = services_available()
    if missing is None:
        return
    if in_ci():
        pytest.fail(f"scale-out services are required in CI: {missing}")
    pytest.skip(f"scale-out services not running: {missing}")


@pytest.fixture(scope="session", autouse=True)
def _templates() -> Iterator[None]:
    """The migrated templates each worker copies its stores from go when it ends."""
    yield
    drop_templates()


@pytest.fixture(scope="session", params=MODES)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One running server per mode for the whole session; tests isolate by org."""
    mode = request.param
    if mode == "scaleout":
        require_services()
    s = make_stack(mode, Path(tmp_path_factory.mktemp(f"stack-{mode}")))
    s.url = s.start()  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        drop_stack(s)


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    """Build stacks of your own (custom settings, several processes, restarts)."""
    made: list[Stack] = []

    def make(mode: str = "embedded", **env: str) -> Stack:
        if mode == "scaleout":
            require_services()
        s = make_stack(mode, tmp_path / f"{mode}-{len(made)}", **env)
        made.append(s)
        return s

    yield make
    for s in made:
        drop_stack(s)
