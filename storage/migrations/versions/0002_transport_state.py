"""Transport state: what a chat transport remembers across restarts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 01:35:48.190251
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transport_state",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "key", name=op.f("pk_transport_state")),
    )


def downgrade() -> None:
    op.drop_table("transport_state")
