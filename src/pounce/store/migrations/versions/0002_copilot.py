"""copilot: shortcuts, knowledge pages, knowledge revisions, conversation tones

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 16:00:00

Written by hand to match `pounce.store.copilot`. The tone lives in its own table rather
than a column of `conversations`, so the conversations table (and its metadata) is
untouched.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=40)


def upgrade() -> None:
    op.create_table(
        "shortcuts",
        sa.Column("id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("owner_key", ID, nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("name_key", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_shortcuts_org_id_orgs")),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_shortcuts_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shortcuts")),
        sa.UniqueConstraint("org_id", "scope", "owner_key", "name_key", name="uq_shortcuts_name"),
    )
    op.create_table(
        "knowledge_pages",
        sa.Column("id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_knowledge_pages_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_knowledge_pages_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_pages")),
    )
    with op.batch_alter_table("knowledge_pages", schema=None) as batch_op:
        batch_op.create_index("ix_knowledge_pages_org", ["org_id", "created_at"], unique=False)

    op.create_table(
        "knowledge_revs",
        sa.Column("org_id", ID, nullable=False),
        sa.Column("rev", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_knowledge_revs_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_knowledge_revs")),
    )
    op.create_table(
        "conversation_tones",
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("tone", sa.String(length=16), nullable=False),
        sa.Column("updated_by", ID, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_tones_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_conversation_tones_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_conversation_tones_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_tones")),
    )


def downgrade() -> None:
    op.drop_table("conversation_tones")
    op.drop_table("knowledge_revs")
    with op.batch_alter_table("knowledge_pages", schema=None) as batch_op:
        batch_op.drop_index("ix_knowledge_pages_org")

    op.drop_table("knowledge_pages")
    op.drop_table("shortcuts")
