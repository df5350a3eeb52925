"""Reminders before a deliverable's due date, to its group's rooms, once per offset and date."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta

from bot.config import DeliverableSettings
from bot.scheduler import Job
from handlers.deliverables import post_due_reminder
from storage import deliverables
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)


class DueDateReminders:
    name = "deliverables"

    def __init__(self, db: Database, settings: DeliverableSettings, zone: str) -> None:
        self.db = db
        self.offsets = settings.reminder_days
        self.zone = zone  # the group's rooms read the due date in the alliance's zone

    async def plan(self, keys: Collection[int] | None = None) -> list[Job]:
        async with self.db.transaction() as session:
            deadlines = await deliverables.open_deadlines(session, keys)
        now, jobs = utcnow(), []
        for deliverable_id, due_at, done in deadlines:
            for days in self.offsets:
                if days not in done and due_at > now:  # a reminder after the date itself is no use
                    at = due_at - timedelta(days=days)
                    jobs.append(
                        Job(
                            f"deliverable:due:{deliverable_id}:{days}",
                            at,
                            self.remind,
                            (deliverable_id, days),
                            deliverable_id,
                        )
                    )
        return jobs

    async def remind(self, deliverable_id: int, days: float) -> bool:
        async with self.db.transaction() as session:
            deliverable = await deliverables.claim_reminder(session, deliverable_id, days, utcnow())
            if deliverable is None:
                return False
            await post_due_reminder(session, deliverable, self.zone)
        log.info("deliverable %s: reminder %s days before its due date", deliverable_id, days)
        return True
