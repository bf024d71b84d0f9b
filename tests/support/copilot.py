"""The id-taking shortcut, knowledge, tone and copilot routes for the cross-org test."""

from __future__ import annotations

import httpx

from tests.support import clients
from tests.support.seed import Org

Calls = dict[tuple[str, str], tuple[str, str, dict[str, object] | None, set[int]]]


async def cross_org_calls(base: str, org: Org) -> Calls:
    """Org A's shortcut, knowledge page and conversation, as seen (and refused) from
    another org: every call must answer 404."""
    cookie, csrf = await clients.login(base, org.admin.email, org.password)
    async with httpx.AsyncClient(
        base_url=base + "/api/v1",
        cookies={"pounce_session": cookie},
        headers={"X-CSRF-Token": csrf},
    ) as admin:
        made = await admin.post("/shortcuts", json={"name": "A", "text": "a", "scope": "org"})
        made.raise_for_status()
        page = await admin.post("/knowledge", json={"title": "A", "body": "a"})
        page.raise_for_status()
    visitor, _ = await clients.visitor(base, org.site_key)
    ack = await visitor.request({"type": "message", "body": "org A's question"})
    await visitor.close()
    sc, kp, conv = made.json()["id"], page.json()["id"], ack["conversation_id"]
    return {
        ("PATCH", "/api/v1/shortcuts/{shortcut_id}"): (
            "PATCH",
            f"/api/v1/shortcuts/{sc}",
            {"text": "pwned"},
            {404},
        ),
        ("DELETE", "/api/v1/shortcuts/{shortcut_id}"): (
            "DELETE",
            f"/api/v1/shortcuts/{sc}",
            None,
            {404},
        ),
        ("POST", "/api/v1/shortcuts/{shortcut_id}/expand"): (
            "POST",
            f"/api/v1/shortcuts/{sc}/expand",
            {"conversation_id": conv},
            {404},
        ),
        ("GET", "/api/v1/knowledge/{page_id}"): ("GET", f"/api/v1/knowledge/{kp}", None, {404}),
        ("DELETE", "/api/v1/knowledge/{page_id}"): (
            "DELETE",
            f"/api/v1/knowledge/{kp}",
            None,
            {404},
        ),
        ("GET", "/api/v1/conversations/{conversation_id}/tone"): (
            "GET",
            f"/api/v1/conversations/{conv}/tone",
            None,
            {404},
        ),
        ("PUT", "/api/v1/conversations/{conversation_id}/tone"): (
            "PUT",
            f"/api/v1/conversations/{conv}/tone",
            {"tone": "casual"},
            {404},
        ),
    }
