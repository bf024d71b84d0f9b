"""visitor identity with provenance, contacts by the site's user id, per-site secrets

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 16:00:00

`visitor_identity` holds each field (name, email, company) a visitor is known by, once
per provenance (verified, visitor, enriched, crm); `visitor_contacts` links a visitor
verified as one of the site's users to that user id; `sites.identity_secret` signs the
site's `identify` tokens (existing sites get one here).
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("identity_secret", sa.String(length=64), nullable=True))
    sites = sa.table("sites", sa.column("id", sa.String), sa.column("identity_secret", sa.String))
    conn = op.get_bind()
    for (site_id,) in conn.execute(sa.select(sites.c.id)).all():
        conn.execute(
            sites.update()
            .where(sites.c.id == site_id)
            .values(identity_secret=secrets.token_urlsafe(32))
        )
    op.create_table(
        "visitor_identity",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("visitor_id", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("provenance", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name="fk_visitor_identity_org_id_orgs"),
        sa.ForeignKeyConstraint(
            ["visitor_id"],
            ["visitors.id"],
            name="fk_visitor_identity_visitor_id_visitors",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("visitor_id", "field", "provenance", name="pk_visitor_identity"),
    )
    op.create_index("ix_visitor_identity_org_visitor", "visitor_identity", ["org_id", "visitor_id"])
    op.create_table(
        "visitor_contacts",
        sa.Column("visitor_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name="fk_visitor_contacts_org_id_orgs"),
        sa.ForeignKeyConstraint(
            ["visitor_id"],
            ["visitors.id"],
            name="fk_visitor_contacts_visitor_id_visitors",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("visitor_id", name="pk_visitor_contacts"),
    )
    op.create_index("ix_visitor_contacts_org_user", "visitor_contacts", ["org_id", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_visitor_contacts_org_user", table_name="visitor_contacts")
    op.drop_table("visitor_contacts")
    op.drop_index("ix_visitor_identity_org_visitor", table_name="visitor_identity")
    op.drop_table("visitor_identity")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("identity_secret")
