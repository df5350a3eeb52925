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
that meeting and not ten thousand others. A planner owns a kind of change (`bot.changes`);
a command that changed its area says `ctx.changed.add(DEADLINES.every)` or `….of(12)`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.changes import Change, Changes
from bot.metrics import SCHEDULER_LAG
from storage.models import utcnow

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(minutes=1)  # a job that failed (e.g. the database was away) runs again
RESYNC = "resync"


@dataclass(frozen=True)
class Job:
    id: str  # stable, so re-planning replaces rather than adds
    at: datetime
    action: Callable[..., Awaitable[bool]]  # True when it queued something to deliver
    args: tuple[object, ...] = ()
    key: int | None = None  # what it belongs to (a vote, a meeting): re-planned together


class Planner(Protocol):
    @property
    def changes(self) -> Changes:
        """The kind of change that makes this area re-plan."""

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
        self.planners = {p.changes: p for p in planners}
        self.after_change = after_change  # e.g. wake the postman to deliver what a job queued
        self.resync_every = resync_every
        self.horizon = horizon
        self.aps = AsyncIOScheduler(timezone=UTC)
        self._planned: dict[Changes, dict[str, Job]] = {kind: {} for kind in self.planners}

    @property
    def running(self) -> bool:
        return bool(self.aps.running)

    def follows(self, change: Change) -> bool:
        """Whether a planner here re-plans on this kind of change."""
        return change.kind in self.planners

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
        self._planned = {kind: {} for kind in self.planners}

    async def sync(self, changed: Iterable[Change] | None = None) -> None:
        """Make the jobs match storage: of every area, or of what `changed` names."""
        if changed is None:
            changed = [kind.every for kind in self.planners]
        wanted: dict[Changes, set[int] | None] = {}
        for change in changed:
            if change.kind not in self.planners:
                continue
            keys = wanted.get(change.kind, set())
            if change.key is None or keys is None:
                wanted[change.kind] = None  # the whole area
            else:
                wanted[change.kind] = keys | {change.key}
        for kind, keys in wanted.items():
            await self._sync_area(kind, keys)

    async def _sync_area(self, kind: Changes, keys: set[int] | None) -> None:
        jobs = list(await self.planners[kind].plan(keys))
        if self.horizon is not None:
            until = utcnow() + self.horizon
            jobs = [job for job in jobs if job.at <= until]
        wanted = {job.id: job for job in jobs}
        planned = self._planned[kind]
        for job_id in [j for j, job in planned.items() if keys is None or job.key in keys]:
            if job_id not in wanted:
                if self.aps.get_job(job_id):
                    self.aps.remove_job(job_id)
                del planned[job_id]
        for job in wanted.values():
            known = planned.get(job.id)
            if known is None or known.at != job.at:
                self._add(kind, job, job.at)
                planned[job.id] = job

    def _add(self, kind: Changes, job: Job, at: datetime) -> None:
        self.aps.add_job(
            self._run,
            "date",
            run_date=at,
            args=[kind, job],
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

    async def _run(self, kind: Changes, job: Job) -> None:
        SCHEDULER_LAG.set(max(0.0, (utcnow() - job.at).total_seconds()))
        try:
            queued = await job.action(*job.args)
        except asyncio.CancelledError:
            log.info("the scheduler stopped during %s; it runs when the scheduler starts again", job.id)
            return
        except Exception:
            log.exception("scheduled job %s failed; trying again in a minute", job.id)
            self._add(kind, job, utcnow() + RETRY_AFTER)
            return
        self._planned[kind].pop(job.id, None)
        if queued:
            self.after_change()
        try:  # e.g. a meeting's next reminder, an extended vote's new deadline
            await self._sync_area(kind, None if job.key is None else {job.key})
        except Exception:
            log.exception("could not re-plan %s after %s", kind.name, job.id)
