"""A vote's posted messages show how it stands: turnout and quorum so far, and the tally unless
the vote is hidden or secret; once closed, its result, without buttons."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.changes import Changes
from bot.i18n import Language
from bot.live import LiveTopic, Standing
from handlers.votes.wording import TOPIC, describe_outcome
from storage import votes
from storage.models import VoteStatus

STANDING = Changes("vote standing")  # a ballot was cast, or the vote closed


async def standing(session: AsyncSession, vote_id: int) -> Standing:
    vote = await votes.find_vote(session, vote_id)
    outcome = await votes.outcome(session, vote)
    is_open = vote.status == VoteStatus.OPEN

    def addition(lang: Language) -> str:
        told = describe_outcome(vote, outcome, final=not is_open, lang=lang)
        return "\n\n" + (
            lang._("So far: {standing}", standing=told) if is_open else lang._("Closed: {standing}", standing=told)
        )

    return Standing(addition, buttons=is_open)


LIVE = LiveTopic(STANDING, TOPIC, standing)
