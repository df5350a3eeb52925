"""How a vote is told to its rooms: its opening, with buttons, and its result."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Context
from bot.timeparse import shown
from storage import votes
from storage.models import Vote
from storage.rules.voting import Outcome

TOPIC = "vote"  # a vote's posted messages are kept up to date under "vote:<id>" (handlers/votes/live.py)


def reminder(vote: Vote, zone: str) -> str:
    """The private reminder to an organisation that has not voted (before the deadline, or by hand)."""
    return (
        f"Reminder: vote #{vote.id} ({vote.question}) closes {shown(vote.closes_at, zone)} and your "
        f"organisation has not voted yet. Options: {', '.join(vote.options)}. Send /vote {vote.id} <option>."
    )


def _buttons(vote: Vote) -> list[list[str]]:
    return [[option, f"/vote {vote.id} {option}"] for option in vote.options]


async def announce_opening(ctx: Context, vote: Vote, proposed_by: str = "") -> int:
    """Post a new vote, with its buttons, in every room it concerns; returns the electorate's size."""
    electorate = await votes.electorate_size(ctx.session, vote)
    where = ctx.binding.group_name if vote.group_id and ctx.binding and ctx.binding.group_name else "the whole alliance"
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
        f"Closes {shown(vote.closes_at, ctx.settings.alliance.timezone)}. {_how_to_vote(vote)} "
        "You may change your vote until then.",
        buttons=_buttons(vote),
        topic=f"{TOPIC}:{vote.id}",  # edited as ballots come in
    )
    return electorate


def _how_to_vote(vote: Vote) -> str:
    if vote.secret or vote.hidden:
        return (
            f"Vote with the buttons (only you see your receipt) or send /vote {vote.id} <option> to me in a "
            "private chat; a ballot typed here is taken down."
        )
    return f"Vote with the buttons or /vote {vote.id} <option>."


def describe_outcome(vote: Vote, outcome: Outcome, *, final: bool) -> str:
    lines = [
        f"Turnout: {outcome.turnout} of {outcome.electorate} organisations "
        f"(quorum {outcome.quorum_needed}: {'met' if outcome.quorum_met else 'not met'})."
    ]
    if final or not vote.hidden:
        lines.append("Tally: " + tally_line(outcome.tally))
    if final:
        lines.append(f"Outcome: {verdict(vote, outcome)}.")
        if vote.result and vote.result.get("action"):
            lines.append(f"As decided: {vote.result['action']}.")
    return "\n".join(lines)


def verdict(vote: Vote, outcome: Outcome) -> str:
    """What the vote decided, in words that say why: a motion is ADOPTED, REJECTED (another
    option won), or NOT ADOPTED (no quorum, or no option had the majority the vote required)."""
    motion = "yes" in vote.options
    if not outcome.quorum_met:
        return f"{'NOT ADOPTED' if motion else 'NO CHOICE'} — quorum not met"
    if outcome.winner is None:
        no_majority = f"no {vote.majority} majority ({tally_line(outcome.tally)})"
        return f"NOT ADOPTED — {no_majority}" if motion else f"NO CHOICE — {no_majority}"
    if not motion:
        return f"CHOSEN: {outcome.winner}"
    if outcome.passed:
        return "ADOPTED"
    leading_first = {outcome.winner: outcome.tally[outcome.winner], **outcome.tally}
    return f"REJECTED — {tally_line(leading_first)}"


def tally_line(tally: dict[str, int]) -> str:
    """ "yes 3 · no 1 · abstain 0", in the order given."""
    return " · ".join(f"{option} {count}" for option, count in tally.items())


async def announce_result(session: AsyncSession, vote: Vote, outcome: Outcome) -> None:
    await votes.announce_to_group(
        session, vote, f"Vote #{vote.id} is closed: {vote.question}\n" + describe_outcome(vote, outcome, final=True)
    )
