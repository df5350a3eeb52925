"""How a vote is told to its rooms: its opening, with buttons, and its result, each room in its
group's language and each reader in theirs."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Context
from bot.i18n import Language, worded_in
from storage import votes
from storage.models import Vote
from storage.rules.text import N_, from_record
from storage.rules.voting import Outcome

TOPIC = "vote"  # a vote's posted messages are kept up to date under "vote:<id>" (handlers/votes/live.py)
ENGLISH = Language()
# How a vote's rules are told, by the kind of ballot.
RULES = {
    "secret": N_(
        "Options: {options}. One vote per member organisation ({count} in the electorate); "
        "secret ballot; quorum {quorum}, {majority}."
    ),
    "hidden": N_(
        "Options: {options}. One vote per member organisation ({count} in the electorate); "
        "results hidden until close; quorum {quorum}, {majority}."
    ),
    "open": N_(
        "Options: {options}. One vote per member organisation ({count} in the electorate); quorum {quorum}, {majority}."
    ),
}
MAJORITIES = {
    "simple": N_("simple majority"),
    "absolute": N_("absolute majority"),
    "two-thirds": N_("two-thirds majority"),
    "unanimous": N_("unanimous majority"),
}


def reminder(vote: Vote, zone: str, lang: Language = ENGLISH) -> str:
    """The private reminder to an organisation that has not voted (before the deadline, or by hand)."""
    return lang._(
        "Reminder: vote #{id} ({question}) closes {closes} and your organisation has not voted yet. "
        "Options: {options}. Send /vote {id} <option>.",
        id=vote.id,
        question=vote.question,
        closes=lang.moment(vote.closes_at, zone),
        options=_options(vote, lang),
    )


def extended_reminder(vote: Vote, zone: str, lang: Language = ENGLISH) -> str:
    """The private reminder to an organisation that has not voted, when the vote was extended."""
    return lang._(
        "Vote #{id} ({question}) did not reach its quorum, so it is extended until {closes}. "
        "Your organisation has not voted yet: /vote {id} <option>.",
        id=vote.id,
        question=vote.question,
        closes=lang.moment(vote.closes_at, zone),
    )


def extension(vote: Vote, outcome: Outcome, zone: str, lang: Language = ENGLISH) -> str:
    """What the vote's rooms are told when its deadline passed without a quorum."""
    return lang.n_(
        "Vote #{id} ({question}) reached only {turnout} of the {count} organisation its quorum needs, so it is "
        "extended once, until {closes}.",
        "Vote #{id} ({question}) reached only {turnout} of the {count} organisations its quorum needs, so it is "
        "extended once, until {closes}.",
        outcome.quorum_needed,
        id=vote.id,
        question=vote.question,
        turnout=outcome.turnout,
        closes=lang.moment(vote.closes_at, zone),
    )


def _options(vote: Vote, lang: Language) -> str:
    return ", ".join(lang.choice(option) for option in vote.options)


def _buttons(vote: Vote, lang: Language) -> list[list[str]]:
    """A button per option, labelled in the room's language; what it sends is the option itself."""
    return [[lang.choice(option), f"/vote {vote.id} {option}"] for option in vote.options]


async def announce_opening(ctx: Context, vote: Vote, proposed_by: Callable[[Language], str] | None = None) -> int:
    """Post a new vote, with its buttons, in every room it concerns; returns the electorate's size.
    `proposed_by` words who proposed it, when that is for the rooms to know."""
    electorate = await votes.electorate_size(ctx.session, vote)
    group = ctx.binding.group_name if vote.group_id and ctx.binding and ctx.binding.group_name else None
    zone = ctx.settings.alliance.timezone

    def text(lang: Language) -> str:
        lines = [
            lang._("Vote #{id} ({where}): {question}", id=vote.id, where=group, question=vote.question)
            if group
            else lang._("Vote #{id} (the whole alliance): {question}", id=vote.id, question=vote.question)
        ]
        if proposed_by is not None:
            lines.append(proposed_by(lang))
        approving = (vote.action or {}).get("approve_version")
        if approving:
            lines.append(
                lang._(
                    "If adopted, version {version} of deliverable {deliverable} ({title}: {file}, sha256 {sha256}) "
                    "becomes final.",
                    **approving,
                )
            )
        rules = {
            "options": _options(vote, lang),
            "quorum": lang.percent(vote.quorum),
            "majority": lang._(MAJORITIES[vote.majority]),
        }
        kind = "secret" if vote.secret else "hidden" if vote.hidden else "open"
        lines.append(lang._(RULES[kind], count=electorate, **rules))
        closes = lang.moment(vote.closes_at, zone)
        if vote.secret or vote.hidden:
            lines.append(
                lang._(
                    "Closes {closes}. Vote with the buttons (only you see your receipt) or send /vote {id} <option> "
                    "to me in a private chat; a ballot typed here is taken down. You may change your vote until then.",
                    closes=closes,
                    id=vote.id,
                )
            )
        else:
            lines.append(
                lang._(
                    "Closes {closes}. Vote with the buttons or /vote {id} <option>. "
                    "You may change your vote until then.",
                    closes=closes,
                    id=vote.id,
                )
            )
        return "\n".join(lines)

    await votes.announce_to_group(
        ctx.session,
        vote,
        ctx.worded(text),
        buttons=ctx.worded(lambda lang: _buttons(vote, lang)),
        topic=f"{TOPIC}:{vote.id}",  # edited as ballots come in
    )
    return electorate


