"""Scheduled announcements go out at their time (also after a restart that missed it)."""

from __future__ import annotations

from collections.abc import Collection

from bot.scheduler import Job
from storage import announcements
from storage.db import Database
from storage.models import utcnow


class AnnouncementReleases:
    name = "announcements"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def plan(self, keys: Collection[int] | None = None) -> list[Job]:
        async with self.db.transaction() as session:
            scheduled = await announcements.scheduled(session, keys)
        return [
            Job(f"announcement:{announcement_id}", due_at, self.release, (announcement_id,), announcement_id)
            for announcement_id, due_at in scheduled
        ]

    async def release(self, announcement_id: int) -> bool:
        async with self.db.transaction() as session:
            return await announcements.release(session, announcement_id, utcnow()) is not None
