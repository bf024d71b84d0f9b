"""Client frames of protocol v1: parsing, validation and their JSON Schemas."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 16 * 1024
MAX_BODY_CHARS = 8000

ClientId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
EntityId = Annotated[str, Field(min_length=1, max_length=40)]
Url = Annotated[str, Field(max_length=2000)]
Body = Annotated[str, Field(min_length=1, max_length=MAX_BODY_CHARS)]
Seq = Annotated[int, Field(ge=0, le=2**31 - 1)]


class Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PageInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: Url
    title: Annotated[str, Field(max_length=500)] = ""
    referrer: Url | None = None


class MessengerHello(Frame):
    type: Literal["hello"]
    v: StrictInt
    visitor_token: Annotated[str, Field(max_length=500)] | None = None
    locale: Annotated[str, Field(max_length=35)] | None = None
    page: PageInfo | None = None
    host_origin: Url | None = None
    resume: Annotated[dict[EntityId, Seq], Field(max_length=200)] | None = None


class ConsoleHello(Frame):
    type: Literal["hello"]
    v: StrictInt
    resume: Annotated[dict[EntityId, Seq], Field(max_length=200)] | None = None


class PageViewFrame(Frame):
    type: Literal["page_view"]
    id: ClientId
    url: Url
    title: Annotated[str, Field(max_length=500)] = ""
    referrer: Url | None = None


class VisitorMessageFrame(Frame):
    type: Literal["message"]
    id: ClientId
    body: Body


class RepMessageFrame(Frame):
    type: Literal["message"]
    id: ClientId
    conversation_id: EntityId
    body: Body


class VisitorTypingFrame(Frame):
    type: Literal["typing"]
    typing: bool


class RepTypingFrame(Frame):
    type: Literal["typing"]
    conversation_id: EntityId
    typing: bool


class ReadFrame(Frame):
    type: Literal["read"]
    conversation_id: EntityId
    seq: Seq


class ResumeFrame(Frame):
    type: Literal["resume"]
    after: Annotated[dict[EntityId, Seq], Field(max_length=200)]


class LeaveEmailFrame(Frame):
    type: Literal["leave_email"]
    id: ClientId
    email: Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class PingFrame(Frame):
    type: Literal["ping"]
    t: int | float | str | None = None


class AvailabilityFrame(Frame):
    type: Literal["availability"]
    id: ClientId
    status: Literal["available", "away"]


class StartConversationFrame(Frame):
    type: Literal["start_conversation"]
    id: ClientId
    conversation_id: EntityId


class CloseConversationFrame(Frame):
    type: Literal["close_conversation"]
    id: ClientId
    conversation_id: EntityId


class PounceFrame(Frame):
    type: Literal["pounce"]
    id: ClientId
    visitor_id: EntityId
    body: Body


class SetOutcomeFrame(Frame):
    type: Literal["set_outcome"]
    id: ClientId
    conversation_id: EntityId
    outcome: Literal["spam", "no_response_needed"]


MessengerFrame = Annotated[
    PageViewFrame
    | VisitorMessageFrame
    | VisitorTypingFrame
    | ReadFrame
    | ResumeFrame
    | LeaveEmailFrame
    | PingFrame,
    Field(discriminator="type"),
]

ConsoleFrame = Annotated[
    AvailabilityFrame
    | StartConversationFrame
    | RepMessageFrame
    | RepTypingFrame
    | ReadFrame
    | ResumeFrame
    | CloseConversationFrame
    | PounceFrame
    | SetOutcomeFrame
    | PingFrame,
    Field(discriminator="type"),
]

MESSENGER_ADAPTER: TypeAdapter[MessengerFrame] = TypeAdapter(MessengerFrame)
CONSOLE_ADAPTER: TypeAdapter[ConsoleFrame] = TypeAdapter(ConsoleFrame)
MESSENGER_TYPES = frozenset(
    {"hello", "page_view", "message", "typing", "read", "resume", "leave_email", "ping"}
)
CONSOLE_TYPES = frozenset(
    {
        "hello",
        "availability",
        "start_conversation",
        "message",
        "typing",
        "read",
        "resume",
        "close_conversation",
        "pounce",
        "set_outcome",
        "ping",
    }
)


class FrameError(ValueError):
    """A client frame was refused; `code` and `message` go into the error frame."""

    def __init__(self, code: str, message: str, frame_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id


def decode(raw: str | bytes) -> dict[str, Any]:
    """Bytes of one frame to a JSON object, or FrameError (`too_large`, `bad_json`)."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_FRAME_BYTES:
        raise FrameError("too_large", f"frame is {size} bytes; the limit is {MAX_FRAME_BYTES}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError("bad_json", f"frame is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise FrameError("bad_json", "frame must be a JSON object")
    return data


def _frame_id(data: dict[str, Any]) -> str | None:
    value = data.get("id")
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None


def _explain(exc: ValidationError, tag: str | None = None) -> str:
    """`field.path: what is wrong`, without the union's tag that pydantic puts first."""
    first = exc.errors()[0]
    loc = list(first["loc"])
    if tag is not None and loc and loc[0] == tag:
        loc = loc[1:]
    where = ".".join(str(part) for part in loc) or "frame"
    return f"{where}: {first['msg']}"


def parse(data: dict[str, Any], adapter: TypeAdapter[Any], known: frozenset[str]) -> Any:
    """Validate a decoded frame against one endpoint's frames."""
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in known or kind == "hello":
        shown = kind if isinstance(kind, str) else type(kind).__name__
        raise FrameError("unknown_type", f"unknown frame type {shown!r}", _frame_id(data))
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise FrameError("invalid", _explain(exc, kind), _frame_id(data)) from None


_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


def quick_message(raw: bytes) -> tuple[str, str] | None:
    """(id, body) of a well-formed visitor `message` frame, checked by hand.

    The most common frame by far, so it skips the validator; the checks are exactly
    VisitorMessageFrame's (a property test holds them together). None for any other
    frame and for a malformed one: `parse` then explains what is wrong.
    """
    if len(raw) > MAX_FRAME_BYTES:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or len(data) != 3 or data.get("type") != "message":
        return None
    client_id, body = data.get("id"), data.get("body")
    if (
        type(client_id) is not str
        or type(body) is not str
        or not 0 < len(body) <= MAX_BODY_CHARS
        or _CLIENT_ID.fullmatch(client_id) is None
    ):
        return None
    return client_id, body


def parse_hello(data: dict[str, Any], model: type[Frame]) -> Any:
    if data.get("type") != "hello":
        raise FrameError("bad_hello", "the first frame must be hello")
    try:
        hello = model.model_validate(data)
    except ValidationError as exc:
        raise FrameError("bad_hello", _explain(exc)) from None
    if getattr(hello, "v", None) != PROTOCOL_VERSION:
        raise FrameError(
            "bad_hello", f"unsupported protocol version; this server speaks v{PROTOCOL_VERSION}"
        )
    return hello


def encode(frame: dict[str, Any]) -> bytes:
    return orjson.dumps(frame)


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every frame: `endpoint.type` (client) and `endpoint.server.type`."""
    schemas: dict[str, dict[str, Any]] = {
        "messenger.hello": MessengerHello.model_json_schema(),
        "console.hello": ConsoleHello.model_json_schema(),
    }
    for endpoint, models in (
        (
            "messenger",
            (
                PageViewFrame,
                VisitorMessageFrame,
                VisitorTypingFrame,
                ReadFrame,
                ResumeFrame,
                LeaveEmailFrame,
                PingFrame,
            ),
        ),
        (
            "console",
            (
                AvailabilityFrame,
                StartConversationFrame,
                RepMessageFrame,
                RepTypingFrame,
                ReadFrame,
                ResumeFrame,
                CloseConversationFrame,
                PounceFrame,
                SetOutcomeFrame,
                PingFrame,
            ),
        ),
    ):
        for model in models:
            kind = model.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
            schemas[f"{endpoint}.{kind}"] = model.model_json_schema()
    from pounce.realtime.server_frames import CONSOLE_SERVER_FRAMES, MESSENGER_SERVER_FRAMES

    for endpoint, server_models in (
        ("messenger", MESSENGER_SERVER_FRAMES),
        ("console", CONSOLE_SERVER_FRAMES),
    ):
        for kind, server_model in server_models.items():
            schemas[f"{endpoint}.server.{kind}"] = server_model.model_json_schema()
    return schemas
