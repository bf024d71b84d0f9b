"""Durable events in a conversation's stream, beside its messages, with the same `seq`.

Each kind says who may see it (`audience`); the store keeps that with the event, and
replay and live delivery filter by it (`pounce.domain.model.seen_by`).
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from pounce.domain.model import Audience
from pounce.realtime.frames.shapes import RepCard


class Event(
    msgspec.Struct,
    forbid_unknown_fields=True,
    kw_only=True,
    tag_field="kind",
):
    """Something that happened in a conversation; its wire `kind` is the class's tag."""

    audience: ClassVar[Audience] = Audience.ALL


class OwnerChanged(Event, tag="owner_changed"):
    """A rep took the conversation (or it went back to the queue: `owner` null)."""

    owner: RepCard | None


class Transferred(Event, tag="transferred"):
    """The owner (or an admin, `actor`) handed the conversation to another rep; `warm`:
    the new owner accepted a request first."""

    audience: ClassVar[Audience] = Audience.REPS
    from_owner: RepCard | None
    to: RepCard
    warm: bool = False


class NowChattingWith(Event, tag="now_chatting_with"):
    """The visitor's line after a transfer: "You're now chatting with <rep>"."""

    audience: ClassVar[Audience] = Audience.VISITOR
    rep: RepCard


class Closed(Event, tag="closed"):
    """The conversation was closed."""


class Reopened(Event, tag="reopened"):
    """A closed conversation was opened again."""


class OutcomeSet(Event, tag="outcome_set"):
    """How the conversation ended for reports: `replied`, `spam`, `no_response_needed`,
    `missed_response`."""

    audience: ClassVar[Audience] = Audience.REPS
    outcome: str


def kinds() -> list[type[Event]]:
    """Every event kind, in declaration order."""
    found: list[type[Event]] = []
    stack = list(Event.__subclasses__())
    while stack:
        cls = stack.pop(0)
        if isinstance(cls.__struct_config__.tag, str):
            found.append(cls)
        stack[:0] = cls.__subclasses__()
    return found


def kind_of(cls: type[Event]) -> str:
    tag = cls.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


_data_encoder = msgspec.json.Encoder()


def data_of(event: Event) -> dict[str, object]:
    """The event's fields, as stored beside it (its kind is stored apart)."""
    data = msgspec.to_builtins(event)
    assert isinstance(data, dict)
    data.pop("kind", None)
    return data


class VisitorBlocked(Event, tag="visitor_blocked"):
    """A rep blocked the visitor (the event's actor and time say who and when; no actor:
    blocked automatically for spam). `reported`: a report was filed too; `until`: a
    temporary block's end (ISO 8601)."""

    audience: ClassVar[Audience] = Audience.REPS
    reported: bool = False
    until: str | None = None
