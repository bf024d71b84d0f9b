"""A console's `welcome` reads its conversations, alerts, visitors and presence in a
fixed number of statements, however many there are (in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import Harness, counting, harness


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        yield made


async def _welcome_statements(h: Harness) -> tuple[int, dict[str, Any]]:
    with counting(h) as statements:
        sock, welcome = await h.rep(0, available=False)
    await sock.disconnect()
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    return len(reads), welcome


async def test_the_welcome_costs_the_same_for_one_alert_or_twelve(h: Harness) -> None:
    _watcher, _ = await h.rep(0)  # available, so inbound chats are routed to rep 0
    visitors = []
    for i in range(12):
        visitor, _ = await h.visitor(client=f"127.0.0.{10 + i}")
        await visitor.request({"type": "message", "body": f"question {i}"})
        visitors.append(visitor)
        if i == 0:
            one, welcome_one = await _welcome_statements(h)
    twelve, welcome_twelve = await _welcome_statements(h)
    assert len(welcome_one["alerts"]) == 1
    assert len(welcome_twelve["alerts"]) == 12
    assert len(welcome_twelve["visitors"]) == 12
    assert all(a["message"]["body"].startswith("question") for a in welcome_twelve["alerts"])
    assert twelve == one, f"{one} statements for one alert, {twelve} for twelve"
