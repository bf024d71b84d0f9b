"""The parts server frames are made of: messages, conversations, reps, visitors.

A visitor's shapes (`VisitorMessage`, `VisitorConversation`) have no rep-only fields;
frames for the messenger are built from them only.
"""

from __future__ import annotations

from typing import Any, Literal

from pounce.realtime.frames.base import OptionalShape, Shape

AuthorKindName = Literal["visitor", "rep", "bot", "system"]
StatusName = Literal["open", "active", "closed"]
SourceName = Literal["inbound", "pounce", "auto_pounce"]
AvailabilityName = Literal["available", "away"]
RoleName = Literal["admin", "rep"]


class Author(Shape):
    """Who wrote a message or did something in a conversation."""

    kind: AuthorKindName
    id: str | None
    name: str | None
    avatar_url: str | None


class Typist(Shape):
    """The visitor who is typing."""

    kind: Literal["visitor"]
    id: str


class RepCard(Shape):
    """A rep as anyone may see them."""

    id: str
    name: str
    first_name: str
    avatar_url: str | None


class Message(Shape):
    """A stored message as a visitor may see it."""

    conversation_id: str
    seq: int
    client_id: str | None
    author: Author
    body: str
    html: str
    created_at: str


class MessageWithMeta(Message, omit_defaults=True):
    """A stored message as reps see it: rep-only `meta` (e.g. auto pounce markers), and
    `audience` "reps" for a note its visitor never sees."""

    meta: dict[str, Any] | None = None
    audience: Literal["all", "reps", "visitor"] = "all"


class ConversationForVisitor(Shape):
    """A conversation as its visitor sees it: no routing, source or outcome."""

    id: str
    visitor_id: str
    status: StatusName
    owner: RepCard | None
    last_seq: int
    created_at: str
    rep_read_seq: int


class Conversation(Shape):
    """A conversation as reps see it."""

    id: str
    visitor_id: str
    status: StatusName
    owner: RepCard | None
    last_seq: int
    created_at: str
    source: SourceName
    outcome: str | None
    routed_to: list[str]
    visitor_read_seq: int
    rep_read_seq: int
    updated_at: str
    closed_at: str | None


class PageInfo(Shape):
    """A page a visitor viewed."""

    url: str
    title: str
    referrer: str | None = None
    viewed_at: str | None = None


class VisitorPresence(OptionalShape):
    """A visitor in Live View; `attributes` only on an alert's visitor card."""

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
    """A rep as the console's team list shows them."""

    id: str
    name: str
    first_name: str
    avatar_url: str | None
    role: RoleName
    availability: AvailabilityName
    online: bool
    auto_pounce: bool


class Alert(OptionalShape):
    """An inbound chat routed to me; `deadline` (epoch ms): a visitor replied to my auto
    pounce and I must act before it."""

    conversation: Conversation
    visitor: VisitorPresence
    message: MessageWithMeta | None
    routed_to: list[str]
    deadline: int | None = None


class TransferCandidate(Shape):
    """A rep who could take a conversation now, and how many they have open."""

    rep: RepCard
    open_conversations: int


class WelcomeUser(Shape):
    """The signed-in rep."""

    id: str
    name: str
    first_name: str
    email: str
    role: RoleName
    avatar_url: str | None
    availability: AvailabilityName
    auto_pounce: bool


class Org(OptionalShape):
    """The organisation."""

    name: str
    id: str | None = None


# -- Visitor 360 (reps only) --------------------------------------------------------------

ProvenanceName = Literal["verified", "visitor", "enriched", "crm"]
IdentityFieldName = Literal[
    "name", "email", "company", "company_domain", "industry", "company_size", "country", "city"
]


class IdentityClaim(OptionalShape):
    """What one field of a visitor's identity says, and where it came from: `verified`
    (the site's signed `identify`), `visitor` (typed by them, or claimed unsigned),
    `enriched` (`source`, `confidence` 0 to 1), `crm`. Per field, the first is shown."""

    field: IdentityFieldName
    value: str
    provenance: ProvenanceName
    updated_at: str
    source: str | None = None
    confidence: float | None = None


class Contact(Shape):
    """The site's user this visitor was verified as, and that user's other devices."""

    user_id: str
    visitor_ids: list[str]


class ViewedPage(Shape):
    """A page a visitor (or another device of the same contact) viewed."""

    visitor_id: str
    url: str
    title: str
    viewed_at: str


class PastConversation(Shape):
    """A conversation of the visitor, for the profile's list."""

    id: str
    visitor_id: str
    status: StatusName
    source: SourceName
    outcome: str | None
    owner: RepCard | None
    created_at: str
    closed_at: str | None
    last_seq: int


class VisitorProfile(Shape):
    """Visitor 360: who the visitor is (with provenance), where from, what they viewed
    (newest first; `more_pages`: older ones exist), their conversations (newest first),
    who owns them now, and when they were last seen."""

    visitor: VisitorPresence
    identity: list[IdentityClaim]
    contact: Contact | None
    city: str | None
    pages: list[ViewedPage]
    more_pages: bool
    conversations: list[PastConversation]
    owner: RepCard | None
    last_seen_at: str
