"""Auto pounce tables and repositories: org settings, rules, greeting templates, the reps'
switch, and one row per auto pounce holding its state machine (the source of reports)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import AuthorKind, ConversationStatus, Outcome, Source, new_id
from pounce.domain.proactive import DEFAULT_NUDGE, Pounce, Stage
from pounce.store import tables as t
from pounce.store.records import as_utc
from pounce.store.tables import ID, metadata, ts

# --------------------------------------------------------------------------- tables


proactive_settings = Table(
    "proactive_settings",
    metadata,
    Column("org_id", ID, ForeignKey("orgs.id"), primary_key=True),
    Column("auto_pounce_enabled", Boolean, nullable=False, default=False),
    Column("nudge_delay_seconds", Float, nullable=False),
    Column("quiet_period_hours", Float, nullable=False),
    Column("max_open_chats_per_rep", Integer, nullable=False),
    Column("rep_timeout_seconds", Float, nullable=False),
    Column("nudge_template", Text, nullable=False),
    ts("updated_at"),
)

proactive_rules = Table(
    "proactive_rules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("url_pattern", String(500), nullable=False, default=""),
    Column("min_seconds_on_page", Float, nullable=False, default=0.0),
    Column("min_pages_viewed", Integer, nullable=False, default=0),
    Column("attributes", JSON, nullable=False, default=dict),
    Column("enabled", Boolean, nullable=False, default=True),
)

proactive_templates = Table(
    "proactive_templates",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("url_pattern", String(500), nullable=False, default=""),
    Column("body", Text, nullable=False),
)

proactive_reps = Table(
    "proactive_reps",
    metadata,
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False, index=True),
    Column("enabled", Boolean, nullable=False),
    Column("reason", String(32), nullable=True),
    ts("updated_at"),
)

proactive_pounces = Table(
    "proactive_pounces",
    metadata,
    Column("conversation_id", ID, ForeignKey("conversations.id"), primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("visitor_id", ID, nullable=False),
    Column("rep_id", ID, nullable=False),
    Column("rule_id", ID, nullable=True),
    Column("stage", String(16), nullable=False),
    ts("greeted_at"),
    ts("nudged_at", nullable=True),
    ts("visitor_replied_at", nullable=True),
    ts("deadline", nullable=True),
    ts("rep_replied_at", nullable=True),
    Column("outcome", String(32), nullable=True),
    ts("outcome_at", nullable=True),
    Index("ix_proactive_pounces_org_greeted", "org_id", "greeted_at"),
    Index("ix_proactive_pounces_org_rep_stage", "org_id", "rep_id", "stage"),
)


def _dt(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else as_utc(value).timestamp()


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class OrgSettings:
    auto_pounce_enabled: bool = False
    nudge_delay_seconds: float = 30.0
    quiet_period_hours: float = 24.0
    max_open_chats_per_rep: int = 3
    rep_timeout_seconds: float = 60.0
    nudge_template: str = DEFAULT_NUDGE


SETTING_FIELDS = tuple(OrgSettings.__dataclass_fields__)


async def get_settings(conn: AsyncConnection, *, org_id: str) -> OrgSettings:
    """The org's settings; the defaults until an admin saves them."""
    row = (
        await conn.execute(select(proactive_settings).where(proactive_settings.c.org_id == org_id))
    ).first()
    if row is None:
        return OrgSettings()
    return OrgSettings(**{name: getattr(row, name) for name in SETTING_FIELDS})


async def put_settings(conn: AsyncConnection, *, org_id: str, **values: Any) -> OrgSettings:
    current = await get_settings(conn, org_id=org_id)
    merged = {**{n: getattr(current, n) for n in SETTING_FIELDS}, **values}
    stamp = datetime.now(UTC)
    updated = await conn.execute(
        update(proactive_settings)
        .where(proactive_settings.c.org_id == org_id)
        .values(**merged, updated_at=stamp)
    )
    if updated.rowcount == 0:
        await conn.execute(
            insert(proactive_settings).values(org_id=org_id, **merged, updated_at=stamp)
        )
    return OrgSettings(**merged)


# --------------------------------------------------------------------------- rules and templates


