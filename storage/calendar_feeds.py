"""The secret of each working group's calendar subscription link: given, renewed, checked."""

from __future__ import annotations

import hmac
import secrets

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.models import CalendarFeed, WorkingGroup


async def token_for(session: AsyncSession, group: WorkingGroup, actor: str) -> str:
    """The group's feed secret, made on first asking (audited)."""
    kept = await session.get(CalendarFeed, group.id)
    if kept is not None:
        return kept.token
    return await _new(session, group, actor, "calendar_feed.created")


async def renew(session: AsyncSession, group: WorkingGroup, actor: str) -> str:
    """A new secret for the group's feed: every link given before stops working (audited)."""
    await session.execute(delete(CalendarFeed).where(CalendarFeed.group_id == group.id))
    return await _new(session, group, actor, "calendar_feed.renewed")


async def _new(session: AsyncSession, group: WorkingGroup, actor: str, action: str) -> str:
    token = secrets.token_urlsafe(24)
    session.add(CalendarFeed(group_id=group.id, token=token, created_by=actor))
    await session.flush()
    await audit.record(session, actor=actor, action=action, subject=f"group:{group.id}")
    return token


async def opens(session: AsyncSession, group: WorkingGroup, token: str) -> bool:
    """Whether `token` is the group's current feed secret (compared in constant time)."""
    kept = await session.scalar(select(CalendarFeed.token).where(CalendarFeed.group_id == group.id))
    return kept is not None and hmac.compare_digest(kept.encode(), token.encode())
