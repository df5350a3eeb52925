"""/vote: open a vote, cast or change your organisation's ballot, follow it, close it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot import arguments
from bot.commands import Call, Command, Option, Param, at_most
from bot.context import Context
from bot.i18n import choice_aliases, language
from bot.transports.base import Reply
from handlers import arguments as records
from handlers.deliverables.versions import VersionRef, version_ref
from handlers.limits import count_broadcast
from handlers.votes.deadlines import DEADLINES
from handlers.votes.live import STANDING
from handlers.votes.mandates import prompt_every_holder
from handlers.votes.wording import announce_opening, announce_result, describe_outcome, reminder
from storage import deliverables, mandates, notices, votes
from storage.errors import Refused
from storage.models import RoomPurpose, Vote, VoteStatus
from storage.rules.access import Access, may
from storage.rules.text import N_, Words, state
from storage.rules.voting import DEFAULT_OPTIONS, Majority

QUESTION = Param("question", at_most(300))
VOTE = Param("id", arguments.number)
OPTION = Param("option", at_most(200), rest=True)
OPTIONS = Option("options", "yes|no|abstain", at_most(1000))
APPROVE = Option("approve", "<deliverable>.<version>", version_ref)
CLOSES = Option("closes", "<time>", arguments.moment)
QUORUM = Option("quorum", "50%", arguments.share)
MAJORITY = Option("majority", "simple|absolute|two-thirds|unanimous", arguments.one_of(Majority))
FOR = Option("for", "<organisation>", records.organisation)


async def vote_open(ctx: Context, call: Call) -> Reply:
    """Open a vote in this group (or alliance-wide, from the plenary room)."""
    if ctx.binding is None or ctx.binding.purpose == RoomPurpose.SECRETARIAT:
        raise Refused("Open a vote in its working group's room, or alliance-wide in the plenary room.")
    settings = ctx.settings.votes
    options = call.get(OPTIONS)
    rules = votes.VoteRules(
        question=call[QUESTION],
        options=tuple(options.split("|")) if options is not None else DEFAULT_OPTIONS,
        closes_at=call.get(CLOSES) or ctx.now + timedelta(days=settings.duration_days),
        quorum=_or(call.get(QUORUM), settings.quorum),
        majority=call.get(MAJORITY) or Majority(settings.majority),
        secret="secret" in call.flags,
        hidden="hidden" in call.flags,
        abstentions_count=settings.abstentions_count,
    )
    approving = call.get(APPROVE)
    if approving is not None:
        rules = dataclasses.replace(rules, action=await _approval(ctx, approving))
    vote = await votes.open_vote(ctx.session, actor=ctx.actor, group=await ctx.group(), rules=rules, now=ctx.now)
    if vote.group_id is None:
        await count_broadcast(ctx, "alliance-wide vote")
    ctx.changed.add(DEADLINES.of(vote.id))
    electorate = await announce_opening(ctx, vote)
    await prompt_every_holder(ctx, vote.id)
    closes = (
        ctx.lang.read_in(vote.closes_at, ctx.zone, ctx.whose_zone, ctx.zone)
        if call.given(CLOSES)
        else ctx.lang.moment(vote.closes_at, ctx.zone)
    )
    return Reply(
        ctx.lang.n_(
            "Vote #{id} is open until {closes}, with {count} organisation to vote.",
            "Vote #{id} is open until {closes}, with {count} organisations to vote.",
            electorate,
            id=vote.id,
            closes=closes,
        )
    )


def _or(given: float | None, default: float) -> float:
    """A share that was given (0% included), else the default."""
    return default if given is None else given


async def _approval(ctx: Context, ref: VersionRef) -> dict[str, object]:
    """approve=3.2: passing the vote makes version 2 of deliverable 3 final (those very bytes)."""
    deliverable = await deliverables.find(ctx.session, ref.deliverable)
    if deliverable.group_id != ctx.require_group_id():
        raise Refused(
            "Deliverable {id} belongs to {name}; open its vote there.", id=deliverable.id, name=deliverable.group.name
        )
    version = await deliverables.version(ctx.session, deliverable, ref.version)
    if version.withdrawn_at is not None:
        raise Refused(
            "Version {number} of deliverable {id} was withdrawn; a vote cannot approve it. Put a version that "
            "stands to the vote.",
            number=version.number,
            id=deliverable.id,
        )
    return {
        "approve_version": {
            "deliverable": deliverable.id,
            "version": version.number,
            "sha256": version.sha256,
            "file": version.file_name,
            "title": deliverable.title,
        }
    }


async def vote_cast(ctx: Context, call: Call) -> Reply:
    """Cast or change your organisation's ballot (`for=`: another's, by its mandate)."""
    giver = call.get(FOR)
    by_mandate = None
    if giver is not None and giver.id != ctx.actor.organisation_id:
        by_mandate = await mandates.in_force_for(
            ctx.session, holder=ctx.actor, giver=giver, vote_id=call[VOTE], now=ctx.now
        )
    cast = await votes.cast_ballot(
        ctx.session, call[VOTE], call[OPTION], ctx.actor, ctx.now, choice_aliases(), by_mandate=by_mandate
    )
    ctx.changed.add(STANDING.of(cast.vote_id))
    if cast.overrode_mandate is not None:
        await _tell_overridden(ctx, cast)
    incoming = ctx.incoming
    # Said to the voter alone when discreet (their language), else where it was typed.
    lang = ctx.reader if cast.discreet else ctx.lang
    what = {"option": lang.choice(cast.option), "organisation": cast.organisation_name}
    if cast.mandate_id is not None:
        receipt = lang._(
            "Recorded: {option} for {organisation}, cast by {holder} under mandate #{mandate}",
            holder=ctx.actor.organisation_name,
            mandate=cast.mandate_id,
            **what,
        )
    elif cast.replaced:
        previous, by = cast.replaced
        receipt = lang._(
            "Recorded: {option} for {organisation} (replaces {previous} by {by})",
            previous=lang.choice(previous),
            by=by,
            **what,
        )
    elif cast.replaced_secretly:
        receipt = lang._("Recorded: {option} for {organisation} (replaces your organisation's earlier ballot)", **what)
    else:
        receipt = lang._("Recorded: {option} for {organisation}", **what)
    if cast.replaced and cast.replaced_person_id not in (None, ctx.actor.person_id) and cast.overrode_mandate is None:
        await _tell_replaced(ctx, cast)  # (a holder whose mandated ballot was overridden heard that above)
    if not cast.discreet or incoming.is_direct or incoming.answered_privately:
        return Reply(receipt, private=cast.discreet)
    # Typed in a room: the receipt goes to the voter alone, the command is taken down, and the
    # room learns only that a ballot came in.
    await notices.to_account(
        ctx.session, incoming.platform, incoming.sender_id, receipt, topic=votes.receipt_topic(cast.vote_id)
    )
    return Reply(
        ctx.lang._(
            "A ballot for vote #{id} was received; the receipt is in the voter's private chat with me.", id=cast.vote_id
        ),
        withdraw=True,
    )


async def _tell_replaced(ctx: Context, cast: votes.Cast) -> None:
    """Whoever cast the ballot that another representative's just replaced hears it privately,
    in their language: their organisation's vote is not what they last said."""
    assert cast.replaced is not None and cast.replaced_person_id is not None
    previous, default = cast.replaced[0], ctx.settings.alliance.language

    def told(zone: str | None, code: str | None) -> str:
        lang = language(code, default)
        return lang._(
            "Your ballot on vote #{id} ({option} for {organisation}) was replaced by {name}'s: {new}. "
            "The latest ballot counts; /vote {id} <option> changes it again.",
            id=cast.vote_id,
            option=lang.choice(previous),
            organisation=cast.organisation_name,
            name=ctx.actor.display_name,
            new=lang.choice(cast.option),
        )

    await notices.to_person(ctx.session, cast.replaced_person_id, told)


