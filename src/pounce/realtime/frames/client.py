"""Frames the clients send: the messenger's (visitors) and the console's (reps)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from msgspec import Meta, Struct

from pounce.realtime.frames.base import (
    After,
    Body,
    Budget,
    ClientId,
    Email,
    EntityId,
    FromConsole,
    FromMessenger,
    Hello,
    Seq,
    Title,
    Url,
)


class HelloPage(Struct, forbid_unknown_fields=True, kw_only=True):
    """The page the messenger opened on."""

    url: Url
    title: Title = ""
    referrer: Url | None = None


class MessengerHello(Hello, tag="hello"):
    """The messenger's first frame; `resume` asks for what it missed."""

    v: int
    visitor_token: Annotated[str, Meta(max_length=500)] | None = None
    locale: Annotated[str, Meta(max_length=35)] | None = None
    page: HelloPage | None = None
    host_origin: Url | None = None
    resume: After | None = None


class ConsoleHello(Hello, tag="hello"):
    """The console's first frame."""

    v: int
    resume: After | None = None


# -- both endpoints -------------------------------------------------------------------


class Ping(FromMessenger, FromConsole, tag="ping"):
    """Answered with `pong` echoing `t`."""

    budget: ClassVar[Budget] = "control"
    t: int | float | str | None = None


class Read(FromMessenger, FromConsole, tag="read"):
    """I have read up to `seq` of this conversation."""

    budget: ClassVar[Budget] = "control"
    conversation_id: EntityId
    seq: Seq


class Resume(FromMessenger, FromConsole, tag="resume"):
    """Send what came after these seqs (a page at a time), then `resumed`."""

    budget: ClassVar[Budget] = "control"
    after: After
    id: ClientId | None = None


# -- messenger --------------------------------------------------------------------------


class PageView(FromMessenger, tag="page_view"):
    """The visitor opened a page of the site."""

    id: ClientId
    url: Url
    title: Title = ""
    referrer: Url | None = None


class VisitorSend(FromMessenger, tag="message"):
    """A message into the visitor's conversation (the first one opens it)."""

    id: ClientId
    body: Body


class VisitorTyping(FromMessenger, tag="typing"):
    """The visitor started or stopped typing (the conversation's reps see it)."""

    budget: ClassVar[Budget] = "control"
    typing: bool


class LeaveEmail(FromMessenger, tag="leave_email"):
    """The email the away message asks for."""

    id: ClientId
    email: Email


class Identify(FromMessenger, tag="identify"):
    """The site says who the visitor is: a `token` (JWT, HS256 with the site's identity
    secret, `exp` and `sub` required, optional `email`, `name`, `company` claims), or a
    `user_id` with its `user_hash` (HMAC-SHA256 of it with the same secret). Anything
    not signed is stored as the visitor's unverified claim."""

    id: ClientId
    token: Annotated[str, Meta(min_length=1, max_length=4096)] | None = None
    user_id: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    user_hash: Annotated[str, Meta(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    email: Email | None = None
    name: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    company: Annotated[str, Meta(min_length=1, max_length=200)] | None = None


# -- console ------------------------------------------------------------------------------


class SetAvailability(FromConsole, tag="availability"):
    """I am Available or Away (every tab of mine and the other reps hear it)."""

    id: ClientId
    status: Literal["available", "away"]


class StartConversation(FromConsole, tag="start_conversation"):
    """Become the owner of a routed conversation (exactly one rep wins)."""

    id: ClientId
    conversation_id: EntityId


class RepSend(FromConsole, tag="message"):
    """The owner's message to the visitor."""

    id: ClientId
    conversation_id: EntityId
    body: Body


class RepTyping(FromConsole, tag="typing"):
    """I started or stopped typing in a conversation I own (its visitor sees it)."""

    budget: ClassVar[Budget] = "control"
    conversation_id: EntityId
    typing: bool


class CloseConversation(FromConsole, tag="close_conversation"):
    """Close a conversation I own (an admin: any); its visitor sees it end."""

    id: ClientId
    conversation_id: EntityId


class ReopenConversation(FromConsole, tag="reopen_conversation"):
    """Open a closed conversation again (the undo of a close)."""

    id: ClientId
    conversation_id: EntityId


class AddNote(FromConsole, tag="note"):
    """A note in the conversation that only reps see (its visitor never does)."""

    id: ClientId
    conversation_id: EntityId
    body: Body


class Pounce(FromConsole, tag="pounce"):
    """Write first to a visitor on the site: a new conversation that I own."""

    id: ClientId
    visitor_id: EntityId
    body: Body


class SetOutcome(FromConsole, tag="set_outcome"):
    """Mark a conversation spam or not needing an answer; it closes."""

    id: ClientId
    conversation_id: EntityId
    outcome: Literal["spam", "no_response_needed"]


class GetVisitorProfile(FromConsole, tag="visitor_profile"):
    """Visitor 360 of a visitor of my org: answered with `visitor_profile` (same `id`)."""

    budget: ClassVar[Budget] = "control"
    id: ClientId
    visitor_id: EntityId


class TransferCandidates(FromConsole, tag="transfer_candidates"):
    """Who could take this conversation now (the owner drop-down): answered with
    `transfer_candidates`."""

    budget: ClassVar[Budget] = "control"
    id: ClientId
    conversation_id: EntityId


class Transfer(FromConsole, tag="transfer"):
    """Hand a conversation I own (an admin: any) to `to`. `owner_id` is the owner I saw:
    if it changed meanwhile nothing happens (`owner_changed`). Cold (default): at once;
    `warm`: `to` is asked first, with an optional handoff `note` only reps see."""

    id: ClientId
    conversation_id: EntityId
    owner_id: EntityId | None
    to: EntityId
    warm: bool = False
    note: Body | None = None


class TransferReply(FromConsole, tag="transfer_reply"):
    """Accept or decline a warm transfer asked of me."""

    id: ClientId
    conversation_id: EntityId
    accept: bool


class BlockVisitor(FromConsole, tag="block_visitor"):
    """Block the conversation's visitor on this device (every site of the org); with
    `report`, also file a report with `reason` for the org's admins."""

    id: ClientId
    conversation_id: EntityId
    report: bool = False
    reason: Annotated[str, Meta(max_length=2000)] | None = None
