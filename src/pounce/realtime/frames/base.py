"""The kinds of frame in protocol v1, the limits they share, and encoding.

A frame is a `msgspec.Struct` whose class says what it is: a client frame of an
endpoint (`FromMessenger`, `FromConsole`), a server frame for an endpoint
(`ToMessenger`, `ToConsole`), or a `Hello`. Its `type` on the wire is the class's
tag. Everything else (the per-endpoint unions, the JSON Schemas, the dispatch tables
and the TypeScript types) is derived from these classes in `frames.protocol`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 16 * 1024
MAX_BODY_CHARS = 8000
MAX_RESUME_ENTRIES = 200

ClientId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
EntityId = Annotated[str, Meta(min_length=1, max_length=40)]
Url = Annotated[str, Meta(max_length=2000)]
Title = Annotated[str, Meta(max_length=500)]
Body = Annotated[str, Meta(min_length=1, max_length=MAX_BODY_CHARS)]
Seq = Annotated[int, Meta(ge=0, le=2**31 - 1)]
After = Annotated[dict[EntityId, Seq], Meta(max_length=MAX_RESUME_ENTRIES)]
Email = Annotated[str, Meta(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]

# How fast a socket may send each class of frame (see api/sockets.py's budgets).
Budget = Literal["chat", "control", "signal"]


class Frame(
    msgspec.Struct,
    forbid_unknown_fields=True,
    kw_only=True,
    omit_defaults=True,
    tag_field="type",
):
    """Any frame; its wire `type` is the class's tag."""


class Shape(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A part of a frame (a message, a conversation, a rep's card)."""


class OptionalShape(Shape, omit_defaults=True):
    """A shape whose fields at their default are left out on the wire."""


class Hello(Frame):
    """The first frame a client sends; each endpoint has one."""


class ClientFrame(Frame):
    """A frame a client sends after `hello`."""

    budget: ClassVar[Budget] = "chat"


class FromMessenger(ClientFrame):
    """A frame the messenger may send."""


class FromConsole(ClientFrame):
    """A frame the console may send."""


class ServerFrame(Frame):
    """A frame the server sends."""


class ToMessenger(ServerFrame):
    """A frame a visitor's socket may receive: visitor-safe fields only."""


class ToConsole(ServerFrame):
    """A frame a rep's socket may receive."""


def tag_of(cls: type[Frame]) -> str:
    tag = cls.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{cls.__name__} has no wire type")
    return tag


_encoder = msgspec.json.Encoder()


def encode(frame: Frame) -> bytes:
    """The wire bytes of one frame (the server sends nothing else)."""
    return _encoder.encode(frame)
