"""What the router must know before any command runs, read in one synchronous unit.

Every message that may be a command claims its event (so a redelivery does nothing twice), and
needs the room's binding and the sender's identity. These three statements run back to back in
one `run_sync`, as SQLAlchemy Core with plain rows: the ORM's object loading and one await per
statement cost more than SQLite's own work here, and this is the path every ballot takes. On
PostgreSQL, where each statement is a round trip, they are one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Integer, String, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.db import rowcount
from storage.events import CLAIM
from storage.models import Organisation, RoleAssignment, RoomBinding, UTCDateTime
from storage.people import actor_of, identify_on
from storage.rooms import Room, room_on
from storage.rules.access import Actor


@dataclass(frozen=True)
class Arrival:
    room: Room | None  # None: a room the bot does not serve
    sender: Actor


async def arrive(
    session: AsyncSession, platform: str, event_id: str, room_id: str, sender_id: str, sender_name: str, now: datetime
) -> Arrival | None:
    """Claim the event and read who sent it and what the room is bound to; None when the event
    was handled before (and nothing else is read)."""

    def read(sync_session: Session) -> Arrival | None:
        connection = sync_session.connection()
        if connection.dialect.name == "postgresql":
            return _arrive_in_one(connection, platform, event_id, room_id, sender_id, sender_name, now)
        claimed = connection.execute(CLAIM, {"platform": platform, "event_id": event_id, "seen_at": now})
        if rowcount(claimed) != 1:
            return None
        return Arrival(
            room_on(connection, platform, room_id), identify_on(connection, platform, sender_id, sender_name)
        )

    return await session.run_sync(read)


# The claim, the room and the sender in one round trip: a data-modifying CTE claims the event,
# and one row source (joined left to everything) carries the room on every row and the
# sender's roles one per row, so an unknown sender or an unbound room still give a row.
_ARRIVE_PG = text(
    """
    WITH claimed AS (
        INSERT INTO processed_events (platform, event_id, seen_at) VALUES (:platform, :event_id, :seen_at)
        ON CONFLICT DO NOTHING RETURNING 1
    )
    SELECT (SELECT count(*) FROM claimed) AS fresh,
           rb.purpose AS room_purpose, rb.group_id AS room_group_id, g.name AS room_group_name,
           g.language AS room_language,
           p.id AS person_id, p.name AS person_name, p.timezone AS person_timezone, p.language AS person_language,
           o.id AS organisation_id, o.name AS organisation_name, o.status AS organisation_status,
           ra.role AS role, ra.group_id AS role_group_id
    FROM (SELECT 1) AS one
    LEFT JOIN room_bindings rb ON rb.platform = :platform AND rb.room_id = :room_id
    LEFT JOIN working_groups g ON g.id = rb.group_id
    LEFT JOIN chat_accounts a ON a.platform = :platform AND a.platform_user_id = :user_id
    LEFT JOIN people p ON p.id = a.person_id
    LEFT JOIN organisations o ON o.id = p.organisation_id
    LEFT JOIN role_assignments ra ON ra.person_id = p.id
    """
).bindparams(bindparam("seen_at", type_=UTCDateTime()))
_ARRIVE_PG_COLUMNS = _ARRIVE_PG.columns(
    fresh=Integer(),
    room_purpose=RoomBinding.__table__.c.purpose.type,
    room_group_id=Integer(),
    room_group_name=String(),
    room_language=String(),
    person_id=Integer(),
    person_name=String(),
    person_timezone=String(),
    person_language=String(),
    organisation_id=Integer(),
    organisation_name=String(),
    organisation_status=Organisation.__table__.c.status.type,
    role=RoleAssignment.__table__.c.role.type,
    role_group_id=Integer(),
)


def _arrive_in_one(
    connection: Connection, platform: str, event_id: str, room_id: str, sender_id: str, sender_name: str, now: datetime
) -> Arrival | None:
    rows = connection.execute(
        _ARRIVE_PG_COLUMNS,
        {"platform": platform, "event_id": event_id, "seen_at": now, "room_id": room_id, "user_id": sender_id},
    ).all()
    first = rows[0]
    if not first.fresh:
        return None
    room = (
        Room(platform, room_id, first.room_purpose, first.room_group_id, first.room_group_name, first.room_language)
        if first.room_purpose is not None
        else None
    )
    return Arrival(room, actor_of(platform, sender_id, sender_name, [row[5:] for row in rows]))
