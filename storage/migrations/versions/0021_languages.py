"""The language a person reads (/lang), a working group's rooms speak (/wg language), and a
notice is written in (so that a live message is edited in its own language), and an applicant
reads (to be told the Commission's decision in it)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("working_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("membership_applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("membership_applications", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("working_groups", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("language")
