"""Mandates: a member organisation lets another cast its ballot, for one vote or until a date;
a ballot (and each cast) says by which mandate, if another organisation cast it

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENDS = ("revoked", "expired", "closed", "suspended", "left")


def upgrade() -> None:
    op.create_table(
        "mandates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("giver_id", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("vote_id", sa.Integer(), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("given_by", sa.Integer(), nullable=True),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_how", sa.Enum(*ENDS, name="mandateend", native_enum=False, length=32), nullable=True),
        sa.Column("ended_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["ended_by"], ["people.id"], name=op.f("fk_mandates_ended_by_people")),
        sa.ForeignKeyConstraint(["given_by"], ["people.id"], name=op.f("fk_mandates_given_by_people")),
        sa.ForeignKeyConstraint(["giver_id"], ["organisations.id"], name=op.f("fk_mandates_giver_id_organisations")),
        sa.ForeignKeyConstraint(["holder_id"], ["organisations.id"], name=op.f("fk_mandates_holder_id_organisations")),
        sa.ForeignKeyConstraint(["vote_id"], ["votes.id"], name=op.f("fk_mandates_vote_id_votes"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandates")),
    )
    with op.batch_alter_table("mandates", schema=None) as batch_op:
        for column in ("giver_id", "holder_id", "vote_id"):
            batch_op.create_index(batch_op.f(f"ix_mandates_{column}"), [column], unique=False)
    for table in ("ballot_casts", "ballots"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("mandate_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_mandate_id_mandates"), "mandates", ["mandate_id"], ["id"]
            )


def downgrade() -> None:
    for table in ("ballots", "ballot_casts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_mandate_id_mandates"), type_="foreignkey")
            batch_op.drop_column("mandate_id")
    op.drop_table("mandates")
