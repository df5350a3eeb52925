"""The audit log's checkpoints, posted to the secretariat at least daily (and by every vote
close, in storage/votes.py): what `wgbot audit verify --checkpoint` proves the log against."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from bot.areas import Area, Services
from bot.changes import Changes
from bot.i18n import saying
from bot.scheduler import Job
from storage import checkpoints
from storage.db import Database
from storage.models import utcnow
from storage.rules.text import Say, Words, in_english

log = logging.getLogger(__name__)
CHECKPOINTS = Changes("audit checkpoints")
EVERY = timedelta(days=1)


class DailyCheckpoints:
    changes = CHECKPOINTS

    def __init__(self, db: Database, say: Say = in_english) -> None:
        self.db = db
        self.say = say  # the alliance's language, which the secretariat's rooms speak
        self._tried: datetime | None = None  # even with no secretariat room to post to: once a day

    async def plan(self, keys: Collection[int] | None = None) -> list[Job]:
        async with self.db.transaction() as session:
            last = await checkpoints.last_published(session)
            began = await checkpoints.began(session)
        # A day after the last one, or after the log began; a new, empty log waits a day.
        since = last[1] if last else (began or utcnow())
        due = since + EVERY
        if self._tried is not None:
            due = max(due, self._tried + EVERY)
        return [Job("audit:checkpoint", due, self.publish)]

    async def publish(self) -> bool:
        self._tried = utcnow()
        async with self.db.transaction() as session:
            last = await checkpoints.last_published(session)
            if last is not None and self._tried - last[1] < EVERY - timedelta(minutes=5):
                return False  # another process, or a vote's close, posted one lately
            posted = await checkpoints.publish(session, Words("daily"), self.say)
        if posted is not None:
            log.info("audit checkpoint %s posted", posted)
        return posted is not None


def daily_checkpoints(services: Services) -> DailyCheckpoints:
    return DailyCheckpoints(services.db, saying(services.settings.alliance.language))


AREA = Area("audit", planners=[daily_checkpoints])
