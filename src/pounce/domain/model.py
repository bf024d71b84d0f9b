"""Value types shared by every layer: roles, statuses, author kinds, identifiers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    REP = "rep"


class Availability(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"


class AuthorKind(StrEnum):
    VISITOR = "visitor"
    REP = "rep"
    BOT = "bot"
    SYSTEM = "system"


class ConversationStatus(StrEnum):
    OPEN = "open"  # waiting for a rep to start it
    ACTIVE = "active"  # a rep owns it
    CLOSED = "closed"


class Source(StrEnum):
    INBOUND = "inbound"
    POUNCE = "pounce"
    AUTO_POUNCE = "auto_pounce"


class Outcome(StrEnum):
    REPLIED = "replied"
    SPAM = "spam"
    NO_RESPONSE_NEEDED = "no_response_needed"
    MISSED_RESPONSE = "missed_response"


class Audience(StrEnum):
    """Who may see an item of a conversation's stream (a message or an event)."""

    ALL = "all"
    REPS = "reps"
    VISITOR = "visitor"


def seen_by(endpoint: str) -> tuple[Audience, ...]:
    """The audiences an endpoint's clients may see: the one rule for replay and live."""
    if endpoint == "visitor":
        return (Audience.ALL, Audience.VISITOR)
    if endpoint == "reps":
        return (Audience.ALL, Audience.REPS)
    raise ValueError(f"no such endpoint {endpoint!r}")


class RouteMode(StrEnum):
    ROUND_ROBIN = "round_robin"
    EVERYONE = "everyone"


def new_id(prefix: str) -> str:
    """A random, URL-safe identifier with a readable kind prefix (`c_…`, `v_…`)."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a rep or admin of one org."""

    user_id: str
    org_id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
