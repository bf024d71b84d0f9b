"""Shortcuts over REST: roles, per-scope unique names, privacy, the `/` menu, placeholders."""

from __future__ import annotations

import httpx

from pounce.store import chat as chat_store
from pounce.store.db import Database
from tests.integration.conftest import World
from tests.support import clients
from tests.support.seed import Person


async def session(world: World, person: Person) -> httpx.AsyncClient:
    cookie, csrf = await clients.login(world.url, person.email, world.org.password)
    return httpx.AsyncClient(
        base_url=world.url + "/api/v1",
        cookies={"pounce_session": cookie},
        headers={"X-CSRF-Token": csrf},
    )


async def test_shortcut_crud_with_roles(world: World) -> None:
    admin_p, rep0_p, rep1_p = world.org.admin, *world.org.reps
    async with (
        await session(world, admin_p) as admin,
        await session(world, rep0_p) as rep0,
        await session(world, rep1_p) as rep1,
    ):
        mine = await rep0.post("/shortcuts", json={"name": "/Welcome", "text": "Hi, I'm here!"})
        assert mine.status_code == 201, mine.text
        assert mine.json()["name"] == "Welcome" and mine.json()["scope"] == "mine"
        assert mine.json()["html"] == "<p>Hi, I'm here!</p>"
        mine_id = mine.json()["id"]

        # Names are unique per rep (case-insensitively), not across reps or scopes.
        dup = await rep0.post("/shortcuts", json={"name": "welcome", "text": "again"})
        assert dup.status_code == 409 and "/welcome exists" in dup.json()["detail"]
        other = await rep1.post("/shortcuts", json={"name": "Welcome", "text": "rep1's"})
        assert other.status_code == 201
        other_id = other.json()["id"]

        # Org shortcuts: admins only.
        denied = await rep0.post(
            "/shortcuts", json={"name": "Pricing", "text": "x", "scope": "org"}
        )
        assert denied.status_code == 403
        org = await admin.post(
            "/shortcuts", json={"name": "Welcome", "text": "Welcome to Acme!", "scope": "org"}
        )
        assert org.status_code == 201 and org.json()["scope"] == "org"
        org_id = org.json()["id"]
        org_dup = await admin.post(
            "/shortcuts", json={"name": "/WELCOME", "text": "dup", "scope": "org"}
        )
        assert org_dup.status_code == 409

        # A rep sees their own and the org's, never another rep's.
        listed = (await rep0.get("/shortcuts")).json()["items"]
        assert {(i["id"], i["scope"], i["editable"]) for i in listed} == {
            (mine_id, "mine", True),
            (org_id, "org", False),
        }
        only_org = (await rep0.get("/shortcuts", params={"scope": "org"})).json()["items"]
        assert [i["id"] for i in only_org] == [org_id]
        admin_view = (await admin.get("/shortcuts")).json()["items"]
        assert [(i["id"], i["editable"]) for i in admin_view] == [(org_id, True)]

        # Reps cannot change org shortcuts, nor touch another rep's (they are private).
        assert (await rep0.patch(f"/shortcuts/{org_id}", json={"text": "x"})).status_code == 403
        assert (await rep0.delete(f"/shortcuts/{org_id}")).status_code == 403
        assert (await rep0.patch(f"/shortcuts/{other_id}", json={"text": "x"})).status_code == 404
        assert (await rep0.delete(f"/shortcuts/{other_id}")).status_code == 404
        assert (await rep0.post(f"/shortcuts/{other_id}/expand", json={})).status_code == 404
        assert (await admin.delete(f"/shortcuts/{other_id}")).status_code == 404

        # Owners edit their own; renaming onto a taken name conflicts.
        await rep0.post("/shortcuts", json={"name": "Bye", "text": "Bye!"})
        renamed = await rep0.patch(f"/shortcuts/{mine_id}", json={"name": "/Hello"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Hello"
        taken = await rep0.patch(f"/shortcuts/{mine_id}", json={"name": "bye"})
        assert taken.status_code == 409
        edited = await admin.patch(f"/shortcuts/{org_id}", json={"text": "**Welcome!**"})
        assert edited.json()["html"] == "<p><strong>Welcome!</strong></p>"
        assert (await admin.delete(f"/shortcuts/{org_id}")).status_code == 204
        assert (await admin.delete(f"/shortcuts/{org_id}")).status_code == 404
        assert (await rep1.delete(f"/shortcuts/{other_id}")).status_code == 204


async def test_shortcut_input_is_validated(world: World) -> None:
    async with await session(world, world.org.reps[0]) as rep:
        cases = [
            {"name": "two words", "text": "x"},
            {"name": "/", "text": "x"},
            {"name": "a" * 41, "text": "x"},
            {"name": "ok", "text": ""},
            {"name": "ok", "text": "   "},
            {"name": "ok", "text": "x" * 4001},
            {"name": "ok", "text": "x", "scope": "team"},
            {"name": "ok", "text": "x", "owner_id": "u_1"},
            {"text": "x"},
        ]
        for body in cases:
            res = await rep.post("/shortcuts", json=body)
            assert res.status_code == 422, (body, res.text)
        made = await rep.post("/shortcuts", json={"name": "ok", "text": "x" * 4000})
        assert made.status_code == 201
        sc = made.json()["id"]
        assert (await rep.patch(f"/shortcuts/{sc}", json={})).status_code == 422
        assert (await rep.patch(f"/shortcuts/{sc}", json={"scope": "org"})).status_code == 422
        assert (await rep.patch(f"/shortcuts/{sc}", json={"name": "a b"})).status_code == 422


async def test_menu_ranks_shortcuts_and_copilot_commands(world: World) -> None:
    async with (
        await session(world, world.org.admin) as admin,
        await session(world, world.org.reps[0]) as rep,
    ):
        for name in ["Pricing", "Welcome", "wellness"]:
            await admin.post("/shortcuts", json={"name": name, "text": name, "scope": "org"})
        await rep.post("/shortcuts", json={"name": "we_lcome", "text": "mine"})
        menu = (await rep.get("/shortcuts/menu", params={"q": "/wel"})).json()["items"]
        assert [(i["kind"], i["name"]) for i in menu] == [
            ("shortcut", "Welcome"),
            ("shortcut", "wellness"),
            ("shortcut", "we_lcome"),
        ]
        assert menu[0]["text"] == "Welcome" and menu[0]["scope"] == "org"
        commands = (await rep.get("/shortcuts/menu", params={"q": "/sug"})).json()["items"]
        assert commands == [
            {
                "kind": "command",
                "name": "suggest",
                "label": "AI Suggest",
                "description": "Answer the visitor's latest question from your knowledge",
            }
        ]
        everything = (await rep.get("/shortcuts/menu")).json()["items"]
        assert [i["name"] for i in everything[:3]] == ["suggest", "expand", "tune"]
        assert len(everything) == 7
        filtered = (await rep.get("/shortcuts", params={"q": "pri"})).json()["items"]
        assert [i["name"] for i in filtered] == ["Pricing"]


async def test_expand_fills_placeholders(world: World) -> None:
    visitor, welcome = await clients.visitor(world.url, world.org.site_key)
    ack = await visitor.request({"type": "message", "body": "hello?"})
    await visitor.close()
    conversation_id = ack["conversation_id"]
    db = Database(world.stack.database_url)
    try:
        async with db.write() as conn:
            await chat_store.update_visitor(
                conn,
                org_id=world.org.id,
                visitor_id=welcome["visitor_id"],
                name="Grace Hopper",
                company=None,
            )
    finally:
        await db.dispose()
    rep_p = world.org.reps[0]
    text = (
        "Hi {visitor.first_name} from {visitor.company}! I'm {rep.first_name} ({rep.name}) "
        "at {company.name}. {visitor.nickname}"
    )
    async with await session(world, rep_p) as rep:
        sc = (await rep.post("/shortcuts", json={"name": "Hi", "text": text})).json()["id"]
        filled = await rep.post(
            f"/shortcuts/{sc}/expand", json={"conversation_id": conversation_id}
        )
        assert filled.status_code == 200, filled.text
        first = rep_p.name.split()[0]
        assert filled.json() == {
            "body": f"Hi Grace from {{visitor.company}}! I'm {first} ({rep_p.name}) at "
            f"{world.org.name}. {{visitor.nickname}}",
            "html": f"<p>Hi Grace from {{visitor.company}}! I'm {first} ({rep_p.name}) at "
            f"{world.org.name}. {{visitor.nickname}}</p>",
            "unknown_placeholders": ["{visitor.company}", "{visitor.nickname}"],
        }
        alone = (await rep.post(f"/shortcuts/{sc}/expand")).json()
        assert alone["unknown_placeholders"] == [
            "{visitor.first_name}",
            "{visitor.company}",
            "{visitor.nickname}",
        ]
        missing = await rep.post(f"/shortcuts/{sc}/expand", json={"conversation_id": "c_nope"})
        assert missing.status_code == 404
