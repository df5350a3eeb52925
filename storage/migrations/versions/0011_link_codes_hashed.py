"""Link codes are kept only as their SHA-256, and wrong codes are counted against limits

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 06:40:00
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    codes = sa.table("link_codes", sa.column("code", sa.String))
    connection = op.get_bind()
    waiting = [row.code for row in connection.execute(sa.select(codes.c.code))]
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.alter_column("code", new_column_name="code_sha256", type_=sa.String(length=64))
    hashed = sa.table("link_codes", sa.column("code_sha256", sa.String))
    for code in waiting:  # codes already handed out keep working
        digest = hashlib.sha256(code.encode()).hexdigest()
        connection.execute(hashed.update().where(hashed.c.code_sha256 == code).values(code_sha256=digest))

    op.create_table(
        "link_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_failures")),
    )
    with op.batch_alter_table("link_failures", schema=None) as batch_op:
        batch_op.create_index("ix_link_failures_account", ["platform", "user_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_link_failures_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_failures_at"))
        batch_op.drop_index("ix_link_failures_account")
    op.drop_table("link_failures")
    # A hash cannot be turned back into its code: the codes waiting are dropped.
    op.execute("DELETE FROM link_codes")
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.alter_column("code_sha256", new_column_name="code", type_=sa.String(length=16))