def _rule_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "position": row.position,
        "name": row.name,
        "url_pattern": row.url_pattern,
        "min_seconds_on_page": float(row.min_seconds_on_page),
        "min_pages_viewed": int(row.min_pages_viewed),
        "attributes": dict(row.attributes or {}),
        "enabled": bool(row.enabled),
    }


def _template_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "position": row.position,
        "name": row.name,
        "url_pattern": row.url_pattern,
        "body": row.body,
    }


Kind = Literal["rule", "template"]
_KINDS: dict[Kind, tuple[Table, Any, str]] = {
    "rule": (proactive_rules, _rule_dict, "pr"),
    "template": (proactive_templates, _template_dict, "pt"),
}


async def list_items(conn: AsyncConnection, kind: Kind, *, org_id: str) -> list[dict[str, Any]]:
    """Rules or templates of the org, in their order."""
    table, as_dict, _ = _KINDS[kind]
    rows = await conn.execute(
        select(table).where(table.c.org_id == org_id).order_by(table.c.position, table.c.id)
    )
    return [as_dict(r) for r in rows]


async def get_item(
    conn: AsyncConnection, kind: Kind, *, org_id: str, item_id: str
) -> dict[str, Any] | None:
    table, as_dict, _ = _KINDS[kind]
    row = (
        await conn.execute(select(table).where(table.c.org_id == org_id, table.c.id == item_id))
    ).first()
    return as_dict(row) if row else None


