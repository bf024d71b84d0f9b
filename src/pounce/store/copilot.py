"""Shortcuts, knowledge pages, conversation tones and AI settings: tables and repositories.

Every function takes `org_id` and filters by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import new_id
from pounce.store import tables as t
from pounce.store.records import as_utc, now
from pounce.store.tables import ID, metadata

ORG_OWNER = ""  # `owner_key` of org shortcuts, so (org, scope, owner, name) is unique for both

shortcuts = Table(
    "shortcuts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("scope", String(8), nullable=False),
    # The rep's id for `mine`, "" for `org` (NULLs would never collide in a unique key).
    Column("owner_key", ID, nullable=False),
    Column("name", String(40), nullable=False),
    Column("name_key", String(40), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_by", ID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("org_id", "scope", "owner_key", "name_key", name="uq_shortcuts_name"),
)

knowledge_pages = Table(
    "knowledge_pages",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("format", String(16), nullable=False),
    Column("created_by", ID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_knowledge_pages_org", "org_id", "created_at"),
)

# Bumped in the transaction of every change to an org's shortcuts or pages, so every
# node knows when its search index for the org is stale.
knowledge_revs = Table(
    "knowledge_revs",
    metadata,
    Column("org_id", ID, ForeignKey("orgs.id"), primary_key=True),
    Column("rev", Integer, nullable=False),
)

conversation_tones = Table(
    "conversation_tones",
    metadata,
    Column(
        "conversation_id",
        ID,
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("tone", String(16), nullable=False),
    Column("updated_by", ID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class Shortcut:
    id: str
    org_id: str
    scope: str
    owner_id: str | None
    name: str
    text: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Shortcut:
        return cls(
            id=row.id,
            org_id=row.org_id,
            scope=row.scope,
            owner_id=row.owner_key or None,
            name=row.name,
            text=row.text,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
        )


@dataclass(frozen=True, slots=True)
class Page:
    id: str
    org_id: str
    title: str
    body: str
    format: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Page:
        return cls(
            id=row.id,
            org_id=row.org_id,
            title=row.title,
            body=row.body,
            format=row.format,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
        )


@dataclass(frozen=True, slots=True)
class Exchange:
    """A visitor's message and the rep's reply that followed it, from a past conversation."""

    conversation_id: str
    seq: int
    question: str
    answer: str


# -- shortcuts ------------------------------------------------------------------------


def _upsert(
    conn: AsyncConnection, table: Table, values: dict[str, Any], key: str, changes: dict[str, Any]
) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE, in SQLite's or PostgreSQL's dialect."""
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(table).values(**values)
        return pg.on_conflict_do_update(index_elements=[key], set_=changes)
    lite = sqlite.insert(table).values(**values)
    return lite.on_conflict_do_update(index_elements=[key], set_=changes)


async def bump_knowledge(conn: AsyncConnection, *, org_id: str) -> None:
    """Mark the org's knowledge changed (call in the transaction that changes it)."""
    await conn.execute(
        _upsert(
            conn,
            knowledge_revs,
            {"org_id": org_id, "rev": 1},
            "org_id",
            {"rev": knowledge_revs.c.rev + 1},
        )
    )


async def knowledge_rev(conn: AsyncConnection, *, org_id: str) -> int:
    rev = (
        await conn.execute(select(knowledge_revs.c.rev).where(knowledge_revs.c.org_id == org_id))
    ).scalar()
    return int(rev or 0)


async def create_shortcut(
    conn: AsyncConnection,
    *,
    org_id: str,
    scope: str,
    owner_id: str | None,
    name: str,
    text: str,
    created_by: str,
) -> Shortcut:
    """Raises IntegrityError when the name is taken in its scope."""
    stamp = now()
    shortcut_id = new_id("sc")
    await conn.execute(
        insert(shortcuts).values(
            id=shortcut_id,
            org_id=org_id,
            scope=scope,
            owner_key=owner_id or ORG_OWNER,
            name=name,
            name_key=name.casefold(),
            text=text,
            created_by=created_by,
            created_at=stamp,
            updated_at=stamp,
        )
    )
    if scope == "org":
        await bump_knowledge(conn, org_id=org_id)
    found = await get_shortcut(conn, org_id=org_id, shortcut_id=shortcut_id)
    assert found is not None
    return found


