"""The shapes of the REST API's answers. Each route declares one, so the OpenAPI document
(`docs/openapi.json`) states every answer and the console's types are generated from it.

Extra fields are forbidden: an answer that drifts from its model fails with a 500 in the
tests (schemathesis walks every route) instead of reaching clients undocumented. A field
with a default is left out of the answer when it was not set (`exclude_unset` routes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["admin", "rep"]
Availability = Literal["available", "away"]
Tone = Literal["casual", "friendly", "professional"]
Operation = Literal["suggest", "expand", "tune"]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- people and the session ---------------------------------------------------------------


class User(Out):
    id: str
    email: str
    name: str
    first_name: str
    role: Role
    availability: Availability
    avatar_url: str | None


class UserList(Out):
    items: list[User]


class Session(Out):
    """The signed-in rep and the CSRF token every write must carry in `X-CSRF-Token`."""

    user: User
    csrf_token: str


class AvailabilityOut(Out):
    status: Availability


class MySwitch(Out):
    """The rep's *Enable auto pounce*; `reason` says who or what last set it."""

    enabled: bool
    reason: Literal["available", "rep", "missed_response"] | None


class Team(Out):
    id: str
    name: str
    member_ids: list[str]


class TeamList(Out):
    items: list[Team]


# -- sites and routing -----------------------------------------------------------------------


class Site(Out):
    id: str
    name: str
    site_key: str
    allowed_origins: list[str]
    snippet: str = Field(description="The `<script>` tag to paste into the site's pages.")


class SiteList(Out):
    items: list[Site]


class IdentitySecret(Out):
    identity_secret: str = Field(
        description="Signs the site's `identify` tokens (JWT HS256) and user hashes "
        "(HMAC-SHA256 of the user id). Keep it on the site's server."
    )


class RoutingRule(Out):
    id: str
    position: int
    name: str
    url_pattern: str
    attributes: dict[str, str]
    company: str | None
    country: str | None
    team_id: str | None
    rep_ids: list[str]
    mode: Literal["round_robin", "everyone"]
    enabled: bool


class RoutingRuleList(Out):
    items: list[RoutingRule]


# -- visitors, conversations, messages -----------------------------------------------------


class PageInfo(Out):
    url: str
    title: str
    referrer: str | None = None
    viewed_at: str | None = None


class PageView(Out):
    url: str
    title: str
    referrer: str | None
    viewed_at: str | None


class VisitorCard(Out):
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
    attributes: dict[str, Any]


class VisitorList(Out):
    items: list[VisitorCard]


class VisitorDetail(VisitorCard):
    page_views: list[PageView] = Field(description="The visitor's last 200 page views.")


class RepCard(Out):
    id: str
    name: str
    first_name: str
    avatar_url: str | None


class Conversation(Out):
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


class ConversationList(Out):
    items: list[Conversation]


class Author(Out):
    kind: Literal["visitor", "rep", "bot", "system"]
    id: str | None
    name: str | None
    avatar_url: str | None


class Message(Out):
    conversation_id: str
    seq: int
    client_id: str | None
    author: Author
    body: str
    html: str
    created_at: str
    meta: dict[str, Any] = Field(
        default_factory=dict, description="Rep-only extras (e.g. `auto_pounce`), when any."
    )


class MessagePage(Out):
    items: list[Message]
    next_after_seq: int | None = Field(description="Ask again from here; null at the end.")


class Rendered(Out):
    html: str


# -- shortcuts ------------------------------------------------------------------------------


class Shortcut(Out):
    id: str
    name: str
    scope: Literal["mine", "org"]
    text: str
    html: str
    editable: bool = Field(
        description="May this rep change it (their own; any org one for admins)?"
    )
    created_at: str
    updated_at: str


class ShortcutList(Out):
    items: list[Shortcut]


class MenuCommand(Out):
    kind: Literal["command"]
    name: Operation
    label: str
    description: str


class MenuShortcut(Shortcut):
    kind: Literal["shortcut"]


class Menu(Out):
    items: list[Annotated[MenuCommand | MenuShortcut, Field(discriminator="kind")]]


class Expanded(Out):
    body: str
    html: str
    unknown_placeholders: list[str]


# -- knowledge and the copilot -----------------------------------------------------------


class KnowledgePage(Out):
    id: str
    title: str
    format: Literal["markdown", "text"]
    chars: int
    created_at: str
    updated_at: str


class KnowledgePageFull(KnowledgePage):
    body: str


class KnowledgeList(Out):
    items: list[KnowledgePage]


class CopilotSource(Out):
    kind: Literal["page", "shortcut", "transcript"]
    id: str
    title: str
    text: str
    html: str
    score: float


