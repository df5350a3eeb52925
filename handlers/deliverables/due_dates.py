"""Reminders before a deliverable's due date, to its group's rooms, once per offset and date."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.areas import Services
from bot.changes import Changes
from bot.config import DeliverableSettings
from bot.i18n import Language, worded_in
from bot.scheduler import Job
from storage import deliverables, notices
from storage.db import Database
from storage.models import Deliverable, utcnow

log = logging.getLogger(__name__)
DUE_DATES = Changes("deliverable due dates")  # a deliverable was created, or moved on


class DueDateReminders:
    changes = DUE_DATES

    def __init__(self, db: Database, settings: DeliverableSettings, zone: str, language: str = "en") -> None:
        self.db = db
        self.offsets = settings.reminder_days
        self.zone = zone  # the group's rooms read the due date in the alliance's zone
        self.language = language  # the alliance's: for the rooms of groups that chose none

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
            await post_due_reminder(session, deliverable, self.zone, self.language)
        log.info("deliverable %s: reminder %s days before its due date", deliverable_id, days)
        return True


async def post_due_reminder(session: AsyncSession, item: Deliverable, zone: str, default_language: str) -> None:
    """To the group's rooms: the due date (in the alliance's zone), and who has contributed."""
    if item.due_at is None:
        return  # its due date was taken away since the reminder was planned
    sent = await deliverables.contributors(session, item.id)
    due_at = item.due_at

    def text(lang: Language) -> str:
        who = "; ".join(f"{name} (v{', v'.join(map(str, numbers))})" for name, numbers in sent.items())
        return lang._(
            "Reminder: deliverable {id} ({title}) is due {due}. Contributions so far: {who}. "
            "Send yours with /draft {id}.",
            id=item.id,
            title=item.title,
            due=lang.moment(due_at, zone),
            who=who or lang._("none yet"),
        )

    await notices.to_group(session, item.group_id, worded_in(text, default_language))


def due_date_reminders(services: Services) -> DueDateReminders:
    settings = services.settings
    return DueDateReminders(services.db, settings.deliverables, settings.alliance.timezone, settings.alliance.language)