async def get_shortcut(conn: AsyncConnection, *, org_id: str, shortcut_id: str) -> Shortcut | None:
    row = (
        await conn.execute(
            select(shortcuts).where(shortcuts.c.org_id == org_id, shortcuts.c.id == shortcut_id)
        )
    ).first()
    return Shortcut.from_row(row) if row else None


async def list_shortcuts(
    conn: AsyncConnection, *, org_id: str, user_id: str | None, scope: str | None = None
) -> list[Shortcut]:
    """The org's shortcuts and, if `user_id` is given, that rep's own; sorted by name."""
    visible = [shortcuts.c.scope == "org"]
    if user_id is not None:
        visible.append(and_(shortcuts.c.scope == "mine", shortcuts.c.owner_key == user_id))
    query = select(shortcuts).where(shortcuts.c.org_id == org_id, or_(*visible))
    if scope is not None:
        query = query.where(shortcuts.c.scope == scope)
    rows = await conn.execute(query.order_by(shortcuts.c.name_key, shortcuts.c.scope))
    return [Shortcut.from_row(r) for r in rows]


async def update_shortcut(
    conn: AsyncConnection, *, org_id: str, shortcut_id: str, **values: Any
) -> bool:
    """Change `name` and/or `text`; raises IntegrityError when the new name is taken."""
    if "name" in values:
        values["name_key"] = values["name"].casefold()
    result = await conn.execute(
        update(shortcuts)
        .where(shortcuts.c.org_id == org_id, shortcuts.c.id == shortcut_id)
        .values(**values, updated_at=now())
        .returning(shortcuts.c.scope)
    )
    scope = result.scalar()
    if scope == "org":
        await bump_knowledge(conn, org_id=org_id)
    return scope is not None


async def delete_shortcut(conn: AsyncConnection, *, org_id: str, shortcut_id: str) -> bool:
    result = await conn.execute(
        delete(shortcuts)
        .where(shortcuts.c.org_id == org_id, shortcuts.c.id == shortcut_id)
        .returning(shortcuts.c.scope)
    )
    scope = result.scalar()
    if scope == "org":
        await bump_knowledge(conn, org_id=org_id)
    return scope is not None


# -- knowledge pages --------------------------------------------------------------------


async def create_page(
    conn: AsyncConnection, *, org_id: str, title: str, body: str, format: str, created_by: str
) -> Page:
    stamp = now()
    page_id = new_id("kp")
    await conn.execute(
        insert(knowledge_pages).values(
            id=page_id,
            org_id=org_id,
            title=title,
            body=body,
            format=format,
            created_by=created_by,
            created_at=stamp,
            updated_at=stamp,
        )
    )
    await bump_knowledge(conn, org_id=org_id)
    return Page(
        id=page_id,
        org_id=org_id,
        title=title,
        body=body,
        format=format,
        created_at=stamp,
        updated_at=stamp,
    )


async def get_page(conn: AsyncConnection, *, org_id: str, page_id: str) -> Page | None:
    row = (
        await conn.execute(
            select(knowledge_pages).where(
                knowledge_pages.c.org_id == org_id, knowledge_pages.c.id == page_id
            )
        )
    ).first()
    return Page.from_row(row) if row else None


async def list_pages(conn: AsyncConnection, *, org_id: str) -> list[Page]:
    rows = await conn.execute(
        select(knowledge_pages)
        .where(knowledge_pages.c.org_id == org_id)
        .order_by(knowledge_pages.c.created_at, knowledge_pages.c.id)
    )
    return [Page.from_row(r) for r in rows]


async def delete_page(conn: AsyncConnection, *, org_id: str, page_id: str) -> bool:
    result = await conn.execute(
        delete(knowledge_pages).where(
            knowledge_pages.c.org_id == org_id, knowledge_pages.c.id == page_id
        )
    )
    if result.rowcount != 1:
        return False
    await bump_knowledge(conn, org_id=org_id)
    return True