class CopilotResult(Out):
    """Text for the composer (never sent by itself)."""

    op: Operation
    text: str
    html: str
    source: str = Field(description='The model\'s name, or "offline".')
    tone: Tone
    fallback: str | None = Field(description="Why a configured provider was not used.")
    note: str | None
    sources: list[CopilotSource] = Field(
        default_factory=list, description="Suggest only: the knowledge it drew on."
    )


class StreamChunk(Out):
    """Streamed text to append."""

    text: str


class StreamReset(Out):
    """The provider failed midway: drop the text so far; the fallback's follows."""

    reason: str


class StreamError(Out):
    detail: str
    code: str


class ToneOut(Out):
    conversation_id: str
    tone: Tone
    set: bool = Field(description="False: no tone chosen yet, the default applies.")


class EffectiveProvider(Out):
    source: str
    configured_by: Literal["none", "org", "server"]
    server_provider_set: bool


class AISettings(Out):
    """The org's AI provider as an admin sees it: the API key is never returned."""

    provider: Literal["default", "offline", "openai_compatible"]
    base_url: str | None
    model: str | None
    timeout_seconds: float | None
    max_tokens: int | None
    api_key_set: bool
    effective: EffectiveProvider


# -- auto pounce ----------------------------------------------------------------------------


class ProactiveSettings(Out):
    auto_pounce_enabled: bool
    nudge_delay_seconds: float
    quiet_period_hours: float
    max_open_chats_per_rep: int
    rep_timeout_seconds: float
    nudge_template: str


class PounceRule(Out):
    id: str
    position: int
    name: str
    url_pattern: str
    min_seconds_on_page: float
    min_pages_viewed: int
    attributes: dict[str, str]
    enabled: bool


class PounceRuleList(Out):
    items: list[PounceRule]


class PounceTemplate(Out):
    id: str
    position: int
    name: str
    url_pattern: str
    body: str


class PounceTemplateList(Out):
    items: list[PounceTemplate]


class ReportCounts(Out):
    pounces_sent: int
    replies: int
    response_seconds_median: float | None
    replied: int
    missed_responses: int
    spam: int
    no_response_needed: int


class ReportRow(ReportCounts):
    rep_id: str
    rep_name: str | None


class AutoPounceReport(Out):
    from_: str = Field(alias="from", description="First day (UTC), YYYY-MM-DD.")
    to: str = Field(description="Last day (UTC), inclusive.")
    rep_id: str | None
    items: list[ReportRow]
    totals: ReportCounts


# -- blocks and abuse ---------------------------------------------------------------------


class BlockedVisitor(Out):
    id: str
    name: str | None
    email: str | None
    blocked_at: str
    expires_at: str | None
    conversation_id: str | None
    client_ip: str | None
    blocked_by: str | None
    blocked_by_name: str | None


class BlockedVisitorList(Out):
    items: list[BlockedVisitor]


class Report(Out):
    id: str
    visitor_id: str
    conversation_id: str | None
    reported_by: str
    reported_by_name: str | None
    reason: str
    client_ip: str | None
    resolved: bool
    created_at: str


class ReportList(Out):
    items: list[Report]


class IpBlock(Out):
    id: str
    cidr: str
    created_by: str
    report_id: str | None
    created_at: str
    expires_at: str | None


class IpBlockList(Out):
    items: list[IpBlock]


class AbuseSettings(Out):
    messages_per_minute: int
    conversations_per_hour: int
    spam_block_enabled: bool
    spam_block_threshold: int
    spam_block_hours: int


# -- email and the outbox -----------------------------------------------------------------


class EmailSettings(Out):
    smtp_configured: bool = Field(description="False: POUNCE_SMTP_URL is unset; no email.")
    transcript_email: bool = Field(description="Email the transcript when a chat closes.")


class TranscriptQueued(Out):
    to: str


class OutboxRow(Out):
    id: int
    kind: str
    status: Literal["pending", "done", "failed"]
    attempts: int
    last_error: str | None
    created_at: float
    next_at: float
    finished_at: float | None
    conversation_id: str | None


class OutboxList(Out):
    items: list[OutboxRow]


# -- leads: the Waiting list and answering by email ---------------------------------------


class WaitingItem(Out):
    conversation_id: str
    visitor_id: str
    visitor_name: str = Field(description="The visitor's best identity: name, email or id.")
    email: str | None = Field(description="The email the visitor left, if any.")
    question: str | None = Field(description="The visitor's first message.")
    created_at: float = Field(description="When the conversation started (epoch seconds).")
    online: bool
    routed_to: list[str]


class WaitingList(Out):
    items: list[WaitingItem]
    smtp_configured: bool = Field(description="False: POUNCE_SMTP_URL is unset; no email.")


class EmailStatus(Out):
    smtp_configured: bool


class EmailReplyQueued(Out):
    to: str
    seq: int
    created: bool = Field(description="False: this client id was sent before; nothing new.")
