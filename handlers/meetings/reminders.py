"""Meeting reminders: one job per meeting, at its next reminder's time.

A reminder is marked done in the same transaction that queues it, under a primary key, so it
is sent once whatever restarts or double firings happen. One that fell due while the bot was
down is sent late (and says so) if its meeting has not begun, and skipped otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from sqlalchemy.exc import IntegrityError

from bot.config import MeetingSettings
from bot.scheduler import Job
from handlers.meetings import post_reminder
from storage import meetings
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)


class MeetingReminders:
    name = "meetings"

    def __init__(self, db: Database, settings: MeetingSettings) -> None:
        self.db = db
        self.offsets = settings.reminder_minutes

    async def plan(self, keys: Collection[int] | None = None) -> list[Job]:
        now = utcnow()
        async with self.db.transaction() as session:
            state = await meetings.reminder_state(session, keys, now)
        # Thousands of meetings take a moment to work out; the event loop keeps serving meanwhile.
        due = await asyncio.to_thread(meetings.next_reminders, state, self.offsets, now)
        return [
            Job(f"meeting:remind:{meeting_id}", at, self.remind, (meeting_id,), meeting_id) for meeting_id, at in due
        ]

    async def remind(self, meeting_id: int) -> bool:
        try:
            async with self.db.transaction() as session:
                due = await meetings.claim_due_reminder(session, meeting_id, self.offsets, utcnow())
                if due is None:
                    return False
                meeting, reminder, late = due
                await post_reminder(session, meeting, reminder.occurrence, late, utcnow())
        except IntegrityError:
            log.info("meeting %s: its reminder was sent by another run already", meeting_id)
            return False
        log.info(
            "meeting %s.%s: reminder %s min before%s",
            meeting_id,
            reminder.occurrence.number,
            reminder.minutes_before,
            " (late)" if late else "",
        )
        return True
