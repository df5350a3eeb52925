"""How a vote is told to its rooms: its opening, with buttons, and its result."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Context
from bot.timeparse import shown
from storage import votes
from storage.models import Vote
from storage.rules.voting import Outcome

TOPIC = "vote"  # a vote's posted messages are kept up to date under "vote:<id>" (handlers/votes/live.py)


def _buttons(vote: Vote) -> list[list[str]]:
    return [[option, f"/vote {vote.id} {option}"] for option in vote.options]


async def announce_opening(ctx: Context, vote: Vote, proposed_by: str = "") -> int:
    """Post a new vote, with its buttons, in every room it concerns; returns the electorate's size."""
    electorate = await votes.electorate_size(ctx.session, vote)
    where = ctx.group.name if vote.group_id and ctx.group else "the whole alliance"
    kind = "secret ballot; " if vote.secret else ("results hidden until close; " if vote.hidden else "")
    approving = (vote.action or {}).get("approve_version")
    if approving:
        proposed_by += (
            f"If adopted, version {approving['version']} of deliverable {approving['deliverable']} "
            f"({approving['title']}: {approving['file']}, sha256 {approving['sha256']}) becomes final.\n"
        )
    await votes.announce_to_group(
        ctx.session,
        vote,
        f"Vote #{vote.id} ({where}): {vote.question}\n{proposed_by}"
        f"Options: {', '.join(vote.options)}. One vote per member organisation "
        f"({electorate} in the electorate); {kind}quorum {vote.quorum:.0%}, {vote.majority} majority.\n"
        f"Closes {shown(vote.closes_at, ctx.settings.alliance.timezone)}. Vote with the buttons or "
        f"/vote {vote.id} <option>; you may change your vote until then.",
        buttons=_buttons(vote),
        topic=f"{TOPIC}:{vote.id}",  # edited as ballots come in
    )
    return electorate


def describe_outcome(vote: Vote, outcome: Outcome, *, final: bool) -> str:
    lines = [
        f"Turnout: {outcome.turnout} of {outcome.electorate} organisations "
        f"(quorum {outcome.quorum_needed}: {'met' if outcome.quorum_met else 'not met'})."
    ]
    if final or not vote.hidden:
        lines.append("Tally: " + " · ".join(f"{o} {n}" for o, n in outcome.tally.items()))
    if final:
        if outcome.passed:
            verdict = "ADOPTED" if "yes" in vote.options else f"CHOSEN: {outcome.winner}"
        elif not outcome.quorum_met:
            verdict = "NOT VALID — quorum not met"
        else:
            verdict = (
                f"NOT ADOPTED — no {vote.majority} majority"
                if "yes" in vote.options
                else f"NO {vote.majority.upper()} MAJORITY"
            )
        lines.append(f"Outcome: {verdict}.")
        if vote.result and vote.result.get("action"):
            lines.append(f"As decided: {vote.result['action']}.")
    return "\n".join(lines)


async def announce_result(session: AsyncSession, vote: Vote, outcome: Outcome) -> None:
    await votes.announce_to_group(
        session, vote, f"Vote #{vote.id} is closed: {vote.question}\n" + describe_outcome(vote, outcome, final=True)
    )
