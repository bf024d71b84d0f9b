"""Server frames of protocol v1 as models: their JSON Schemas document the wire, and the
test clients validate every frame they receive against them.

The messenger's shapes have no rep-only fields and forbid extra ones, so a rep-only
field that leaks onto a visitor's socket fails every test that sees it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Author(Shape):
    kind: Literal["visitor", "rep", "bot", "system"]
    id: str | None = None
    name: str | None = None
    avatar_url: str | None = None


class RepCard(Shape):
    id: str
    name: str
    first_name: str
    avatar_url: str | None


class VisitorMessage(Shape):
    """A message as a visitor sees it: no rep-only `meta` (e.g. auto-pounce markers)."""

    conversation_id: str
    seq: int
    client_id: str | None
    author: Author
    body: str
    html: str
    created_at: str


class MessageBody(VisitorMessage):
    meta: dict[str, Any] | None = None


class VisitorConversation(Shape):
    """A conversation as a visitor sees it: no routing, source or outcome."""

    id: str
    visitor_id: str
    status: Literal["open", "active", "closed"]
    owner: RepCard | None
    last_seq: int
    created_at: str
    rep_read_seq: int


class Conversation(Shape):
    id: str
    visitor_id: str
    status: Literal["open", "active", "closed"]
    owner: RepCard | None
    last_seq: int
    created_at: str
    source: Literal["inbound", "pounce", "auto_pounce"]
    outcome: str | None
    routed_to: list[str]
    visitor_read_seq: int
    rep_read_seq: int
    updated_at: str
    closed_at: str | None


class PageInfo(Shape):
    url: str
    title: str
    referrer: str | None = None
    viewed_at: str | None = None


class VisitorPresence(Shape):
    id: str
    name: str | None
    email: str | None
    company: str | None
    country: str | None
    online: bool
    current_page: PageInfo | None
    first_seen_at: str | None
    session_started_at: str | None
    pages_viewed: int
    conversation_id: str | None
    attributes: dict[str, Any] | None = None


class RepPresence(Shape):
    id: str
    name: str
    first_name: str
    avatar_url: str | None
    role: Literal["admin", "rep"]
    availability: Literal["available", "away"]
    online: bool
    auto_pounce: bool


class Alert(Shape):
    """`deadline` (epoch ms): a visitor replied to the rep's auto pounce; act before it."""

    conversation: Conversation
    visitor: VisitorPresence
    message: MessageBody | None
    routed_to: list[str]
    deadline: int | None = None


class WelcomeUser(Shape):
    id: str
    name: str
    first_name: str
    email: str
    role: Literal["admin", "rep"]
    avatar_url: str | None
    availability: Literal["available", "away"]
    auto_pounce: bool


class Org(Shape):
    id: str | None = None
    name: str


class MessengerWelcome(Shape):
    type: Literal["welcome"]
    v: Literal[1]
    visitor_id: str
    visitor_token: str
    org: Org
    reps_available: bool
    conversation: VisitorConversation | None
    strings_locale: str


class ConsoleWelcome(Shape):
    type: Literal["welcome"]
    v: Literal[1]
    user: WelcomeUser
    org: Org
    reps: list[RepPresence]
    visitors: list[VisitorPresence]
    alerts: list[Alert]
    conversations: list[Conversation]


class VisitorAck(Shape):
    type: Literal["ack"]
    id: str
    conversation_id: str | None = None
    seq: int | None = None
    message: VisitorMessage | None = None


class Ack(Shape):
    type: Literal["ack"]
    id: str
    conversation_id: str | None = None
    seq: int | None = None
    message: MessageBody | None = None
    conversation: Conversation | None = None
    status: Literal["available", "away"] | None = None


class Error(Shape):
    type: Literal["error"]
    code: str
    message: str
    id: str | None = None
    owner: RepCard | None = None
    conversation_id: str | None = None


class VisitorMessageFrame(VisitorMessage):
    type: Literal["message"]


class MessageFrame(MessageBody):
    type: Literal["message"]


class TypingFrame(Shape):
    type: Literal["typing"]
    conversation_id: str
    author: Author | RepCard | None
    typing: bool


class ReadFrame(Shape):
    type: Literal["read"]
    conversation_id: str
    seq: int
    by: Literal["visitor", "rep"]


class VisitorConversationFrame(Shape):
    type: Literal["conversation"]
    conversation: VisitorConversation


class ConversationFrame(Shape):
    type: Literal["conversation"]
    conversation: Conversation


class AwayFrame(Shape):
    type: Literal["away"]
    conversation_id: str
    message: VisitorMessage


class RepsAvailableFrame(Shape):
    type: Literal["reps_available"]
    available: bool


class ResumedFrame(Shape):
    type: Literal["resumed"]
    conversations: dict[str, int]


class PongFrame(Shape):
    type: Literal["pong"]
    t: int | float | str | None = None


class AlertFrame(Alert):
    type: Literal["alert"]


class PresenceFrame(Shape):
    type: Literal["presence"]
    rep: RepPresence


class VisitorFrame(Shape):
    type: Literal["visitor"]
    visitor: VisitorPresence


class AutoPounceFrame(Shape):
    """The rep's *Enable auto pounce* changed, and why (`missed_response` names the chat)."""

    type: Literal["auto_pounce"]
    enabled: bool
    reason: Literal["available", "rep", "missed_response"]
    conversation_id: str | None = None


ToMessenger = Annotated[
    MessengerWelcome
    | VisitorAck
    | Error
    | VisitorMessageFrame
    | TypingFrame
    | ReadFrame
    | VisitorConversationFrame
    | AwayFrame
    | RepsAvailableFrame
    | ResumedFrame
    | PongFrame,
    Field(discriminator="type"),
]
ToConsole = Annotated[
    ConsoleWelcome
    | Ack
    | Error
    | MessageFrame
    | TypingFrame
    | ReadFrame
    | ConversationFrame
    | ResumedFrame
    | PongFrame
    | AlertFrame
    | PresenceFrame
    | VisitorFrame
    | AutoPounceFrame,
    Field(discriminator="type"),
]
TO_MESSENGER: TypeAdapter[ToMessenger] = TypeAdapter(ToMessenger)
TO_CONSOLE: TypeAdapter[ToConsole] = TypeAdapter(ToConsole)

MESSENGER_SERVER_FRAMES: dict[str, type[BaseModel]] = {
    "welcome": MessengerWelcome,
    "ack": VisitorAck,
    "error": Error,
    "message": VisitorMessageFrame,
    "typing": TypingFrame,
    "read": ReadFrame,
    "conversation": VisitorConversationFrame,
    "away": AwayFrame,
    "reps_available": RepsAvailableFrame,
    "resumed": ResumedFrame,
    "pong": PongFrame,
}
CONSOLE_SERVER_FRAMES: dict[str, type[BaseModel]] = {
    "welcome": ConsoleWelcome,
    "ack": Ack,
    "error": Error,
    "message": MessageFrame,
    "typing": TypingFrame,
    "read": ReadFrame,
    "conversation": ConversationFrame,
    "resumed": ResumedFrame,
    "pong": PongFrame,
    "alert": AlertFrame,
    "presence": PresenceFrame,
    "visitor": VisitorFrame,
    "auto_pounce": AutoPounceFrame,
}