async def _tell_overridden(ctx: Context, cast: votes.Cast) -> None:
    """The giver voted itself: the holder of its mandate hears that its ballot for the giver no
    longer counts (never what the giver chose, in a secret vote or not)."""
    assert cast.overrode_mandate is not None
    holder = await mandates.holder_of(ctx.session, cast.overrode_mandate)

    def told(zone: str | None, code: str | None) -> str:
        lang = language(code, ctx.settings.alliance.language)
        return lang._(
            "{organisation} voted itself in vote #{id}: its own ballot counts, not the one you cast under "
            "mandate #{mandate}.",
            organisation=cast.organisation_name,
            id=cast.vote_id,
            mandate=cast.overrode_mandate,
        )

    await notices.to_representatives(ctx.session, holder, told)


async def vote_status(ctx: Context, call: Call) -> Reply:
    """Turnout, quorum so far, and the tally unless secret or hidden."""
    vote = await votes.find_vote(ctx.session, call[VOTE])
    outcome = await votes.outcome(ctx.session, vote)
    lang, about = ctx.lang, {"id": vote.id, "question": vote.question}
    match vote.status:
        case VoteStatus.OPEN:
            state = lang._(
                "Vote #{id}: {question} — open until {closes}", closes=lang.moment(vote.closes_at, ctx.zone), **about
            )
        case VoteStatus.CLOSED if vote.closed_at is not None:
            state = lang._(
                "Vote #{id}: {question} — closed {closed}", closed=lang.moment(vote.closed_at, ctx.zone), **about
            )
        case _:
            state = lang._("Vote #{id}: {question} — cancelled", **about)
    said = state + "\n" + describe_outcome(vote, outcome, final=vote.status == VoteStatus.CLOSED, lang=lang)
    if vote.status == VoteStatus.OPEN and not (vote.secret or vote.hidden) and outcome.by_mandate:
        which = await mandates.cast_by_mandate(ctx.session, vote.id)
        said += "\n" + lang._(
            "By mandate: {ballots}",
            ballots=", ".join(lang._("{giver} by {holder}", giver=g, holder=h) for g, h in which),
        )
    return Reply(said)