def describe_outcome(vote: Vote, outcome: Outcome, *, final: bool, lang: Language = ENGLISH) -> str:
    counts = {"turnout": outcome.turnout, "needed": outcome.quorum_needed}
    lines = [
        lang.n_(
            "Turnout: {turnout} of {count} organisation (quorum {needed}: met).",
            "Turnout: {turnout} of {count} organisations (quorum {needed}: met).",
            outcome.electorate,
            **counts,
        )
        if outcome.quorum_met
        else lang.n_(
            "Turnout: {turnout} of {count} organisation (quorum {needed}: not met).",
            "Turnout: {turnout} of {count} organisations (quorum {needed}: not met).",
            outcome.electorate,
            **counts,
        )
    ]
    if outcome.by_mandate:
        lines.append(by_mandate_line(outcome.by_mandate, outcome.turnout, lang))
    if final or not vote.hidden:
        lines.append(lang._("Tally: {tally}", tally=tally_line(outcome.tally, lang)))
    if final:
        lines.append(lang._("Outcome: {verdict}.", verdict=verdict(vote, outcome, lang)))
        done = consequence(vote, lang)
        if done:
            lines.append(lang._("As decided: {action}.", action=done))
    return "\n".join(lines)


def by_mandate_line(by_mandate: int, turnout: int, lang: Language = ENGLISH) -> str:
    """How many of the ballots another organisation cast by mandate (never which, in a secret vote)."""
    return lang.n_(
        "{count} of the {turnout} ballots was cast by mandate.",
        "{count} of the {turnout} ballots were cast by mandate.",
        by_mandate,
        turnout=turnout,
    )


def consequence(vote: Vote, lang: Language = ENGLISH) -> str:
    """What the vote's action did ("created working group chips-act"), in the reader's language;
    "" when it had none. A result kept before its words were kept is shown as recorded."""
    result = vote.result or {}
    if "action_words" in result:
        return lang.say(from_record(result["action_words"]))
    return str(result.get("action", ""))


def verdict(vote: Vote, outcome: Outcome, lang: Language = ENGLISH) -> str:
    """What the vote decided, in words that say why: a motion is ADOPTED, REJECTED (another
    option won), or NOT ADOPTED (no quorum, or no option had the majority the vote required).
    The tally is not repeated here: wherever a verdict is shown, the tally is shown beside it."""
    motion = "yes" in vote.options
    if not outcome.quorum_met:
        return lang._("NOT ADOPTED — quorum not met") if motion else lang._("NO CHOICE — quorum not met")
    if outcome.winner is None:
        majority = lang._(MAJORITIES[vote.majority])
        if motion:
            return lang._("NOT ADOPTED — no {majority}", majority=majority)
        return lang._("NO CHOICE — no {majority}", majority=majority)
    if not motion:
        return lang._("CHOSEN: {option}", option=lang.choice(outcome.winner))
    if outcome.passed:
        return lang._("ADOPTED")
    return lang._("REJECTED — {option} won", option=lang.choice(outcome.winner))


def tally_line(tally: dict[str, int], lang: Language = ENGLISH) -> str:
    """ "yes 3 · no 1 · abstain 0", in the order given."""
    return " · ".join(f"{lang.choice(option)} {count}" for option, count in tally.items())


async def announce_result(session: AsyncSession, vote: Vote, outcome: Outcome, default_language: str) -> None:
    def text(lang: Language) -> str:
        heading = lang._("Vote #{id} is closed: {question}", id=vote.id, question=vote.question)
        return heading + "\n" + describe_outcome(vote, outcome, final=True, lang=lang)

    await votes.announce_to_group(session, vote, worded_in(text, default_language))
