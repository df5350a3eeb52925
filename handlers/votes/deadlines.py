"""Vote deadlines and reminders to non-voters, planned from the open votes.

A deadline that passed while the bot was down runs at once. The vote row is locked and
re-checked when it closes, and a reminder is recorded with its notices, so a job that fires
twice, or races an early /vote close, acts once. A private message states the deadline in its
reader's zone; a room's, in the alliance's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import timedelta

from bot.areas import Services
from bot.changes import Changes
from bot.config import VoteSettings
from bot.i18n import language, saying, worded_in
from bot.scheduler import Job
from handlers.votes.live import STANDING
from handlers.votes.wording import announce_result, extended_reminder, extension, reminder
from storage import votes
from storage.db import Database
from storage.models import Vote, utcnow

log = logging.getLogger(__name__)
DEADLINES = Changes("vote deadlines")  # a vote opened, closed early, or was cancelled


class VoteDeadlines:
    changes = DEADLINES

    def __init__(
        self,
        db: Database,
        settings: VoteSettings,
        zone: str,
        on_settled: Callable[[int], None] = lambda vote_id: None,
        language: str = "en",
    ) -> None:
        self.db = db
        self.settings = settings
        self.zone = zone  # the alliance's: for rooms, and for readers who have set none
        self.language = language  # the alliance's: for the rooms of groups that chose none
        self.on_settled = on_settled  # e.g. refresh the vote's posted messages

    async def plan(self, keys: Collection[int] | None = None) -> list[Job]:
        async with self.db.transaction() as session:
            schedules = await votes.open_schedules(session, keys)
        jobs = []
        for vote in schedules:
            jobs.append(Job(f"vote:close:{vote.vote_id}", vote.closes_at, self.settle, (vote.vote_id,), vote.vote_id))
            for hours in self.settings.nudge_hours:
                at = vote.closes_at - timedelta(hours=hours)
                if hours in vote.nudged or at <= vote.opened_at:
                    continue  # done, or the vote is shorter than the reminder's lead
                jobs.append(
                    Job(f"vote:nudge:{vote.vote_id}:{hours}", at, self.nudge, (vote.vote_id, hours), vote.vote_id)
                )
        return jobs

    async def settle(self, vote_id: int) -> bool:
        async with self.db.transaction() as session:
            try:
                settled = await votes.settle_at_deadline(
                    session,
                    vote_id,
                    now=utcnow(),
                    extend_on_failed_quorum=self.settings.quorum_failure == "extend",
                    extend_by=timedelta(days=self.settings.extend_days),
                    extension_notice=self._extended,
                    say=saying(self.language),
                )
            except votes.BallotsDisagree as held:
                log.error("vote %s: %s", vote_id, held)
                return True  # the hold, its audit line and the secretariat's notice commit
            if settled is None:
                return False
            what, vote, outcome = settled
            if what == "closed":
                await announce_result(session, vote, outcome, self.language)
            else:
                await votes.announce_to_group(
                    session, vote, worded_in(lambda lang: extension(vote, outcome, self.zone, lang), self.language)
                )
        log.info("vote %s %s at its deadline", vote_id, what)
        self.on_settled(vote_id)
        return True

    async def nudge(self, vote_id: int, hours: float) -> bool:
        async with self.db.transaction() as session:
            told = await votes.nudge(session, vote_id, hours, utcnow(), self._reminder)
        if told is None:
            return False
        log.info("vote %s: %d reminders %sh before the deadline", vote_id, told, hours)
        return True

    def _extended(self, vote: Vote, zone: str | None, code: str | None) -> str:
        return extended_reminder(vote, zone or self.zone, language(code, self.language))

    def _reminder(self, vote: Vote, zone: str | None, code: str | None) -> str:
        return reminder(vote, zone or self.zone, language(code, self.language))


def vote_deadlines(services: Services) -> VoteDeadlines:
    """The planner as the running bot builds it: a settled vote refreshes its posted messages."""
    settings = services.settings
    return VoteDeadlines(
        services.db,
        settings.votes,
        settings.alliance.timezone,
        on_settled=lambda vote_id: services.changed(STANDING.of(vote_id)),
        language=settings.alliance.language,
    )
