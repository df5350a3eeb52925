"""How often one person may make the whole alliance read something: acts that post to every
room (an alliance-wide vote, a proposed working group, an announcement to all) are counted per
person over the last 24 hours, in the transaction of the act (a refused act is not counted)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Broadcast

WINDOW = timedelta(days=1)


async def take_broadcast(
    session: AsyncSession, person_id: int, what: str, per_day: int, now: datetime
) -> datetime | None:
    """Count one broadcast by the person; or, when they are at the limit, count nothing and
    return when the next one is possible (when the oldest of the last `per_day` leaves the window)."""
    if per_day:
        recent = select(Broadcast.at).where(Broadcast.person_id == person_id, Broadcast.at > now - WINDOW)
        oldest_counting = await session.scalar(recent.order_by(Broadcast.at.desc()).offset(per_day - 1).limit(1))
        if oldest_counting is not None:
            return oldest_counting + WINDOW
    session.add(Broadcast(person_id=person_id, what=what, at=now))
    return None
