"""Remembering which chat events were handled, so a redelivered one does nothing twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import rowcount
from storage.models import ProcessedEvent, UTCDateTime, utcnow

# Written as SQL that SQLite and PostgreSQL both speak: SQLAlchemy's dialect inserts with
# ON CONFLICT are compiled anew on every call (they have no cache key), and every command
# claims its event.
CLAIM = text(
    "INSERT INTO processed_events (platform, event_id, seen_at) VALUES (:platform, :event_id, :seen_at) "
    "ON CONFLICT DO NOTHING"
).bindparams(bindparam("seen_at", type_=UTCDateTime()))


async def claim(session: AsyncSession, platform: str, event_id: str) -> bool:
    """Mark an event as handled in the caller's transaction; False if it already was.

    The mark commits with the event's effect, so a crash before the commit lets the event be
    handled again, and a redelivery after it finds the mark. The primary key decides races:
    a concurrent claim of the same event waits for the first and then finds it taken.
    """
    connection = await session.connection()
    result = await connection.execute(CLAIM, {"platform": platform, "event_id": event_id, "seen_at": utcnow()})
    return rowcount(result) == 1


async def forget_before(session: AsyncSession, cutoff: datetime) -> int:
    """Drop marks older than any platform redelivers (Telegram keeps updates for 24 hours)."""
    result = await session.execute(delete(ProcessedEvent).where(ProcessedEvent.seen_at < cutoff))
    return rowcount(result)
