"""The scheduler holds only what falls due soon; what lies beyond still fires, on time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.scheduler import Job, Scheduler
from storage.models import utcnow


class Calendar:
    """A planner over a fixed list of times; records when each job fired."""

    name = "calendar"

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
    scheduler = Scheduler([calendar], after_change=lambda: None,
                          resync_every=timedelta(milliseconds=200), horizon=timedelta(seconds=1))
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
