"""/vote: open a vote, cast or change your organisation's ballot, follow it, close it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot.commands import Call, Command, Option, Param
from bot.context import Context
from bot.timeparse import parse_when, shown
from bot.transports.base import Reply
from storage import deliverables, votes
from storage.errors import Refused
from storage.models import RoomPurpose, Vote, VoteStatus
from storage.rules.access import Access
from storage.rules.voting import Majority, Outcome

DEFAULT_OPTIONS = ("yes", "no", "abstain")


def _quorum(text: str) -> float:
    """ "50%", "50" or "0.5" → 0.5."""
    raw = text.strip()
    try:
        value = float(raw.rstrip("%").strip())
    except ValueError:
        raise Refused(f"quorum= is a share such as 50% or 0.5, not {text!r}.") from None
    return value / 100 if raw.endswith("%") or value > 1 else value


def _majority(text: str) -> Majority:
    try:
        return Majority(text.strip().lower())
    except ValueError:
        raise Refused(f"majority= is one of {', '.join(m.value for m in Majority)}, not {text!r}.") from None


def _buttons(vote: Vote) -> list[list[str]]:
    return [[option, f"/vote {vote.id} {option}"] for option in vote.options]


async def vote_open(ctx: Context, call: Call) -> Reply:
    """Open a vote in this group (or alliance-wide, from the plenary room)."""
    binding = ctx.binding
    if binding.purpose == RoomPurpose.SECRETARIAT:
        raise Refused("Open a vote in its working group's room, or alliance-wide in the plenary room.")
    settings = ctx.settings.votes
    closes = call.options.get("closes")
    rules = votes.VoteRules(
        question=call.args["question"],
        options=tuple(call.options["options"].split("|")) if "options" in call.options else DEFAULT_OPTIONS,
        closes_at=parse_when(closes, ctx.zone, ctx.now) if closes else ctx.now + timedelta(days=settings.duration_days),
        quorum=_quorum(call.options["quorum"]) if "quorum" in call.options else settings.quorum,
        majority=_majority(call.options["majority"]) if "majority" in call.options else Majority(settings.majority),
        secret="secret" in call.flags,
        hidden="hidden" in call.flags,
        abstentions_count=settings.abstentions_count,
    )
    if "approve" in call.options:
        rules = dataclasses.replace(rules, action=await _approval(ctx, call.options["approve"]))
    vote = await votes.open_vote(ctx.session, actor=ctx.actor, group=ctx.group, rules=rules, now=ctx.now)
    ctx.changed.add("votes")
    electorate = await announce_opening(ctx, vote)
    return Reply(
        f"Vote #{vote.id} is open until {shown(vote.closes_at, ctx.zone)}, with {electorate} organisations to vote."
    )


async def _approval(ctx: Context, ref: str) -> dict:
    """approve=3.2: passing the vote makes version 2 of deliverable 3 final (those very bytes)."""
    deliverable_ref, _, number = ref.partition(".")
    if not number:
        raise Refused("approve= names a deliverable's version as <deliverable>.<version>, e.g. approve=3.2.")
    deliverable = await deliverables.find(ctx.session, deliverable_ref)
    if deliverable.group_id != ctx.require_group().id:
        raise Refused(f"Deliverable {deliverable.id} belongs to {deliverable.group.name}; open its vote there.")
    version = await deliverables.version(ctx.session, deliverable, number)
    return {
        "approve_version": {
            "deliverable": deliverable.id,
            "version": version.number,
            "sha256": version.sha256,
            "file": version.file_name,
            "title": deliverable.title,
        }
    }


async def announce_opening(ctx: Context, vote: Vote, proposed_by: str = "") -> int:
    """Post a new vote, with its buttons, in every room it concerns; returns the electorate's size."""
    electorate = await votes.electorate_size(ctx.session, vote)
    where = ctx.group.name if vote.group_id else "the whole alliance"
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
        topic=f"vote:{vote.id}",  # edited as ballots come in (bot/tallies.py)
    )
    return electorate


async def vote_cast(ctx: Context, call: Call) -> Reply:
    """Cast or change your organisation's ballot."""
    cast = await votes.cast_ballot(ctx.session, call.args["id"], call.args["option"], ctx.actor, ctx.now)
    ctx.changed.add(f"tally:{cast.vote_id}")
    text = f"Recorded: {cast.option} for {cast.organisation_name}"
    if cast.replaced:
        previous, by = cast.replaced
        text += f" (replaces {previous} by {by})"
    return Reply(text)


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


