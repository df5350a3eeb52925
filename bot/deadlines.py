"""Vote deadlines and reminders, with APScheduler holding only what is due.

Storage is the source of truth: at start, and after each command, the jobs are rebuilt from
the open votes. A deadline that passed while the bot was down runs at once. Every job's effect
is idempotent in storage (the vote row is locked and re-checked; a reminder is recorded with
its notices), so a job that fires twice, or races an early /vote close, acts once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import VoteSettings
from handlers.votes import announce_result
from storage import votes
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)
CLOSE, NUDGE = "vote-close:", "vote-nudge:"


class Deadlines:
    def __init__(self, db: Database, settings: VoteSettings, after_change: Callable[[], None]) -> None:
        self.db = db
        self.settings = settings
        self.after_change = after_change  # e.g. wake the postman to post what was queued
        self.scheduler = AsyncIOScheduler(timezone=timezone.utc)

    async def start(self) -> None:
        self.scheduler.start()
        await self.sync()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def sync(self) -> None:
        """Make the jobs match the open votes' deadlines and pending reminders."""
        async with self.db.transaction() as session:
            schedules = await votes.open_schedules(session)
        wanted = set()
        for vote in schedules:
            wanted.add(job_id := f"{CLOSE}{vote.vote_id}")
            self._at(job_id, vote.closes_at, self.settle, vote.vote_id)
            for hours in self.settings.nudge_hours:
                at = vote.closes_at - timedelta(hours=hours)
                if hours in vote.nudged or at <= vote.opened_at:
                    continue  # done, or the vote is shorter than the reminder's lead
                wanted.add(job_id := f"{NUDGE}{vote.vote_id}:{hours}")
                self._at(job_id, at, self.nudge, vote.vote_id, hours)
        for job in self.scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()

    def _at(self, job_id: str, when, action, *args) -> None:
        self.scheduler.add_job(
            action, "date", run_date=when, args=list(args), id=job_id,
            replace_existing=True, misfire_grace_time=None,  # late is better than never
        )

    async def settle(self, vote_id: int) -> None:
        try:
            async with self.db.transaction() as session:
                settled = await votes.settle_at_deadline(
                    session,
                    str(vote_id),
                    now=utcnow(),
                    extend_on_failed_quorum=self.settings.quorum_failure == "extend",
                    extend_by=timedelta(days=self.settings.extend_days),
                )
                if settled is None:
                    return
                what, vote, outcome = settled
                if what == "closed":
                    await announce_result(session, vote, outcome)
                else:
                    await votes.announce_to_group(
                        session, vote,
                        f"Vote #{vote.id} ({vote.question}) reached only {outcome.turnout} of the "
                        f"{outcome.quorum_needed} organisations its quorum needs, so it is extended once, "
                        f"until {vote.closes_at:%Y-%m-%d %H:%M} UTC.",
                    )
        except Exception:
            log.exception("could not settle vote %s at its deadline", vote_id)
            return
        log.info("vote %s %s at its deadline", vote_id, what)
        await self.sync()  # an extended vote needs its new deadline
        self.after_change()

    async def nudge(self, vote_id: int, hours: float) -> None:
        try:
            async with self.db.transaction() as session:
                told = await votes.nudge(session, str(vote_id), hours, utcnow())
        except Exception:
            log.exception("could not remind the non-voters of vote %s", vote_id)
            return
        if told is not None:
            log.info("vote %s: %d reminders %sh before the deadline", vote_id, told, hours)
            self.after_change()
