"""Reminders sent to organisations that have not voted

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 02:25:13.482664
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vote_nudges",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("hours_before", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["vote_id"], ["votes.id"], name=op.f("fk_vote_nudges_vote_id_votes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("vote_id", "hours_before", name=op.f("pk_vote_nudges")),
    )


def downgrade() -> None:
    op.drop_table("vote_nudges")