async def vote_list(ctx: Context, call: Call) -> Reply:
    """The recent votes of this group (all votes elsewhere)."""
    listed = await votes.list_votes(ctx.session, await ctx.group())
    lang = ctx.lang
    if not listed:
        return Reply(lang._("No votes yet."))
    lines = []
    for vote in listed:
        when = (
            lang.moment(vote.closes_at, ctx.zone)
            if vote.status == VoteStatus.OPEN
            else lang.say(state(vote.status.value, of="vote"))
        )
        lines.append(f"#{vote.id} {vote.question} — {when}")
    return Reply("\n".join(lines))


def _may_chase(ctx: Context, vote: Vote) -> None:
    """The vote's chairs and the secretariat, from any room or a private chat."""
    if not may(Access.CHAIR, ctx.actor, vote.group_id):
        if vote.group_id:
            raise Refused(
                "Who has not voted on #{id} is for the chairs of its group and the secretariat to see.", id=vote.id
            )
        raise Refused(
            "Who has not voted on #{id} is for the secretariat alone to see (it is alliance-wide).", id=vote.id
        )


async def vote_pending(ctx: Context, call: Call) -> Reply:
    """The member organisations that have not voted yet, with their representatives."""
    vote = await votes.find_vote(ctx.session, call[VOTE])
    _may_chase(ctx, vote)
    missing = await votes.waiting(ctx.session, vote)
    electorate = await votes.electorate_size(ctx.session, vote)
    lang = ctx.reader if ctx.binding is not None and ctx.binding.purpose == RoomPurpose.GROUP else ctx.lang
    if not missing:
        return Reply(
            lang.n_(
                "The {count} organisation has voted on #{id}.",
                "Every one of the {count} organisations has voted on #{id}.",
                electorate,
                id=vote.id,
            )
        )
    lines = [
        lang.n_(
            "{missing} of {count} organisation has not voted on #{id} ({question}):",
            "{missing} of {count} organisations have not voted on #{id} ({question}):",
            electorate,
            missing=len(missing),
            id=vote.id,
            question=vote.question,
        )
    ]
    mandated = await mandates.in_force_in(ctx.session, vote.id, ctx.now)
    for organisation in missing:
        who = ", ".join(r.name for r in organisation.representatives) or lang._("no representative known")
        held = mandated.get(organisation.organisation_id)
        if held is not None:  # its ballot may also come from the holder of its mandate
            who = lang._("{who}; or {holder} by mandate #{id}", who=who, holder=held.holder, id=held.id)
        about = {"organisation": organisation.organisation, "who": who}
        if organisation.reachable:
            lines.append(f"• {organisation.organisation} — {who}")
        elif organisation.waiting:
            lines.append(
                lang._(
                    "• {organisation} — {who} (has not opened a private chat with me on Telegram: a reminder "
                    "waits until they press Start there)",
                    **about,
                )
            )
        else:
            lines.append(lang._("• {organisation} — {who} (not on any chat: /vote remind cannot reach them)", **about))
    if vote.status == VoteStatus.OPEN:
        lines.append(lang._("/vote remind {id} reminds them privately now.", id=vote.id))
    if ctx.binding is not None and ctx.binding.purpose == RoomPurpose.GROUP:
        # Who has not voted is for the chairs: asked in a group's room, it goes to a private chat.
        return await ctx.privately(
            "\n".join(lines),
            Words(
                "I have sent the organisations that have not voted yet to you in a private chat. If it does not "
                "arrive, open a private chat with me and ask there."
            ),
        )
    return Reply("\n".join(lines))


