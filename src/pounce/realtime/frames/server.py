"""Frames the server sends: to visitors' messengers, to reps' consoles, or to both.

A frame for the messenger is built from visitor-safe shapes only and forbids any
other field, so rep-only data cannot be put on a visitor's socket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Union

from pounce.domain.model import Audience
from pounce.realtime.frames import stream
from pounce.realtime.frames.base import PROTOCOL_VERSION, ToConsole, ToMessenger
from pounce.realtime.frames.shapes import (
    Alert,
    Author,
    Contact,
    Conversation,
    ConversationForVisitor,
    IdentityClaim,
    Message,
    MessageWithMeta,
    Org,
    RepCard,
    RepPresence,
    TransferCandidate,
    Typist,
    VisitorPresence,
    VisitorProfile,
    WelcomeUser,
)

if TYPE_CHECKING:
    VisitorEvent = stream.Event
    RepEvent = stream.Event
else:
    VisitorEvent = Union[  # noqa: UP007 (built from the kinds at import time)
        tuple(k for k in stream.kinds() if k.audience in (Audience.ALL, Audience.VISITOR))
    ]
    RepEvent = Union[  # noqa: UP007
        tuple(k for k in stream.kinds() if k.audience in (Audience.ALL, Audience.REPS))
    ]

Version = Literal[1]
assert PROTOCOL_VERSION == 1


# -- both endpoints -----------------------------------------------------------------------


class ErrorFrame(ToMessenger, ToConsole, tag="error"):
    """A frame was refused (`id` names it) or something failed; the socket stays open.
    `retry_after_ms`: a budget ran out, try again after this long."""

    code: str
    message: str
    id: str | None = None
    owner: RepCard | None = None
    conversation_id: str | None = None
    retry_after_ms: int | None = None


class Pong(ToMessenger, ToConsole, tag="pong"):
    """The answer to `ping`, echoing its `t`."""

    t: int | float | str | None


class ReadReceipt(ToMessenger, ToConsole, tag="read"):
    """The other side has read up to `seq`."""

    conversation_id: str
    seq: int
    by: Literal["visitor", "rep"]


class Resumed(ToMessenger, ToConsole, tag="resumed"):
    """The replay is out: the last seq it covered per conversation; `more` lists those
    with more to send (ask again with `resume` from there); `id` is the `resume`'s."""

    conversations: dict[str, int]
    more: list[str] = []
    id: str | None = None


# -- messenger ------------------------------------------------------------------------------


class MessengerWelcome(ToMessenger, tag="welcome"):
    """The answer to `hello`; `connection_id` names this socket."""

    v: Version
    visitor_id: str
    visitor_token: str
    org: Org
    reps_available: bool
    conversation: ConversationForVisitor | None
    strings_locale: str
    connection_id: str


class VisitorAck(ToMessenger, tag="ack"):
    """The frame `id` is done: for a `message`, what was stored; for `identify`, whether
    the identity was `verified`."""

    id: str
    conversation_id: str | None = None
    seq: int | None = None
    message: Message | None = None
    verified: bool | None = None


class MessageToVisitor(ToMessenger, Message, tag="message"):
    """A message in the visitor's conversation (also their own, from another tab)."""


class EventToVisitor(ToMessenger, tag="event"):
    """An event of the visitor's conversation that visitors may see."""

    conversation_id: str
    seq: int
    created_at: str
    actor: Author | None
    event: VisitorEvent


class TypingToVisitor(ToMessenger, tag="typing"):
    """The rep is typing (or stopped)."""

    conversation_id: str
    author: RepCard | None
    typing: bool


class ConversationToVisitor(ToMessenger, tag="conversation"):
    """The visitor's conversation changed (a rep joined, it closed)."""

    conversation: ConversationForVisitor


class Away(ToMessenger, tag="away"):
    """Nobody can answer now: the system's message asking for an email."""

    conversation_id: str
    message: Message


class Resync(ToMessenger, tag="resync"):
    """The server's bus lost live frames for a moment: resume from the seqs you have."""


class RepsAvailable(ToMessenger, tag="reps_available"):
    """Whether any rep can answer now."""

    available: bool


# -- console ---------------------------------------------------------------------------------


