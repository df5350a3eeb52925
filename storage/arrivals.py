"""What the router must know before any command runs, read in one synchronous unit.

Every message that may be a command claims its event (so a redelivery does nothing twice), and
needs the room's binding and the sender's identity. These three statements run back to back in
one `run_sync`, as SQLAlchemy Core with plain rows: the ORM's object loading and one await per
statement cost more than SQLite's own work here, and this is the path every ballot takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.db import rowcount
from storage.events import CLAIM
from storage.people import identify_on
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
        claimed = connection.execute(CLAIM, {"platform": platform, "event_id": event_id, "seen_at": now})
        if rowcount(claimed) != 1:
            return None
        return Arrival(
            room_on(connection, platform, room_id), identify_on(connection, platform, sender_id, sender_name)
        )

    return await session.run_sync(read)
