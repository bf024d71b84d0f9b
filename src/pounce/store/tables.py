"""The schema: every table carries `org_id`, and every query filters by it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(40)


def ts(name: str, nullable: bool = False) -> Column[object]:
    """A timestamp column (UTC, with time zone); every store module's tables use it."""
    return Column(name, DateTime(timezone=True), nullable=nullable)


orgs = Table(
    "orgs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("settings", JSON, nullable=False, default=dict),
    ts("created_at"),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False, index=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("availability", String(16), nullable=False, default="away"),
    Column("avatar_url", String(2000), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    ts("created_at"),
)

teams = Table(
    "teams",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    UniqueConstraint("org_id", "name", name="uq_teams_org_name"),
)

team_members = Table(
    "team_members",
    metadata,
    Column("team_id", ID, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False, index=True),
)

sites = Table(
    "sites",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("site_key", String(64), nullable=False, unique=True),
    Column("allowed_origins", JSON, nullable=False, default=list),
    ts("created_at"),
    # Signs the site's `identify` tokens (HS256) and user hashes; admins see and rotate it.
    Column("identity_secret", String(64), nullable=True),
)

visitors = Table(
    "visitors",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False, index=True),
    Column("site_id", ID, ForeignKey("sites.id"), nullable=False),
    Column("name", String(200), nullable=True),
    Column("email", String(320), nullable=True),
    Column("company", String(200), nullable=True),
    Column("country", String(2), nullable=True),
    Column("attributes", JSON, nullable=False, default=dict),
    Column("blocked", Boolean, nullable=False, default=False),
    ts("first_seen_at"),
    ts("last_seen_at"),
    # The client address of the visitor's last connect: a report's IP block starts there.
    Column("client_ip", String(64), nullable=True),
)
page_views = Table(
    "page_views",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("visitor_id", ID, ForeignKey("visitors.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("title", String(500), nullable=False, default=""),
    Column("referrer", String(2000), nullable=True),
    ts("viewed_at"),
    Index("ix_page_views_org_visitor", "org_id", "visitor_id", "viewed_at"),
)

# What we know of who a visitor is, one row per field and provenance: "verified" (a
# signed `identify`), "visitor" (typed by the visitor, or claimed unsigned), "enriched"
# (`source`, `confidence`), "crm". An unverified claim never replaces a verified one.
visitor_identity = Table(
    "visitor_identity",
    metadata,
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("visitor_id", ID, ForeignKey("visitors.id", ondelete="CASCADE"), primary_key=True),
    Column("field", String(16), primary_key=True),
    Column("provenance", String(16), primary_key=True),
    Column("value", String(320), nullable=False),
    Column("source", String(100), nullable=True),
    Column("confidence", Float, nullable=True),
    ts("updated_at"),
    Index("ix_visitor_identity_org_visitor", "org_id", "visitor_id"),
)

# A visitor verified as one of the site's users (`sub` / `user_id`): every device of
# that user is the same contact.
visitor_contacts = Table(
    "visitor_contacts",
    metadata,
    Column("visitor_id", ID, ForeignKey("visitors.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("user_id", String(200), nullable=False),
    ts("verified_at"),
    Index("ix_visitor_contacts_org_user", "org_id", "user_id"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("site_id", ID, ForeignKey("sites.id"), nullable=False),
    Column("visitor_id", ID, ForeignKey("visitors.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("owner_id", ID, ForeignKey("users.id"), nullable=True),
    Column("source", String(16), nullable=False),
    Column("outcome", String(32), nullable=True),
    Column("routed_to", JSON, nullable=False, default=list),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("visitor_read_seq", Integer, nullable=False, default=0),
    Column("rep_read_seq", Integer, nullable=False, default=0),
    ts("created_at"),
    ts("updated_at"),
    ts("closed_at", nullable=True),
    Index("ix_conversations_org_visitor", "org_id", "visitor_id", "created_at"),
    Index("ix_conversations_org_owner_status", "org_id", "owner_id", "status"),
    Index("ix_conversations_org_status", "org_id", "status", "created_at"),
)

messages = Table(
    "messages",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("conversation_id", ID, ForeignKey("conversations.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("author_kind", String(16), nullable=False),
    Column("author_id", ID, nullable=True),
    Column("client_id", String(64), nullable=True),
    Column("body", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("meta", JSON, nullable=False, default=dict),
    ts("created_at"),
    # An item of the conversation's stream: a chat message or an event (its data in
    # `meta`), and who may see it (pounce.domain.model.Audience).
    Column("kind", String(24), nullable=False, server_default="message"),
    Column("audience", String(8), nullable=False, server_default="all"),
    UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    UniqueConstraint(
        "org_id", "author_kind", "author_id", "client_id", name="uq_messages_author_client"
    ),
)

routing_rules = Table(
    "routing_rules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("url_pattern", String(500), nullable=False, default=""),
    Column("attributes", JSON, nullable=False, default=dict),
    Column("company", String(200), nullable=True),
    Column("country", String(2), nullable=True),
    Column("team_id", ID, ForeignKey("teams.id"), nullable=True),
    Column("rep_ids", JSON, nullable=False, default=list),
    Column("mode", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
)

route_turns = Table(
    "route_turns",
    metadata,
    Column("org_id", ID, ForeignKey("orgs.id"), primary_key=True),
    Column("queue", String(80), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("turn", BigInteger, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    ts("created_at"),
    ts("expires_at"),
)

jobs = Table(
    "jobs",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("dedupe_key", String(200), nullable=True, unique=True),
    Column("payload", JSON, nullable=False, default=dict),
    Column("run_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("locked_until", Float, nullable=True),
    Column("locked_by", String(64), nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_jobs_run_at", "run_at"),
)

# What must reach the outside world (an email, later webhooks…), written in the same
# transaction as the change it reports and delivered after the commit by the outbox
# worker (services/outbox.py). `next_at` is when a pending row may be claimed: a claim
# moves it to the lease's end, so a row whose worker died is claimed again then.
outbox = Table(
    "outbox",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("kind", String(64), nullable=False),
    # The delivery's idempotency key (an email's Message-ID is derived from it).
    Column("key", String(200), nullable=False, unique=True),
    Column("payload", JSON, nullable=False, default=dict),
    Column("status", String(8), nullable=False),  # pending | done | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", Float, nullable=False),
    Column("lease", String(32), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Index("ix_outbox_status_next_at", "status", "next_at"),
    Index("ix_outbox_org_status", "org_id", "status", "id"),
)
