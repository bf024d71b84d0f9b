"""Typed records read from the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from typing_extensions import dataclass_transform

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

_R = TypeVar("_R")


@dataclass_transform(frozen_default=True)
def hot_record(cls: type[_R]) -> type[_R]:
    """A frozen dataclass, for the records built once or more per chat message.

    The type checker holds it frozen (assigning a field is an error, as with
    `frozen=True`); at run time it is built without frozen's `object.__setattr__` per
    field, which makes `__init__` several times faster. Equality and hashing are the
    frozen form's (`unsafe_hash` hashes the fields, as `frozen=True` does).
    """
    return dataclass(slots=True, unsafe_hash=True)(cls)


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

    @classmethod
    def from_row(cls, row: Any) -> Site:
        return cls(
            id=row.id,
            org_id=row.org_id,
            name=row.name,
            site_key=row.site_key,
            allowed_origins=tuple(row.allowed_origins or ()),
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
        )


@hot_record
class Conversation:
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


@hot_record
class Message:
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
