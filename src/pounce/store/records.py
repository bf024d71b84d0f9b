"""Typed records read from the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from pounce.domain.model import (
    Actor,
    Audience,
    AuthorKind,
    Availability,
    ConversationStatus,
    Role,
    Source,
)
from pounce.domain.ownership import ConversationState


class HotRecord(msgspec.Struct, frozen=True, gc=False):
    """The records built once or more per chat message: frozen (assigning a field raises
    `AttributeError`, and `mypy --strict` rejects it), compared by type and value, and
    built by msgspec's C `__init__`, faster than even a mutable slotted dataclass
    (a `frozen=True` dataclass sets each field through `object.__setattr__`, several
    times slower). Subclasses repeat `frozen=True` for the type checker.

    `gc=False`: the collector does not track them. They hold strings, numbers, times,
    tuples, enums, other records and JSON `meta` dicts, none of which can point back at
    a record, so they cannot be part of a reference cycle.

    Hashing is by value, except that a record with a `meta` dict hashes by the fields
    that identify it (equal records still hash equal); `meta` is the one mutable part
    and is never changed once built.
    """


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    org_id: str
    email: str
    name: str
    role: Role
    availability: Availability
    avatar_url: str | None
    password_hash: str = field(repr=False, default="")

    @property
    def first_name(self) -> str:
        return self.name.split(" ", 1)[0] if self.name else ""

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.id, org_id=self.org_id, role=self.role)

    @classmethod
    def from_row(cls, row: Any) -> User:
        return cls(
            id=row.id,
            org_id=row.org_id,
            email=row.email,
            name=row.name,
            role=Role(row.role),
            availability=Availability(row.availability),
            avatar_url=row.avatar_url,
            password_hash=row.password_hash,
        )


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    org_id: str
    name: str
    site_key: str
    allowed_origins: tuple[str, ...]
    # Signs the site's `identify` tokens; admins only (never in a site's JSON).
    identity_secret: str = field(default="", repr=False)

    @classmethod
    def from_row(cls, row: Any) -> Site:
        return cls(
            id=row.id,
            org_id=row.org_id,
            name=row.name,
            site_key=row.site_key,
            allowed_origins=tuple(row.allowed_origins or ()),
            identity_secret=row.identity_secret or "",
        )


@dataclass(frozen=True, slots=True)
class Visitor:
    id: str
    org_id: str
    site_id: str
    name: str | None
    email: str | None
    company: str | None
    country: str | None
    attributes: dict[str, str]
    blocked: bool
    first_seen_at: datetime
    last_seen_at: datetime
    # The client address of the last connect (None when never known, or not read).
    client_ip: str | None = None

    def __hash__(self) -> int:
        return hash((self.org_id, self.id))  # by identity: `attributes` is a dict

    @classmethod
    def from_row(cls, row: Any) -> Visitor:
        return cls(
            id=row.id,
            org_id=row.org_id,
            site_id=row.site_id,
            name=row.name,
            email=row.email,
            company=row.company,
            country=row.country,
            attributes=dict(row.attributes or {}),
            blocked=bool(row.blocked),
            first_seen_at=as_utc(row.first_seen_at),
            last_seen_at=as_utc(row.last_seen_at),
            client_ip=getattr(row, "client_ip", None),
        )


class Conversation(HotRecord, frozen=True):
    id: str
    org_id: str
    site_id: str
    visitor_id: str
    status: ConversationStatus
    owner_id: str | None
    source: Source
    outcome: str | None
    routed_to: tuple[str, ...]
    last_seq: int
    visitor_read_seq: int
    rep_read_seq: int
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    @property
    def state(self) -> ConversationState:
        return ConversationState(
            org_id=self.org_id,
            status=self.status,
            owner_id=self.owner_id,
            routed_to=self.routed_to,
        )

    @classmethod
    def from_row(cls, row: Any) -> Conversation:
        return cls(
            id=row.id,
            org_id=row.org_id,
            site_id=row.site_id,
            visitor_id=row.visitor_id,
            status=ConversationStatus(row.status),
            owner_id=row.owner_id,
            source=Source(row.source),
            outcome=row.outcome,
            routed_to=tuple(row.routed_to or ()),
            last_seq=row.last_seq,
            visitor_read_seq=row.visitor_read_seq,
            rep_read_seq=row.rep_read_seq,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
            closed_at=as_utc(row.closed_at) if row.closed_at else None,
        )


class Message(HotRecord, frozen=True):
    """An item of a conversation's stream: a chat message (`kind` "message") or an
    event (its data in `meta`), with the audience that may see it."""

    conversation_id: str
    org_id: str
    seq: int
    author_kind: AuthorKind
    author_id: str | None
    client_id: str | None
    body: str
    html: str
    meta: dict[str, Any]
    created_at: datetime
    kind: str = "message"
    audience: Audience = Audience.ALL

    @property
    def is_event(self) -> bool:
        return self.kind != "message"

    def __hash__(self) -> int:
        # A stored message is identified by its conversation and seq (meta is a dict).
        return hash((self.org_id, self.conversation_id, self.seq))

    @classmethod
    def from_row(cls, row: Any) -> Message:
        return cls(
            conversation_id=row.conversation_id,
            org_id=row.org_id,
            seq=row.seq,
            author_kind=AuthorKind(row.author_kind),
            author_id=row.author_id,
            client_id=row.client_id,
            body=row.body,
            html=row.html,
            meta=dict(row.meta or {}),
            created_at=as_utc(row.created_at),
            kind=row.kind,
            audience=Audience(row.audience),
        )
