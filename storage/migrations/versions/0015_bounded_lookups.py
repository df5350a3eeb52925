"""Indexes that keep every command's lookups bounded as the alliance's history grows

- meetings.next_start: a lower bound of the start of each series' next occurrence, so the next
  meetings are found from an index instead of expanding every series' rule;
- audit_log.subject: an act's history is found without reading the whole log.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_start", sa.DateTime(timezone=True), nullable=True))
    # The first start is a lower bound of every regular occurrence; a series' moved occurrence
    # may come earlier, so the earliest move counts too. Listing tightens the bound later (to
    # none for a series that is over).
    op.execute(
        "UPDATE meetings SET next_start = COALESCE(("
        "SELECT MIN(c.moved_to) FROM occurrence_changes c WHERE c.meeting_id = meetings.id AND c.moved_to IS NOT NULL"
        " AND c.moved_to < meetings.first_start), first_start)"
    )
    # A series over for more than the longest meeting (a day) has none to come.
    meetings = sa.table(
        "meetings",
        sa.column("next_start", sa.DateTime(timezone=True)),
        sa.column("last_start", sa.DateTime(timezone=True)),
    )
    op.execute(
        meetings.update().where(meetings.c.last_start < datetime.now(UTC) - timedelta(days=2)).values(next_start=None)
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index("ix_meetings_status_next", ["status", "next_start"], unique=False)
        batch_op.create_index("ix_meetings_group_status_next", ["group_id", "status", "next_start"], unique=False)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_subject", ["subject", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_subject")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index("ix_meetings_group_status_next")
        batch_op.drop_index("ix_meetings_status_next")
        batch_op.drop_column("next_start")
