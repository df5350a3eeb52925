"""Remembering which chat events were handled, so a redelivered one does nothing twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedEvent


async def claim(session: AsyncSession, platform: str, event_id: str) -> bool:
    """Mark an event as handled in the caller's transaction; False if it already was.

    The mark commits with the event's effect, so a crash before the commit lets the event be
    handled again, and a redelivery after it finds the mark. The primary key decides races.
    """
    try:
        async with session.begin_nested():
            session.add(ProcessedEvent(platform=platform, event_id=event_id))
    except IntegrityError:
        return False
    return True


async def forget_before(session: AsyncSession, cutoff: datetime) -> int:
    """Drop marks older than any platform redelivers (Telegram keeps updates for 24 hours)."""
    result = await session.execute(delete(ProcessedEvent).where(ProcessedEvent.seen_at < cutoff))
    return result.rowcount or 0
