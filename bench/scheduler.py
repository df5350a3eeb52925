"""How does the scheduler cope with a big calendar?

Fills a database with 10,000 future meetings (weekly series, a year each) with two reminders
each (24 h and 15 min before), of which 100 have their 24-hour reminder falling due a few
seconds after the bot starts. Then starts wgbot (no chat platform: the scheduler and the outbox
are what is measured) and prints how long it took to be ready, its memory (RSS), and how late
each of the 100 reminders fired (the firing jitter).
Targets: start < 3 s, RSS < 200 MB, jitter < 1 s.

    .venv/bin/python bench/scheduler.py [--meetings 10000] [--due-soon 100]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bot.app import PLAN_AHEAD, App
from bot.config import Settings
from handlers import AREAS
from storage import groups, migrate
from storage.db import Database
from storage.models import Meeting, MeetingReminder, MeetingStatus, utcnow

ZONE = "Europe/Brussels"
SOON = timedelta(seconds=8)  # when the first of the due-soon reminders fires, after setup


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def fill(db: Database, count: int, due_soon: int) -> dict[int, object]:
    """The meetings; returns when each due-soon meeting's 24-hour reminder is due."""
    now = utcnow()
    due: dict[int, object] = {}
    async with db.transaction() as session:
        group = (await groups.seed_founding_groups(session))[0]
        for n in range(count):
            if n < due_soon:  # a one-off whose 24-hour reminder falls due soon after start
                start = now + timedelta(days=1) + SOON + timedelta(milliseconds=50 * n)
                rule, last = None, start
            else:  # a weekly series starting within the coming weeks
                start = now + timedelta(days=2 + n % 60, minutes=n % 600)
                rule, last = "FREQ=WEEKLY;COUNT=52", start + timedelta(weeks=51)
            local = start.astimezone(ZoneInfo(ZONE)).replace(tzinfo=None)
            meeting = Meeting(
                group_id=group.id,
                title=f"Meeting {n}",
                zone=ZONE,
                local_start=local,
                rule=rule,
                duration_minutes=60,
                status=MeetingStatus.ACTIVE,
                first_start=start,
                last_start=last,
                created_by="bench",
                created_at=now - timedelta(days=7),
            )
            session.add(meeting)
            if n < due_soon:
                due[n] = start - timedelta(minutes=1440)
        await session.flush()
        ids = list(await session.scalars(select(Meeting.id).order_by(Meeting.id).limit(due_soon)))
    return {meeting_id: due[n] for n, meeting_id in enumerate(ids)}


async def main(count: int, due_soon: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="wgbot-bench-"))
    db = Database.connect(f"sqlite+aiosqlite:///{work / 'wgbot.sqlite3'}")
    await migrate.upgrade(db)
    due = await fill(db, count, due_soon)
    settings = Settings.model_validate({"database": {"url": db.url}, "files": {"path": str(work / "files")}})
    app = App(settings, db, [], AREAS)
    began = time.perf_counter()
    running = asyncio.create_task(app.run())
    await app.started.wait()
    ready = time.perf_counter() - began
    memory = rss_mb()
    jobs = len(app.scheduler.job_ids())
    last_due = max(due.values())
    await asyncio.sleep(max(0.0, (last_due - utcnow()).total_seconds()) + 2)
    async with db.transaction() as session:
        rows = await session.execute(
            select(MeetingReminder.meeting_id, MeetingReminder.at).where(MeetingReminder.meeting_id.in_(list(due)))
        )
        fired = dict(rows.tuples().all())
    app.request_stop()
    await running
    await db.close()
    late = sorted((fired[i] - due[i]).total_seconds() for i in fired)
    print(
        f"{count} meetings × 2 reminders: ready in {ready:.2f} s, RSS {memory:.0f} MB, "
        f"{jobs} jobs held (those due within {PLAN_AHEAD.days} days)"
    )
    if late:
        print(
            f"{len(fired)} of {len(due)} reminders fired; lateness p50 {statistics.median(late) * 1000:.0f} ms, "
            f"max {late[-1] * 1000:.0f} ms"
        )
    else:
        print(f"none of the {len(due)} reminders fired")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meetings", type=int, default=10_000)
    parser.add_argument("--due-soon", type=int, default=100)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.meetings, arguments.due_soon))
