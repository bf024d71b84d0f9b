"""auto pounce: settings, rules, greeting templates, the reps' switch, pounces

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:00:00

Hand-written (0002 was being written at the same time); the tables are defined in
`pounce.store.proactive`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "proactive_settings",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("auto_pounce_enabled", sa.Boolean(), nullable=False),
        sa.Column("nudge_delay_seconds", sa.Float(), nullable=False),
        sa.Column("quiet_period_hours", sa.Float(), nullable=False),
        sa.Column("max_open_chats_per_rep", sa.Integer(), nullable=False),
        sa.Column("rep_timeout_seconds", sa.Float(), nullable=False),
        sa.Column("nudge_template", sa.Text(), nullable=False),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_proactive_settings_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_proactive_settings")),
    )
    op.create_table(
        "proactive_rules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url_pattern", sa.String(length=500), nullable=False),
        sa.Column("min_seconds_on_page", sa.Float(), nullable=False),
        sa.Column("min_pages_viewed", sa.Integer(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_proactive_rules_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proactive_rules")),
    )
    with op.batch_alter_table("proactive_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proactive_rules_org_id"), ["org_id"], unique=False)

    op.create_table(
        "proactive_templates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url_pattern", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_proactive_templates_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proactive_templates")),
    )
    with op.batch_alter_table("proactive_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proactive_templates_org_id"), ["org_id"], unique=False)

    op.create_table(
        "proactive_reps",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_proactive_reps_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_proactive_reps_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_proactive_reps")),
    )
    with op.batch_alter_table("proactive_reps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proactive_reps_org_id"), ["org_id"], unique=False)

    op.create_table(
        "proactive_pounces",
        sa.Column("conversation_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("visitor_id", sa.String(length=40), nullable=False),
        sa.Column("rep_id", sa.String(length=40), nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        _ts("greeted_at"),
        _ts("nudged_at", nullable=True),
        _ts("visitor_replied_at", nullable=True),
        _ts("deadline", nullable=True),
        _ts("rep_replied_at", nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        _ts("outcome_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_proactive_pounces_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_proactive_pounces_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_proactive_pounces")),
    )
    with op.batch_alter_table("proactive_pounces", schema=None) as batch_op:
        batch_op.create_index(
            "ix_proactive_pounces_org_greeted", ["org_id", "greeted_at"], unique=False
        )
        batch_op.create_index(
            "ix_proactive_pounces_org_rep_stage", ["org_id", "rep_id", "stage"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("proactive_pounces", schema=None) as batch_op:
        batch_op.drop_index("ix_proactive_pounces_org_rep_stage")
        batch_op.drop_index("ix_proactive_pounces_org_greeted")
    op.drop_table("proactive_pounces")
    with op.batch_alter_table("proactive_reps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proactive_reps_org_id"))
    op.drop_table("proactive_reps")
    with op.batch_alter_table("proactive_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proactive_templates_org_id"))
    op.drop_table("proactive_templates")
    with op.batch_alter_table("proactive_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proactive_rules_org_id"))
    op.drop_table("proactive_rules")
    op.drop_table("proactive_settings")
