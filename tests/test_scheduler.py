"""The scheduler holds only what falls due soon; what lies beyond still fires, on time."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from bot.changes import Changes
from bot.scheduler import Job, Scheduler
from storage.models import utcnow


class Calendar:
    """A planner over a fixed list of times; records when each job fired."""

    changes = Changes("calendar")

    def __init__(self, *offsets: timedelta) -> None:
        now = utcnow()
        self.due = {f"calendar:{n}": now + offset for n, offset in enumerate(offsets)}
        self.fired: dict[str, timedelta] = {}

    async def plan(self, keys=None):
        return [Job(job_id, at, self.fire, (job_id,)) for job_id, at in self.due.items() if job_id not in self.fired]

    async def fire(self, job_id: str) -> bool:
        self.fired[job_id] = utcnow() - self.due[job_id]
        return False


async def test_a_job_beyond_the_horizon_is_handed_over_by_a_resync_and_fires_on_time():
    calendar = Calendar(timedelta(milliseconds=300), timedelta(seconds=2))
    scheduler = Scheduler(
        [calendar], after_change=lambda: None, resync_every=timedelta(milliseconds=200), horizon=timedelta(seconds=1)
    )
    await scheduler.start()
    try:
        assert scheduler.job_ids() == ["calendar:0"]  # the later one is not held yet
        await asyncio.sleep(2.6)
    finally:
        scheduler.stop()
    assert set(calendar.fired) == {"calendar:0", "calendar:1"}
    assert all(late < timedelta(milliseconds=500) for late in calendar.fired.values()), calendar.fired


def test_a_horizon_without_a_resync_to_bring_the_rest_is_refused():
    with pytest.raises(ValueError, match="resync"):
        Scheduler([], after_change=lambda: None, horizon=timedelta(days=7))


async def test_stopping_while_a_job_is_under_way_logs_no_failure(caplog):
    """A stop (SIGTERM, or leadership lost) cancels the job midway; it is simply due again at the
    next start, which is no error for an operator to chase."""
    began = asyncio.Event()

    class Slow(Calendar):
        async def fire(self, job_id: str) -> bool:
            began.set()
            await asyncio.Event().wait()  # e.g. a transaction waiting on the database
            return False

    calendar = Slow(timedelta(0))
    scheduler = Scheduler([calendar], after_change=lambda: None)
    await scheduler.start()
    await asyncio.wait_for(began.wait(), 5)
    with caplog.at_level(logging.INFO):
        scheduler.stop()
        await asyncio.sleep(0.1)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert "stopped during calendar:0" in caplog.text
    assert calendar.fired == {}
