"""conversation streams: events beside messages, and who may see each item

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 12:00:00

A row of `messages` is now an item of a conversation's stream: a chat message
(`kind` = 'message') or an event ('closed', 'owner_changed', …, its data in `meta`),
with the audience that may see it ('all', 'reps', 'visitor').
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=24), nullable=False, server_default="message")
        )
        batch.add_column(
            sa.Column("audience", sa.String(length=8), nullable=False, server_default="all")
        )


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("audience")
        batch.drop_column("kind")
