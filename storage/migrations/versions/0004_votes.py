"""Votes: the electorate frozen at opening, one ballot per organisation, every cast kept

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 02:18:35.194045
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("quorum", sa.Float(), nullable=False),
        sa.Column("majority", sa.String(length=16), nullable=False),
        sa.Column("abstentions_count", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "closed", "cancelled", name="votestatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("opened_by", sa.String(length=255), nullable=False),
        sa.Column("opener_person_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["working_groups.id"], name=op.f("fk_votes_group_id_working_groups")),
        sa.ForeignKeyConstraint(["opener_person_id"], ["people.id"], name=op.f("fk_votes_opener_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_votes")),
    )
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_votes_closes_at"), ["closes_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_votes_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_votes_status"), ["status"], unique=False)

    op.create_table(
        "ballot_casts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("option", sa.String(length=200), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_ballot_casts_organisation_id_organisations")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_ballot_casts_person_id_people")),
        sa.ForeignKeyConstraint(
            ["vote_id"], ["votes.id"], name=op.f("fk_ballot_casts_vote_id_votes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballot_casts")),
    )
    with op.batch_alter_table("ballot_casts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ballot_casts_vote_id"), ["vote_id"], unique=False)

    op.create_table(
        "ballots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("option", sa.String(length=200), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_ballots_organisation_id_organisations")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_ballots_person_id_people")),
        sa.ForeignKeyConstraint(["vote_id"], ["votes.id"], name=op.f("fk_ballots_vote_id_votes"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballots")),
        sa.UniqueConstraint("vote_id", "organisation_id", name=op.f("uq_ballots_vote_id_organisation_id")),
    )
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ballots_vote_id"), ["vote_id"], unique=False)

    op.create_table(
        "electorate",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("organisation_name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_electorate_organisation_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["vote_id"], ["votes.id"], name=op.f("fk_electorate_vote_id_votes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("vote_id", "organisation_id", name=op.f("pk_electorate")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("buttons", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("buttons")

    op.drop_table("electorate")
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ballots_vote_id"))

    op.drop_table("ballots")
    with op.batch_alter_table("ballot_casts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ballot_casts_vote_id"))

    op.drop_table("ballot_casts")
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_votes_status"))
        batch_op.drop_index(batch_op.f("ix_votes_group_id"))
        batch_op.drop_index(batch_op.f("ix_votes_closes_at"))

    op.drop_table("votes")
