"""Shortcuts: a rep's own (`mine`) and the org's (admins write); the `/` menu; insertion
with placeholders filled from the rep, the conversation's visitor and the org."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from pounce.domain import shortcuts as rules
from pounce.domain.model import Actor
from pounce.services.admin import require_admin
from pounce.services.errors import ServiceError
from pounce.services.formatting import render_markdown
from pounce.services.knowledge import KnowledgeIndex
from pounce.services.lookups import conversation_or_404
from pounce.services.runtime import Runtime
from pounce.store import accounts, chat
from pounce.store import copilot as store
from pounce.store.copilot import Shortcut

_NOT_FOUND = "No such shortcut."


def shortcut_json(sc: Shortcut, actor: Actor) -> dict[str, Any]:
    return {
        "id": sc.id,
        "name": sc.name,
        "scope": sc.scope,
        "text": sc.text,
        "html": render_markdown(sc.text),
        "editable": sc.scope == "mine" or actor.is_admin,
        "created_at": sc.created_at.isoformat(),
        "updated_at": sc.updated_at.isoformat(),
    }


def _conflict(name: str, scope: str) -> ServiceError:
    where = "your shortcuts" if scope == "mine" else "the org's shortcuts"
    return ServiceError("conflict", f"/{name} exists already in {where}.")


async def list_shortcuts(
    rt: Runtime, *, actor: Actor, scope: rules.Scope | None = None, query: str = ""
) -> list[Shortcut]:
    """The rep's own and the org's shortcuts, by name; filtered like the `/` menu."""
    async with rt.db.read() as conn:
        found = await store.list_shortcuts(
            conn, org_id=actor.org_id, user_id=actor.user_id, scope=scope
        )
    return rules.filter_menu(query, found) if query else found


async def menu(rt: Runtime, *, actor: Actor, query: str) -> list[rules.Command | Shortcut]:
    """What the `/` menu shows for `query`: copilot commands and shortcuts, ranked."""
    items: list[rules.Command | Shortcut] = [*rules.COPILOT_COMMANDS]
    items.extend(await list_shortcuts(rt, actor=actor))
    return rules.filter_menu(query, items)


async def _visible(rt: Runtime, actor: Actor, shortcut_id: str) -> Shortcut:
    """The shortcut if the actor may see it: the org's, or their own (others' are private)."""
    async with rt.db.read() as conn:
        sc = await store.get_shortcut(conn, org_id=actor.org_id, shortcut_id=shortcut_id)
    if sc is None or (sc.scope == "mine" and sc.owner_id != actor.user_id):
        raise ServiceError("not_found", _NOT_FOUND)
    return sc


def _check_writable(sc: Shortcut, actor: Actor) -> None:
    if sc.scope == "org":
        require_admin(actor)


async def create_shortcut(
    rt: Runtime, index: KnowledgeIndex, *, actor: Actor, scope: rules.Scope, name: str, text: str
) -> Shortcut:
    if scope == "org":
        require_admin(actor)
    try:
        async with rt.db.write() as conn:
            sc = await store.create_shortcut(
                conn,
                org_id=actor.org_id,
                scope=scope,
                owner_id=actor.user_id if scope == "mine" else None,
                name=name,
                text=text,
                created_by=actor.user_id,
            )
    except IntegrityError:
        raise _conflict(name, scope) from None
    if scope == "org":
        index.invalidate(actor.org_id)
    return sc


async def update_shortcut(
    rt: Runtime, index: KnowledgeIndex, *, actor: Actor, shortcut_id: str, values: dict[str, Any]
) -> Shortcut:
    sc = await _visible(rt, actor, shortcut_id)
    _check_writable(sc, actor)
    try:
        async with rt.db.write() as conn:
            if not await store.update_shortcut(
                conn, org_id=actor.org_id, shortcut_id=shortcut_id, **values
            ):
                raise ServiceError("not_found", _NOT_FOUND)
            updated = await store.get_shortcut(conn, org_id=actor.org_id, shortcut_id=shortcut_id)
    except IntegrityError:
        raise _conflict(values.get("name", sc.name), sc.scope) from None
    assert updated is not None
    if sc.scope == "org":
        index.invalidate(actor.org_id)
    return updated


async def delete_shortcut(
    rt: Runtime, index: KnowledgeIndex, *, actor: Actor, shortcut_id: str
) -> None:
    sc = await _visible(rt, actor, shortcut_id)
    _check_writable(sc, actor)
    async with rt.db.write() as conn:
        if not await store.delete_shortcut(conn, org_id=actor.org_id, shortcut_id=shortcut_id):
            raise ServiceError("not_found", _NOT_FOUND)
    if sc.scope == "org":
        index.invalidate(actor.org_id)


@dataclass(frozen=True, slots=True)
class Context:
    """Who a message is from and to: the values placeholders are filled with."""

    rep_name: str | None
    visitor_name: str | None
    visitor_company: str | None
    company_name: str | None

    @property
    def values(self) -> dict[str, str | None]:
        return rules.placeholder_values(
            rep_name=self.rep_name,
            visitor_name=self.visitor_name,
            visitor_company=self.visitor_company,
            company_name=self.company_name,
        )


async def context_for(rt: Runtime, *, actor: Actor, conversation_id: str | None) -> Context:
    """The rep, the org and, with a conversation of the org, its visitor (else 404)."""
    visitor_name = visitor_company = None
    async with rt.db.read() as conn:
        user = await accounts.get_user(conn, org_id=actor.org_id, user_id=actor.user_id)
        org = await accounts.get_org(conn, actor.org_id)
        if conversation_id is not None:
            conv = await conversation_or_404(
                conn, org_id=actor.org_id, conversation_id=conversation_id
            )
            visitor = await chat.get_visitor(conn, org_id=actor.org_id, visitor_id=conv.visitor_id)
            if visitor is not None:
                visitor_name, visitor_company = visitor.name, visitor.company
    return Context(
        rep_name=user.name if user else None,
        visitor_name=visitor_name,
        visitor_company=visitor_company,
        company_name=org["name"] if org else None,
    )


async def expand_shortcut(
    rt: Runtime, *, actor: Actor, shortcut_id: str, conversation_id: str | None
) -> dict[str, Any]:
    """The shortcut's text ready for the composer; placeholders without a value stay
    visible as typed and are listed in `unknown_placeholders`."""
    sc = await _visible(rt, actor, shortcut_id)
    ctx = await context_for(rt, actor=actor, conversation_id=conversation_id)
    filled = rules.fill_placeholders(sc.text, ctx.values)
    return {
        "body": filled.text,
        "html": render_markdown(filled.text),
        "unknown_placeholders": list(filled.unfilled),
    }
