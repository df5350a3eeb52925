"""Closing votes at their deadline, with APScheduler holding only what is due.

Storage is the source of truth: at start, and after each command, the jobs are rebuilt from
the open votes. A deadline that passed while the bot was down runs at once. Closing is
idempotent in storage (the vote row is locked and must still be open), so a job that fires
twice, or races an early /vote close, closes once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timezone

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from handlers.votes import announce_result
from storage import votes
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)
JOB_PREFIX = "vote-close:"


class Deadlines:
    def __init__(self, db: Database, after_close: Callable[[], None]) -> None:
        self.db = db
        self.after_close = after_close  # e.g. wake the postman to post the result
        self.scheduler = AsyncIOScheduler(timezone=timezone.utc)

    async def start(self) -> None:
        self.scheduler.start()
        await self.sync()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def sync(self) -> None:
        """Make the jobs match the open votes' deadlines."""
        async with self.db.transaction() as session:
            deadlines = dict(await votes.open_deadlines(session))
        for vote_id, closes_at in deadlines.items():
            self.scheduler.add_job(
                self.close,
                "date",
                run_date=closes_at,
                args=[vote_id],
                id=f"{JOB_PREFIX}{vote_id}",
                replace_existing=True,
                misfire_grace_time=None,  # late is better than never
            )
        for job in self.scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and int(job.id.removeprefix(JOB_PREFIX)) not in deadlines:
                try:
                    job.remove()
                except JobLookupError:
                    pass

    async def close(self, vote_id: int) -> None:
        try:
            async with self.db.transaction() as session:
                closed = await votes.close_vote(session, str(vote_id), by="deadline", now=utcnow())
                if closed is not None:
                    await announce_result(session, *closed)
        except Exception:
            log.exception("could not close vote %s at its deadline", vote_id)
            return
        if closed is not None:
            log.info("vote %s closed at its deadline", vote_id)
            self.after_close()
