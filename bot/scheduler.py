"""APScheduler holding only what is due; storage is the source of truth.

Each area (vote deadlines, announcements, meeting reminders, deliverable reminders) is a
`Planner`: it reads from storage the jobs it wants, and its jobs' actions are idempotent in
storage (each marks what it did in the same transaction as its effect), so a job that fires
twice, or fires in two processes, acts once. The jobs are rebuilt from storage at start (a job
whose time passed while the bot was down runs at once), every minute (another process may have
changed what is due), after each command that changed an area, and after each job ran.
With a resync, only what falls due within `horizon` is handed to APScheduler: a later resync
hands over the rest in time, and a calendar of ten thousand meetings does not become ten
thousand APScheduler jobs (each costs ~0.1 ms to add and its memory to keep).

A planner plans by key (a vote's or a meeting's id), so that a change to one meeting re-plans
that meeting and not ten thousand others. `Context.changed` names an area ("votes") or one
key in it ("meetings:12").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from storage.models import utcnow

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(minutes=1)  # a job that failed (e.g. the database was away) runs again
RESYNC = "resync"


@dataclass(frozen=True)
class Job:
    id: str  # stable, so re-planning replaces rather than adds
    at: datetime
    action: Callable[..., Awaitable[bool]]  # True when it queued something to deliver
    args: tuple = ()
    key: int | None = None  # what it belongs to (a vote, a meeting): re-planned together


class Planner(Protocol):
    name: str  # what `Context.changed` says when a command changed this area

    async def plan(self, keys: Collection[int] | None = None) -> Iterable[Job]:
        """The jobs this area wants now: all of them, or only those of `keys`. It reads storage
        in a short transaction of its own and computes outside it, so the database (on SQLite,
        every writer) never waits for the computing."""


class Scheduler:
    def __init__(
        self,
        planners: Iterable[Planner],
        after_change: Callable[[], None],
        resync_every: timedelta | None = None,
        horizon: timedelta | None = None,
    ) -> None:
        if horizon is not None and (resync_every is None or horizon <= resync_every):
            raise ValueError("a horizon needs a resync that comes before it ends")
        self.planners = {p.name: p for p in planners}
        self.after_change = after_change  # e.g. wake the postman to deliver what a job queued
        self.resync_every = resync_every
        self.horizon = horizon
        self.aps = AsyncIOScheduler(timezone=UTC)
        self._planned: dict[str, dict[str, Job]] = {name: {} for name in self.planners}

    @property
    def running(self) -> bool:
        return self.aps.running

    async def start(self) -> None:
        self.aps.start()
        await self.sync()
        if self.resync_every:
            self.aps.add_job(self._resync, "interval", seconds=self.resync_every.total_seconds(), id=RESYNC)

    def stop(self) -> None:
        """Jobs under way are cancelled: their transactions roll back, and the next start finds
        them still due (each marks what it did in the transaction of its effect)."""
        if self.aps.running:
            self.aps.shutdown(wait=False)
        self._planned = {name: {} for name in self.planners}

    async def sync(self, changed: Iterable[str] | None = None) -> None:
        """Make the jobs match storage: of every area, or of what `changed` names."""
        wanted: dict[str, set[int] | None] = {}
        for item in self.planners if changed is None else changed:
            name, _, key = item.partition(":")
            if name not in self.planners:
                continue
            if not key or wanted.get(name, set()) is None:
                wanted[name] = None  # the whole area
            else:
                wanted.setdefault(name, set()).add(int(key))
        for name, keys in wanted.items():
            await self._sync_area(name, keys)

    async def _sync_area(self, name: str, keys: set[int] | None) -> None:
        jobs = await self.planners[name].plan(keys)
        if self.horizon is not None:
            until = utcnow() + self.horizon
            jobs = [job for job in jobs if job.at <= until]
        wanted = {job.id: job for job in jobs}
        planned = self._planned[name]
        for job_id in [j for j, job in planned.items() if keys is None or job.key in keys]:
            if job_id not in wanted:
                if self.aps.get_job(job_id):
                    self.aps.remove_job(job_id)
                del planned[job_id]
        for job in wanted.values():
            known = planned.get(job.id)
            if known is None or known.at != job.at:
                self._add(name, job, job.at)
                planned[job.id] = job

    def _add(self, name: str, job: Job, at: datetime) -> None:
        self.aps.add_job(
            self._run,
            "date",
            run_date=at,
            args=[name, job],
            id=job.id,
            replace_existing=True,
            misfire_grace_time=None,  # late is better than never
        )

    def job_ids(self) -> list[str]:
        """What is planned (without the housekeeping resync)."""
        return sorted(job.id for job in self.aps.get_jobs() if job.id != RESYNC)

    async def _resync(self) -> None:
        try:
            await self.sync()
        except asyncio.CancelledError:
            log.info("the scheduler stopped during a resync")

    async def _run(self, name: str, job: Job) -> None:
        try:
            queued = await job.action(*job.args)
        except asyncio.CancelledError:
            log.info("the scheduler stopped during %s; it runs when the scheduler starts again", job.id)
            return
        except Exception:
            log.exception("scheduled job %s failed; trying again in a minute", job.id)
            self._add(name, job, utcnow() + RETRY_AFTER)
            return
        self._planned[name].pop(job.id, None)
        if queued:
            self.after_change()
        try:  # e.g. a meeting's next reminder, an extended vote's new deadline
            await self._sync_area(name, None if job.key is None else {job.key})
        except Exception:
            log.exception("could not re-plan %s after %s", name, job.id)