# -- past conversations -----------------------------------------------------------------


async def last_message_id(conn: AsyncConnection, *, org_id: str) -> int:
    found = (
        await conn.execute(select(func.max(t.messages.c.id)).where(t.messages.c.org_id == org_id))
    ).scalar()
    return int(found or 0)


async def recent_exchanges(
    conn: AsyncConnection, *, org_id: str, limit_messages: int = 20_000
) -> list[Exchange]:
    """Visitor messages each followed by a rep's reply, from the org's latest messages."""
    recent = (
        select(
            t.messages.c.conversation_id,
            t.messages.c.seq,
            t.messages.c.author_kind,
            t.messages.c.body,
        )
        .where(
            t.messages.c.org_id == org_id,
            t.messages.c.author_kind.in_(("visitor", "rep")),
            t.messages.c.kind == "message",
            t.messages.c.audience == "all",
        )
        .order_by(t.messages.c.id.desc())
        .limit(limit_messages)
    )
    rows = sorted((await conn.execute(recent)).all(), key=lambda r: (r[0], r[1]))
    found: list[Exchange] = []
    for before, after in pairwise(rows):
        if (
            before.conversation_id == after.conversation_id
            and before.author_kind == "visitor"
            and after.author_kind == "rep"
        ):
            found.append(
                Exchange(
                    conversation_id=after.conversation_id,
                    seq=after.seq,
                    question=before.body,
                    answer=after.body,
                )
            )
    return found


async def conversation_turns(
    conn: AsyncConnection, *, org_id: str, conversation_id: str, limit: int = 20
) -> list[tuple[str, str]]:
    """The conversation's last visitor and rep messages, oldest first: (author kind, body)."""
    rows = await conn.execute(
        select(t.messages.c.author_kind, t.messages.c.body)
        .where(
            t.messages.c.org_id == org_id,
            t.messages.c.conversation_id == conversation_id,
            t.messages.c.author_kind.in_(("visitor", "rep")),
            t.messages.c.kind == "message",
            t.messages.c.audience == "all",
        )
        .order_by(t.messages.c.seq.desc())
        .limit(limit)
    )
    return [(r.author_kind, r.body) for r in reversed(rows.all())]


# -- tones ------------------------------------------------------------------------------


async def get_tone(conn: AsyncConnection, *, org_id: str, conversation_id: str) -> str | None:
    return (
        await conn.execute(
            select(conversation_tones.c.tone).where(
                conversation_tones.c.org_id == org_id,
                conversation_tones.c.conversation_id == conversation_id,
            )
        )
    ).scalar()


async def set_tone(
    conn: AsyncConnection, *, org_id: str, conversation_id: str, tone: str, user_id: str
) -> None:
    """Remember the tone (the caller has checked the conversation is in the org)."""
    stamp = now()
    values = {
        "conversation_id": conversation_id,
        "org_id": org_id,
        "tone": tone,
        "updated_by": user_id,
        "updated_at": stamp,
    }
    changes = {"tone": tone, "updated_by": user_id, "updated_at": stamp}
    await conn.execute(_upsert(conn, conversation_tones, values, "conversation_id", changes))


# -- AI settings (the org's `settings["ai"]`) ----------------------------------------------


async def get_ai_settings(conn: AsyncConnection, *, org_id: str) -> dict[str, Any]:
    settings = (await conn.execute(select(t.orgs.c.settings).where(t.orgs.c.id == org_id))).scalar()
    ai = (settings or {}).get("ai")
    return dict(ai) if isinstance(ai, dict) else {}


async def put_ai_settings(conn: AsyncConnection, *, org_id: str, ai: dict[str, Any]) -> None:
    """Replace only the `ai` key of the org's settings (in a write transaction)."""
    query = select(t.orgs.c.settings).where(t.orgs.c.id == org_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    settings = dict((await conn.execute(query)).scalar() or {})
    settings["ai"] = ai
    await conn.execute(update(t.orgs).where(t.orgs.c.id == org_id).values(settings=settings))