async def vote_status(ctx: Context, call: Call) -> Reply:
    """Turnout, quorum so far, and the tally unless secret or hidden."""
    vote = await votes.find_vote(ctx.session, call.args["id"])
    outcome = await votes.outcome(ctx.session, vote)
    match vote.status:
        case VoteStatus.OPEN:
            state = f"open until {shown(vote.closes_at, ctx.zone)}"
        case VoteStatus.CLOSED:
            state = f"closed {shown(vote.closed_at, ctx.zone)}"
        case _:
            state = "cancelled"
    return Reply(
        f"Vote #{vote.id}: {vote.question} — {state}\n"
        + describe_outcome(vote, outcome, final=vote.status == VoteStatus.CLOSED)
    )


async def vote_list(ctx: Context, call: Call) -> Reply:
    """The recent votes of this group (all votes elsewhere)."""
    listed = await votes.list_votes(ctx.session, ctx.group)
    if not listed:
        return Reply("No votes yet.")
    lines = []
    for vote in listed:
        when = shown(vote.closes_at, ctx.zone) if vote.status == VoteStatus.OPEN else vote.status.value
        lines.append(f"#{vote.id} {vote.question} — {when}")
    return Reply("\n".join(lines))


def _may_end(ctx: Context, vote: Vote) -> None:
    if not (ctx.actor.is_secretariat or (ctx.actor.person_id and ctx.actor.person_id == vote.opener_person_id)):
        raise Refused(f"Only whoever opened vote #{vote.id}, or the secretariat, may end it early.")


async def vote_close(ctx: Context, call: Call) -> Reply:
    """Close a vote now and announce its result."""
    _may_end(ctx, await votes.find_vote(ctx.session, call.args["id"]))
    closed = await votes.close_vote(ctx.session, call.args["id"], by=ctx.actor.label, now=ctx.now)
    if closed is None:
        raise Refused(f"Vote #{call.args['id']} is not open.")
    ctx.changed.update({"votes", f"tally:{closed[0].id}"})
    await announce_result(ctx.session, *closed)
    return Reply(f"Vote #{closed[0].id} is closed; the result is posted in its rooms.")


async def announce_result(session, vote: Vote, outcome: Outcome) -> None:
    await votes.announce_to_group(
        session, vote, f"Vote #{vote.id} is closed: {vote.question}\n" + describe_outcome(vote, outcome, final=True)
    )


async def vote_cancel(ctx: Context, call: Call) -> Reply:
    """Cancel a vote: no result is drawn."""
    vote = await votes.find_vote(ctx.session, call.args["id"])
    _may_end(ctx, vote)
    await votes.cancel_vote(ctx.session, call.args["id"], actor=ctx.actor, now=ctx.now)
    ctx.changed.add("votes")
    await votes.announce_to_group(ctx.session, vote, f"Vote #{vote.id} is cancelled: {vote.question}")
    return Reply(f"Vote #{vote.id} is cancelled.")


COMMANDS = [
    Command(
        "vote open",
        "open a vote in this group",
        vote_open,
        Access.CHAIR,
        params=(Param("question"),),
        options=(
            Option("options", "yes|no|abstain"),
            Option("approve", "<deliverable>.<version>"),
            Option("closes", "<time>"),
            Option("quorum", "50%"),
            Option("majority", "simple|absolute|two-thirds|unanimous"),
        ),
        flags=("secret", "hidden"),
        details="Alliance-wide votes are opened by the secretariat in the plenary room.",
    ),
    Command(
        "vote status",
        "turnout, quorum and tally of a vote",
        vote_status,
        Access.MEMBER,
        params=(Param("id"),),
        anywhere=True,
    ),
    Command("vote list", "the recent votes", vote_list, Access.MEMBER, anywhere=True),
    Command("vote close", "close a vote early", vote_close, Access.MEMBER, params=(Param("id"),), anywhere=True),
    Command("vote cancel", "cancel a vote", vote_cancel, Access.MEMBER, params=(Param("id"),), anywhere=True),
    Command(
        "vote",
        "cast or change your organisation's vote",
        vote_cast,
        Access.MEMBER,
        params=(Param("id"), Param("option", rest=True)),
        anywhere=True,
    ),
]