async def create_item(
    conn: AsyncConnection, kind: Kind, *, org_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    table, _, prefix = _KINDS[kind]
    values = dict(values)
    if values.get("position") is None:
        top = (
            await conn.execute(select(func.max(table.c.position)).where(table.c.org_id == org_id))
        ).scalar()
        values["position"] = (top or 0) + 1
    item_id = new_id(prefix)
    await conn.execute(insert(table).values(id=item_id, org_id=org_id, **values))
    item = await get_item(conn, kind, org_id=org_id, item_id=item_id)
    assert item is not None
    return item


async def update_item(
    conn: AsyncConnection, kind: Kind, *, org_id: str, item_id: str, values: dict[str, Any]
) -> bool:
    table, _, _ = _KINDS[kind]
    result = await conn.execute(
        update(table).where(table.c.org_id == org_id, table.c.id == item_id).values(**values)
    )
    return result.rowcount == 1


async def delete_item(conn: AsyncConnection, kind: Kind, *, org_id: str, item_id: str) -> bool:
    table, _, _ = _KINDS[kind]
    result = await conn.execute(
        delete(table).where(table.c.org_id == org_id, table.c.id == item_id)
    )
    return result.rowcount == 1


# --------------------------------------------------------------------------- the reps' switch


async def rep_switches(conn: AsyncConnection, *, org_id: str) -> dict[str, bool]:
    """Each rep's *Enable auto pounce*; a rep without a row has never been Available: off."""
    rows = await conn.execute(
        select(proactive_reps.c.user_id, proactive_reps.c.enabled).where(
            proactive_reps.c.org_id == org_id
        )
    )
    return {user_id: bool(enabled) for user_id, enabled in rows}


async def rep_switch(
    conn: AsyncConnection, *, org_id: str, user_id: str
) -> tuple[bool, str | None]:
    row = (
        await conn.execute(
            select(proactive_reps.c.enabled, proactive_reps.c.reason).where(
                proactive_reps.c.org_id == org_id, proactive_reps.c.user_id == user_id
            )
        )
    ).first()
    return (bool(row.enabled), row.reason) if row else (False, None)


async def set_rep_switch(
    conn: AsyncConnection, *, org_id: str, user_id: str, enabled: bool, reason: str | None
) -> bool:
    """Switch a rep's auto pounce on or off; True if it changed."""
    before, _ = await rep_switch(conn, org_id=org_id, user_id=user_id)
    stamp = datetime.now(UTC)
    updated = await conn.execute(
        update(proactive_reps)
        .where(proactive_reps.c.org_id == org_id, proactive_reps.c.user_id == user_id)
        .values(enabled=enabled, reason=reason, updated_at=stamp)
    )
    if updated.rowcount == 0:
        await conn.execute(
            insert(proactive_reps).values(
                user_id=user_id, org_id=org_id, enabled=enabled, reason=reason, updated_at=stamp
            )
        )
    return before != enabled


# --------------------------------------------------------------------------- pounces


@dataclass(frozen=True, slots=True)
class PounceRow:
    conversation_id: str
    org_id: str
    visitor_id: str
    rule_id: str | None
    pounce: Pounce


def _pounce_row(row: Any) -> PounceRow:
    greeted = _epoch(row.greeted_at)
    assert greeted is not None
    return PounceRow(
        conversation_id=row.conversation_id,
        org_id=row.org_id,
        visitor_id=row.visitor_id,
        rule_id=row.rule_id,
        pounce=Pounce(
            rep_id=row.rep_id,
            greeted_at=greeted,
            stage=Stage(row.stage),
            nudged_at=_epoch(row.nudged_at),
            visitor_replied_at=_epoch(row.visitor_replied_at),
            deadline=_epoch(row.deadline),
            rep_replied_at=_epoch(row.rep_replied_at),
            outcome=Outcome(row.outcome) if row.outcome else None,
            outcome_at=_epoch(row.outcome_at),
        ),
    )


def _pounce_values(p: Pounce) -> dict[str, Any]:
    return {
        "rep_id": p.rep_id,
        "stage": p.stage.value,
        "greeted_at": _dt(p.greeted_at),
        "nudged_at": _dt(p.nudged_at),
        "visitor_replied_at": _dt(p.visitor_replied_at),
        "deadline": _dt(p.deadline),
        "rep_replied_at": _dt(p.rep_replied_at),
        "outcome": p.outcome.value if p.outcome else None,
        "outcome_at": _dt(p.outcome_at),
    }


async def create_pounce(
    conn: AsyncConnection,
    *,
    org_id: str,
    conversation_id: str,
    visitor_id: str,
    rule_id: str | None,
    pounce: Pounce,
) -> None:
    await conn.execute(
        insert(proactive_pounces).values(
            conversation_id=conversation_id,
            org_id=org_id,
            visitor_id=visitor_id,
            rule_id=rule_id,
            **_pounce_values(pounce),
        )
    )


async def get_pounce(
    conn: AsyncConnection, *, org_id: str, conversation_id: str
) -> PounceRow | None:
    row = (
        await conn.execute(
            select(proactive_pounces).where(
                proactive_pounces.c.org_id == org_id,
                proactive_pounces.c.conversation_id == conversation_id,
            )
        )
    ).first()
    return _pounce_row(row) if row else None


async def save_pounce(
    conn: AsyncConnection, *, org_id: str, conversation_id: str, was: Stage, pounce: Pounce
) -> bool:
    """Store a transition only if the stage is still `was`: of two racing events (on any
    node), exactly one moves the machine; the other sees False and does nothing."""
    result = await conn.execute(
        update(proactive_pounces)
        .where(
            proactive_pounces.c.org_id == org_id,
            proactive_pounces.c.conversation_id == conversation_id,
            proactive_pounces.c.stage == was.value,
        )
        .values(**_pounce_values(pounce))
    )
    return result.rowcount == 1


async def awaiting_rep(conn: AsyncConnection, *, org_id: str, rep_id: str) -> dict[str, float]:
    """The rep's auto pounces whose visitor replied: conversation id → deadline (epoch s)."""
    return (await awaiting_reps(conn, org_id=org_id, rep_ids=[rep_id])).get(rep_id, {})


async def awaiting_reps(
    conn: AsyncConnection, *, org_id: str, rep_ids: Sequence[str]
) -> dict[str, dict[str, float]]:
    """`awaiting_rep` for several reps in one query: rep id → conversation id → deadline."""
    rows = await conn.execute(
        select(
            proactive_pounces.c.rep_id,
            proactive_pounces.c.conversation_id,
            proactive_pounces.c.deadline,
        ).where(
            proactive_pounces.c.org_id == org_id,
            proactive_pounces.c.rep_id.in_(list(rep_ids)),
            proactive_pounces.c.stage == Stage.AWAITING_REP.value,
        )
    )
    out: dict[str, dict[str, float]] = {}
    for rep_id, cid, deadline in rows:
        out.setdefault(rep_id, {})[cid] = _epoch(deadline) or 0.0
    return out


async def pounces_between(
    conn: AsyncConnection,
    *,
    org_id: str,
    start: datetime,
    end: datetime,
    rep_id: str | None = None,
) -> list[Pounce]:
    query = select(proactive_pounces).where(
        proactive_pounces.c.org_id == org_id,
        proactive_pounces.c.greeted_at >= start,
        proactive_pounces.c.greeted_at < end,
    )
    if rep_id is not None:
        query = query.where(proactive_pounces.c.rep_id == rep_id)
    return [_pounce_row(r).pounce for r in await conn.execute(query)]


# --------------------------------------------------------------------------- conversations


async def last_pounced_at(conn: AsyncConnection, *, org_id: str, visitor_id: str) -> float | None:
    """When a rep or auto pounce last engaged this visitor first (for the quiet period)."""
    c = t.conversations.c
    value = (
        await conn.execute(
            select(func.max(c.created_at)).where(
                c.org_id == org_id,
                c.visitor_id == visitor_id,
                c.source.in_([Source.POUNCE.value, Source.AUTO_POUNCE.value]),
            )
        )
    ).scalar()
    return _epoch(value) if value is not None else None


async def lock_visitor(conn: AsyncConnection, *, org_id: str, visitor_id: str) -> bool:
    """Hold the visitor's row until this transaction ends, so two pounces on one visitor
    (two reps, or a rep and auto pounce, on any nodes) open one conversation, not two.
    SQLite has one writer at a time: the write transaction is the lock."""
    row = (
        await conn.execute(
            select(t.visitors.c.id)
            .where(t.visitors.c.org_id == org_id, t.visitors.c.id == visitor_id)
            .with_for_update()
        )
    ).first()
    return row is not None


async def open_chats(conn: AsyncConnection, *, org_id: str) -> dict[str, int]:
    """Active conversations per owner, not counting auto pounces nobody has answered yet:
    a greeting that is waiting for a visitor does not keep a rep busy."""
    c = t.conversations.c
    p = proactive_pounces.c
    rows = await conn.execute(
        select(c.owner_id, func.count())
        .select_from(
            t.conversations.outerjoin(
                proactive_pounces,
                and_(p.conversation_id == c.id, p.org_id == c.org_id),
            )
        )
        .where(
            c.org_id == org_id,
            c.status == ConversationStatus.ACTIVE.value,
            c.owner_id.is_not(None),
            (p.stage.is_(None)) | (p.stage.not_in([Stage.GREETED.value, Stage.NUDGED.value])),
        )
        .group_by(c.owner_id)
    )
    return {owner: int(n) for owner, n in rows}


async def set_outcome(
    conn: AsyncConnection, *, org_id: str, conversation_id: str, outcome: Outcome
) -> bool:
    """Record an outcome on the conversation unless one is there already."""
    c = t.conversations.c
    result = await conn.execute(
        update(t.conversations)
        .where(c.org_id == org_id, c.id == conversation_id, c.outcome.is_(None))
        .values(outcome=outcome.value, updated_at=datetime.now(UTC))
    )
    return result.rowcount == 1


async def hand_back(conn: AsyncConnection, *, org_id: str, conversation_id: str) -> bool:
    """Missed response: the conversation loses its owner and waits for routing again."""
    c = t.conversations.c
    result = await conn.execute(
        update(t.conversations)
        .where(
            c.org_id == org_id,
            c.id == conversation_id,
            c.status != ConversationStatus.CLOSED.value,
        )
        .values(
            owner_id=None,
            status=ConversationStatus.OPEN.value,
            outcome=Outcome.MISSED_RESPONSE.value,
            routed_to=[],
            updated_at=datetime.now(UTC),
        )
    )
    return result.rowcount == 1


async def rep_reply_after(
    conn: AsyncConnection, *, org_id: str, conversation_id: str, after: datetime
) -> float | None:
    """When a rep first wrote (from the console: it has a client id) after `after`."""
    m = t.messages.c
    value = (
        await conn.execute(
            select(func.min(m.created_at)).where(
                m.org_id == org_id,
                m.conversation_id == conversation_id,
                m.author_kind == AuthorKind.REP.value,
                m.client_id.is_not(None),
                m.created_at >= after,
            )
        )
    ).scalar()
    return _epoch(value) if value is not None else None


def epoch_to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
