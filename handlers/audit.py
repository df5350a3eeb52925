"""The audit log's checkpoints, posted to the secretariat at least daily (and by every vote
close, in storage/votes.py): what `wgbot audit verify --checkpoint` proves the log against."""

from __future__ import annotations

import logging
from argparse import Namespace
from collections.abc import Collection
from datetime import datetime, timedelta

from bot.areas import Area, Services
from bot.changes import Changes
from bot.config import Settings
from bot.i18n import saying
from bot.scheduler import Job
from bot.shell import database
from storage import audit, ballot_record, checkpoints
from storage.db import Database
from storage.models import utcnow
from storage.rules.text import Say, Words, counted, in_english

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


async def audit_verify(settings: Settings, args: Namespace) -> int:
    """`wgbot audit verify`: the chain, the checkpoint it must still hold, and every vote's
    ballots against its audited casts; exit 1 names what is wrong."""
    async with database(settings) as db, db.transaction() as session:
        report = await audit.verify(session)
        anchor: checkpoints.Checkpoint | None = None
        source = "the checkpoint given"
        if args.checkpoint:
            anchor = checkpoints.Checkpoint.read(args.checkpoint)
        elif posted := await checkpoints.last_published(session):
            anchor, source = posted[0], "the last checkpoint posted"
        cut = await checkpoints.holds(session, anchor) if anchor else None
        votes_wrong = await ballot_record.problems_of_every_vote(session)
        now = await checkpoints.current(session)
    print(report.describe())
    if cut:
        print(f"audit log fails {source}: {cut}")
    elif anchor:
        print(f"{source} ({counted(anchor.count, 'entry', 'entries')}) is still held, unchanged")
    else:
        print("no checkpoint to check the log's end against: give one with --checkpoint")
    for problem in votes_wrong:
        print(f"ballots disagree with the audit log: {problem}")
    if not votes_wrong:
        print("every vote's ballots agree with its audited casts")
    print(f"checkpoint now: {now}" if now else "checkpoint now: none (the log is empty)")
    return 0 if report.intact and not cut and not votes_wrong else 1


AREA = Area("audit", planners=[daily_checkpoints], shell={"audit_verify": audit_verify})
