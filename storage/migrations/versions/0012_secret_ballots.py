"""Secret votes seal their audited casts and keep no person or platform with a ballot

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seal_key", sa.String(length=64), nullable=True))
    for table in ("ballots", "ballot_casts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("person_id", existing_type=sa.Integer(), nullable=True)
            batch_op.alter_column("platform", existing_type=sa.String(length=16), nullable=True)


def downgrade() -> None:
    for table in ("ballots", "ballot_casts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("platform", existing_type=sa.String(length=16), nullable=False)
            batch_op.alter_column("person_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_column("seal_key")
