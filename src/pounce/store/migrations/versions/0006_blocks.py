"""blocks and abuse: blocked visitors, the report queue, IP blocks, abuse limits

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 16:00:00

The tables are defined in `pounce.store.blocks`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=40)


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _org(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f(f"fk_{table}_org_id_orgs"))


def upgrade() -> None:
    with op.batch_alter_table("visitors") as batch:
        batch.add_column(sa.Column("client_ip", sa.String(length=64), nullable=True))
    op.create_table(
        "visitor_blocks",
        sa.Column("visitor_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("blocked_by", ID, nullable=True),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        _ts("blocked_at"),
        _ts("expires_at", nullable=True),
        _org("visitor_blocks"),
        sa.ForeignKeyConstraint(
            ["visitor_id"],
            ["visitors.id"],
            name=op.f("fk_visitor_blocks_visitor_id_visitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("visitor_id", name=op.f("pk_visitor_blocks")),
    )
    op.create_index(op.f("ix_visitor_blocks_org_id"), "visitor_blocks", ["org_id"])
    op.create_table(
        "abuse_reports",
        sa.Column("id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("visitor_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("reported_by", ID, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _org("abuse_reports"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_abuse_reports")),
    )
    op.create_index("ix_abuse_reports_org_created", "abuse_reports", ["org_id", "created_at"])
    op.create_table(
        "ip_blocks",
        sa.Column("id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("report_id", ID, nullable=True),
        _ts("created_at"),
        _ts("expires_at", nullable=True),
        _org("ip_blocks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ip_blocks")),
    )
    op.create_index(op.f("ix_ip_blocks_org_id"), "ip_blocks", ["org_id"])
    op.create_table(
        "abuse_settings",
        sa.Column("org_id", ID, nullable=False),
        sa.Column("messages_per_minute", sa.Integer(), nullable=False),
        sa.Column("conversations_per_hour", sa.Integer(), nullable=False),
        sa.Column("spam_block_enabled", sa.Boolean(), nullable=False),
        sa.Column("spam_block_threshold", sa.Integer(), nullable=False),
        sa.Column("spam_block_hours", sa.Integer(), nullable=False),
        _ts("updated_at"),
        _org("abuse_settings"),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_abuse_settings")),
    )


def downgrade() -> None:
    op.drop_table("abuse_settings")
    op.drop_index(op.f("ix_ip_blocks_org_id"), table_name="ip_blocks")
    op.drop_table("ip_blocks")
    op.drop_index("ix_abuse_reports_org_created", table_name="abuse_reports")
    op.drop_table("abuse_reports")
    op.drop_index(op.f("ix_visitor_blocks_org_id"), table_name="visitor_blocks")
    op.drop_table("visitor_blocks")
    with op.batch_alter_table("visitors") as batch:
        batch.drop_column("client_ip")