async def vote_remind(ctx: Context, call: Call) -> Reply:
    """Remind the organisations that have not voted, privately, now (each once per 12 hours)."""
    vote = await votes.find_vote(ctx.session, call[VOTE])
    _may_chase(ctx, vote)
    done = await votes.chase(
        ctx.session,
        vote.id,
        actor=ctx.actor,
        now=ctx.now,
        wording=lambda v, zone, code: reminder(v, zone or ctx.zone, language(code, ctx.settings.alliance.language)),
    )
    lang = ctx.lang
    if not (done.reminded or done.held or done.recently or done.unreachable):
        return Reply(lang._("Every organisation has voted on #{id}; no one to remind.", id=vote.id))
    lines = []
    if done.reminded:
        lines.append(
            lang.n_(
                "Reminded {count} organisation privately, now: {organisations}.",
                "Reminded {count} organisations privately, now: {organisations}.",
                len(done.reminded),
                organisations=", ".join(done.reminded),
            )
        )
    if done.held:
        waiting = ", ".join(
            lang._("{organisation} ({names})", organisation=name, names=", ".join(names)) for name, names in done.held
        )
        lines.append(
            lang._(
                "Waiting for a private chat: {organisations}. Telegram lets me write to them only once they have "
                "opened a chat with me: I ask them in a room we share to press Start, and the reminder arrives then.",
                organisations=waiting,
            )
        )
    if done.recently:
        hours = int(votes.CHASE_EVERY.total_seconds() // 3600)
        reminded = ", ".join(
            lang._("{organisation} (reminded {when})", organisation=name, when=lang.moment(at, ctx.zone))
            for name, at in done.recently
        )
        lines.append(
            lang.n_(
                "Not reminded again within {count} hour: {organisations}.",
                "Not reminded again within {count} hours: {organisations}.",
                hours,
                organisations=reminded,
            )
        )
    if done.unreachable:
        lines.append(
            lang._(
                "Not reachable, no representative on any chat: {organisations}.",
                organisations=", ".join(done.unreachable),
            )
        )
    return Reply("\n".join(lines))


def _may_end(ctx: Context, vote: Vote) -> None:
    if not (ctx.actor.is_secretariat or (ctx.actor.person_id and ctx.actor.person_id == vote.opener_person_id)):
        raise Refused("Only whoever opened vote #{id}, or the secretariat, may end it early.", id=vote.id)


async def vote_close(ctx: Context, call: Call) -> Reply:
    """Close a vote now and announce its result."""
    _may_end(ctx, await votes.find_vote(ctx.session, call[VOTE]))
    closed = await votes.close_vote(ctx.session, call[VOTE], by=ctx.actor.label, now=ctx.now, say=ctx.say)
    if closed is None:
        raise Refused("Vote #{id} is not open.", id=call[VOTE])
    vote, outcome = closed
    ctx.changed.update({DEADLINES.of(vote.id), STANDING.of(vote.id)})
    await announce_result(ctx.session, vote, outcome, ctx.settings.alliance.language)
    return Reply(ctx.lang._("Vote #{id} is closed; the result is posted in its rooms.", id=vote.id))


async def vote_cancel(ctx: Context, call: Call) -> Reply:
    """Cancel a vote: no result is drawn."""
    vote = await votes.find_vote(ctx.session, call[VOTE])
    _may_end(ctx, vote)
    await votes.cancel_vote(ctx.session, vote.id, actor=ctx.actor, now=ctx.now)
    ctx.changed.add(DEADLINES.of(vote.id))
    await votes.announce_to_group(
        ctx.session,
        vote,
        ctx.worded(lambda lang: lang._("Vote #{id} is cancelled: {question}", id=vote.id, question=vote.question)),
    )
    return Reply(ctx.lang._("Vote #{id} is cancelled.", id=vote.id))


COMMANDS = [
    Command(
        "vote open",
        "open a vote in this group",
        vote_open,
        Access.CHAIR,
        params=(QUESTION,),
        options=(OPTIONS, APPROVE, CLOSES, QUORUM, MAJORITY),
        flags=("secret", "hidden"),
        details=N_("Alliance-wide votes are opened by the secretariat in the plenary room."),
    ),
    Command(
        "vote status", "turnout, quorum and tally of a vote", vote_status, Access.MEMBER, params=(VOTE,), anywhere=True
    ),
    Command("vote list", "the recent votes", vote_list, Access.MEMBER, anywhere=True),
    Command(
        "vote pending",
        "who has not voted yet (chairs, secretariat)",
        vote_pending,
        Access.MEMBER,
        params=(VOTE,),
        anywhere=True,
    ),
    Command(
        "vote remind",
        "remind those who have not voted, privately (chairs, secretariat)",
        vote_remind,
        Access.MEMBER,
        params=(VOTE,),
        anywhere=True,
    ),
    Command("vote close", "close a vote early", vote_close, Access.MEMBER, params=(VOTE,), anywhere=True),
    Command("vote cancel", "cancel a vote", vote_cancel, Access.MEMBER, params=(VOTE,), anywhere=True),
    Command(
        "vote",
        "cast or change your organisation's vote",
        vote_cast,
        Access.MEMBER,
        params=(VOTE, OPTION),
        options=(FOR,),
        anywhere=True,
        details=N_("for=<organisation> casts the ballot of an organisation whose mandate yours holds (/mandate)."),
    ),
]