class ConsoleWelcome(ToConsole, tag="welcome"):
    """The answer to `hello`: the state the console starts from."""

    v: Version
    user: WelcomeUser
    org: Org
    reps: list[RepPresence]
    visitors: list[VisitorPresence]
    alerts: list[Alert]
    conversations: list[Conversation]
    connection_id: str


class ConsoleSync(ToConsole, tag="sync"):
    """The server's bus lost live frames for a moment: the state now (as in `welcome`);
    resume your conversations from the seqs you have."""

    reps: list[RepPresence]
    visitors: list[VisitorPresence]
    alerts: list[Alert]
    conversations: list[Conversation]


class RepAck(ToConsole, tag="ack"):
    """The frame `id` is done, with what it changed (a message, a conversation, my status)."""

    id: str
    conversation_id: str | None = None
    seq: int | None = None
    message: MessageWithMeta | None = None
    conversation: Conversation | None = None
    status: Literal["available", "away"] | None = None


class MessageToRep(ToConsole, MessageWithMeta, tag="message"):
    """A message in a conversation I own or was alerted to."""


class EventToRep(ToConsole, tag="event"):
    """An event of a conversation I own or was alerted to."""

    conversation_id: str
    seq: int
    created_at: str
    actor: Author | None
    event: RepEvent


class TypingToRep(ToConsole, tag="typing"):
    """The visitor is typing (or stopped)."""

    conversation_id: str
    author: Typist
    typing: bool


class ConversationToRep(ToConsole, tag="conversation"):
    """A conversation's owner, status or outcome changed."""

    conversation: Conversation


class AlertFrame(ToConsole, Alert, tag="alert"):
    """A chat routed to me (or my auto pounce's reply, with `deadline`)."""


class Presence(ToConsole, tag="presence"):
    """A rep's availability or *Enable auto pounce* changed, or they came or went."""

    rep: RepPresence


class VisitorUpdate(ToConsole, tag="visitor"):
    """A visitor came online, viewed a page, or went offline."""

    visitor: VisitorPresence


class AutoPounceSwitched(ToConsole, tag="auto_pounce"):
    """My *Enable auto pounce* changed, and why (`missed_response` names the chat)."""

    enabled: bool
    reason: Literal["available", "rep", "missed_response"]
    conversation_id: str | None


class VisitorProfileFrame(ToConsole, tag="visitor_profile"):
    """The answer to `visitor_profile` (`id` names the request)."""

    id: str
    profile: VisitorProfile


class VisitorIdentity(ToConsole, tag="visitor_identity"):
    """What the org's reps know of who these visitors are changed (they are one contact
    when `contact` says so): their identity claims now, best first per field."""

    visitor_ids: list[str]
    identity: list[IdentityClaim]
    contact: Contact | None


class TransferCandidatesFrame(ToConsole, tag="transfer_candidates"):
    """The answer to `transfer_candidates`: the reps who can take the conversation now
    (available, allowed by routing for it, below the org's `max_open_conversations` per
    rep, 0 meaning no limit), with their open conversations."""

    id: str
    conversation_id: str
    owner: RepCard | None
    reps: list[TransferCandidate]
    max_open_conversations: int


class TransferRequest(ToConsole, tag="transfer_request"):
    """`by` asks me to take a conversation (a warm transfer): answer with
    `transfer_reply` before `deadline` (epoch ms)."""

    conversation: Conversation
    visitor: VisitorPresence
    by: RepCard
    note: str | None
    deadline: int


class TransferWaiting(ToConsole, tag="transfer_waiting"):
    """A warm transfer of a conversation I own (or that I asked for) awaits `to`'s answer
    until `deadline` (epoch ms); `transfer_result` ends it. Sent when asked, and again to
    a console that connects while it waits."""

    conversation_id: str
    to: RepCard
    by: RepCard | None
    deadline: int


class TransferResult(ToConsole, tag="transfer_result"):
    """How a warm transfer ended: `accepted`, `declined`, `expired` (no answer in time)
    or `void` (the conversation changed owner or closed first)."""

    conversation_id: str
    to: RepCard | None
    result: Literal["accepted", "declined", "expired", "void"]
