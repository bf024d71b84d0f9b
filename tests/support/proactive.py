"""Auto pounce set-up over REST, and the id-taking auto pounce routes for the cross-org test."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import clients
from tests.support.seed import Org

FAST = {
    "auto_pounce_enabled": True,
    "nudge_delay_seconds": 0.8,
    "rep_timeout_seconds": 1.5,
    "quiet_period_hours": 24,
    "max_open_chats_per_rep": 3,
}
GREETING = "Hi {visitor.first_name|there}! I'm {rep.first_name}. Questions about the demo?"


async def session(base: str, email: str, password: str) -> httpx.AsyncClient:
    cookie, csrf = await clients.login(base, email, password)
    return httpx.AsyncClient(
        base_url=base, cookies={"pounce_session": cookie}, headers={"X-CSRF-Token": csrf}
    )


async def enable(
    base: str, org: Org, *, seconds_on_page: float = 0.3, **settings: Any
) -> dict[str, Any]:
    """Switch auto pounce on for the org with fast timings, one rule and one template."""
    async with await session(base, org.admin.email, org.password) as admin:
        return await configure(admin, seconds_on_page=seconds_on_page, **settings)


async def configure(
    admin: httpx.AsyncClient, *, seconds_on_page: float = 0.3, **settings: Any
) -> dict[str, Any]:
    """`enable` through an admin's REST client (a real server's or the harness's)."""
    res = await admin.put("/api/v1/proactive/settings", json={**FAST, **settings})
    res.raise_for_status()
    rule = await admin.post(
        "/api/v1/proactive/rules",
        json={
            "name": "demo pages",
            "url_pattern": "/demo/*",
            "min_seconds_on_page": seconds_on_page,
        },
    )
    rule.raise_for_status()
    template = await admin.post(
        "/api/v1/proactive/templates",
        json={"name": "demo", "url_pattern": "/demo/*", "body": GREETING},
    )
    template.raise_for_status()
    return {"settings": res.json(), "rule": rule.json(), "template": template.json()}


async def cross_org_calls(
    base: str, org: Org
) -> dict[tuple[str, str], tuple[str, str, dict[str, object] | None, set[int]]]:
    """Org A's auto pounce rule and template, as seen (and refused) from another org."""
    made = await enable(base, org)
    rule, template = made["rule"]["id"], made["template"]["id"]
    return {
        ("PATCH", "/api/v1/proactive/rules/{rule_id}"): (
            "PATCH",
            f"/api/v1/proactive/rules/{rule}",
            {"name": "pwned"},
            {404},
        ),
        ("DELETE", "/api/v1/proactive/rules/{rule_id}"): (
            "DELETE",
            f"/api/v1/proactive/rules/{rule}",
            None,
            {404},
        ),
        ("PATCH", "/api/v1/proactive/templates/{template_id}"): (
            "PATCH",
            f"/api/v1/proactive/templates/{template}",
            {"body": "pwned"},
            {404},
        ),
        ("DELETE", "/api/v1/proactive/templates/{template_id}"): (
            "DELETE",
            f"/api/v1/proactive/templates/{template}",
            None,
            {404},
        ),
    }
