"""APScheduler holding only what is due; storage is the source of truth.

Each area (vote deadlines, announcements, meeting reminders, deliverable reminders) is a
`Planner`: it reads from storage the jobs it wants, and its jobs' actions are idempotent in
storage (each marks what it did in the same transaction as its effect), so a job that fires
twice, or fires in two processes, acts once. The jobs are rebuilt from storage at start (a job
whose time passed while the bot was down runs at once), after each command that changed an
area (`Context.changed` names it), and after each of the area's jobs ran.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(minutes=1)  # a job that failed (e.g. the database was away) runs again


@dataclass(frozen=True)
class Job:
    id: str  # stable: "<planner>:<what>:<detail>", so re-planning replaces rather than adds
    at: datetime
    action: Callable[..., Awaitable[bool]]  # True when it queued something to deliver
    args: tuple = ()


class Planner(Protocol):
    name: str  # what `Context.changed` says when a command changed this area

    async def plan(self, session: AsyncSession) -> Iterable[Job]:
        """Every job this area wants now."""


class Scheduler:
    def __init__(
        self,
        db: Database,
        planners: Iterable[Planner],
        after_change: Callable[[], None],
        resync_every: timedelta | None = None,
    ) -> None:
        self.db = db
        self.resync_every = resync_every
        self.planners = {p.name: p for p in planners}
        self.after_change = after_change  # e.g. wake the postman to deliver what a job queued
        self.aps = AsyncIOScheduler(timezone=timezone.utc)
        self._planned: dict[str, dict[str, datetime]] = {name: {} for name in self.planners}

    @property
    def running(self) -> bool:
        return self.aps.running

    async def start(self) -> None:
        self.aps.start()
        await self.sync()
        if self.resync_every:
            self.aps.add_job(self.sync, "interval", seconds=self.resync_every.total_seconds(), id="resync")

    def stop(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
        self._planned = {name: {} for name in self.planners}

    async def sync(self, names: Iterable[str] | None = None) -> None:
        """Make the jobs of these areas (default: all) match storage, touching only what changed."""
        for name in self.planners if names is None else [n for n in names if n in self.planners]:
            async with self.db.transaction() as session:
                wanted = {job.id: job for job in await self.planners[name].plan(session)}
            planned = self._planned[name]
            for job_id in planned.keys() - wanted.keys():
                if self.aps.get_job(job_id):
                    self.aps.remove_job(job_id)
                del planned[job_id]
            for job in wanted.values():
                if planned.get(job.id) != job.at:
                    self.aps.add_job(
                        self._run, "date", run_date=job.at, args=[name, job], id=job.id,
                        replace_existing=True, misfire_grace_time=None,  # late is better than never
                    )
                    planned[job.id] = job.at

    def job_ids(self) -> list[str]:
        """What is planned (without the housekeeping resync)."""
        return sorted(job.id for job in self.aps.get_jobs() if job.id != "resync")

    async def _run(self, name: str, job: Job) -> None:
        try:
            queued = await job.action(*job.args)
        except Exception:
            log.exception("scheduled job %s failed; trying again in a minute", job.id)
            self.aps.add_job(
                self._run, "date", run_date=utcnow() + RETRY_AFTER, args=[name, job], id=job.id,
                replace_existing=True, misfire_grace_time=None,
            )
            return
        self._planned[name].pop(job.id, None)
        if queued:
            self.after_change()
        try:
            await self.sync([name])  # e.g. a recurring meeting's next reminder, an extended vote
        except Exception:
            log.exception("could not re-plan %s after %s", name, job.id)
