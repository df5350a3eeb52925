"""/mandate: a member organisation whose representatives cannot vote lets another member cast
its ballot, for one vote or until a date (the rules: storage/rules/mandates.py; kept by
storage/mandates.py). Both organisations' representatives are told privately, each in their
language; the holder casts with `/vote <id> <option> for=<organisation>`."""

from __future__ import annotations

import logging
from collections.abc import Collection

from bot import arguments
from bot.areas import Services
from bot.changes import Changes
from bot.commands import Call, Command, Option, Param
from bot.context import Context
from bot.i18n import Language, language
from bot.scheduler import Job
from bot.transports.base import Reply
from handlers import arguments as records
from storage import mandates, notices, votes
from storage.db import Database
from storage.errors import Refused
from storage.models import ButtonPairs, Mandate, Organisation, utcnow
from storage.rules.access import Access
from storage.rules.text import N_

log = logging.getLogger(__name__)
MANDATES = Changes("mandates")  # a mandate given or revoked: its date is (re)planned
HOLDER = Param("organisation", records.organisation, rest=True)
FOR_VOTE = Option("vote", "<id>", arguments.number)
UNTIL = Option("until", "<date>", arguments.moment)
MANDATE = Param("id", arguments.number)


async def mandate_give(ctx: Context, call: Call) -> Reply:
    """Let another member organisation cast your organisation's ballot."""
    if not ctx.incoming.is_direct:
        raise Refused("Give a mandate in a private chat with me.")
    vote_id, until = call.get(FOR_VOTE), call.get(UNTIL)
    if (vote_id is None) == (until is None):
        raise Refused("Say which vote (vote=<id>) or until when (until=<date>) the mandate is for, one of the two.")
    holder: Organisation = call[HOLDER]
    mandate = await mandates.give(
        ctx.session,
        actor=ctx.actor,
        holder=holder,
        now=ctx.now,
        limit=ctx.settings.votes.max_mandates_per_organisation,
        vote_id=vote_id,
        until=until,
    )
    giver = ctx.actor.organisation_name or ""

    def scope(lang: Language, zone: str | None) -> str:
        if mandate.vote_id is not None:
            return lang._("vote #{id}", id=mandate.vote_id)
        assert mandate.until is not None
        return lang._(
            "every vote you share until {until}",
            until=lang.moment(mandate.until, zone or ctx.settings.alliance.timezone),
        )

    def to_holder(zone: str | None, code: str | None) -> str:
        lang = language(code, ctx.settings.alliance.language)
        return lang._(
            "{giver} gave {holder} a mandate (#{id}) to cast its ballot in {scope}: "
            "/vote <id> <option> for={giver_id} casts it.",
            giver=giver,
            holder=holder.name,
            id=mandate.id,
            scope=scope(lang, zone),
            giver_id=f"#{mandate.giver_id}",
        )

    def to_colleagues(zone: str | None, code: str | None) -> str:
        lang = language(code, ctx.settings.alliance.language)
        return lang._(
            "{name} gave {holder} a mandate (#{id}) to cast {giver}'s ballot in {scope}; "
            "a ballot you cast yourselves still counts instead. /mandate revoke {id} ends it.",
            name=ctx.actor.display_name,
            holder=holder.name,
            giver=giver,
            id=mandate.id,
            scope=scope(lang, zone),
        )

    ctx.changed.add(MANDATES.of(mandate.id))
    await notices.to_representatives(ctx.session, holder.id, to_holder)
    await _to_colleagues(ctx, mandate.giver_id, to_colleagues)
    for held in await mandates.open_votes_of(ctx.session, mandate, ctx.now):
        await prompt_holder(ctx, held)
    return Reply(
        ctx.lang._(
            "Mandate #{id}: {holder} may cast {giver}'s ballot in {scope}. /mandate revoke {id} ends it.",
            id=mandate.id,
            holder=holder.name,
            giver=giver,
            scope=scope(ctx.lang, ctx.zone),
        )
    )


async def prompt_holder(ctx: Context, held: mandates.InForce) -> None:
    """The holder's representatives get, privately, the giver's ballot to cast in an open vote:
    its options as buttons (on Telegram a keyboard, on Matrix reactions), each pressing
    `/vote <id> <option> for=#<giver>`."""
    vote = await votes.find_vote(ctx.session, held.vote_id)
    default = ctx.settings.alliance.language

    def text(zone: str | None, code: str | None) -> str:
        lang = language(code, default)
        return lang._(
            "Vote #{id} ({question}) is open until {closes}. You hold {giver}'s mandate #{mandate}: its ballot, "
            "cast by your organisation, is one of these (or /vote {id} <option> for=#{giver_id}).",
            id=vote.id,
            question=vote.question,
            closes=lang.moment(vote.closes_at, zone or ctx.settings.alliance.timezone),
            giver=held.giver,
            mandate=held.id,
            giver_id=held.giver_id,
        )

    def buttons(code: str | None) -> ButtonPairs:
        lang = language(code, default)
        return [[lang.choice(option), f"/vote {vote.id} {option} for=#{held.giver_id}"] for option in vote.options]

    await notices.to_representatives(ctx.session, held.holder_id, text, buttons=buttons)


async def prompt_every_holder(ctx: Context, vote_id: int) -> None:
    """A vote just opened: the holders of the mandates in force in it are prompted."""
    for held in (await mandates.in_force_in(ctx.session, vote_id, ctx.now)).values():
        await prompt_holder(ctx, held)


async def _to_colleagues(ctx: Context, organisation_id: int, text: notices.ForReader) -> None:
    """The organisation's other representatives: the one who acted knows already."""
    await notices.to_representatives(ctx.session, organisation_id, text, but=ctx.actor.person_id)


async def mandate_list(ctx: Context, call: Call) -> Reply:
    """The mandates in force your organisation gave or holds (`all`: every one, for the secretariat)."""
    everyone = "all" in call.flags
    if everyone and not ctx.actor.is_secretariat:
        raise Refused("Only the secretariat sees every mandate.")
    if not everyone and ctx.actor.organisation_id is None:
        raise Refused("You do not represent an organisation.")
    found = await mandates.of_organisation(ctx.session, None if everyone else ctx.actor.organisation_id, ctx.now)
    if not found:
        return Reply(ctx.lang._("No mandate is in force."))
    names = await mandates.names_of(ctx.session, found)
    return Reply("\n".join(_line(ctx, m, names) for m in found))


def _line(ctx: Context, mandate: Mandate, names: dict[int, str]) -> str:
    lang = ctx.lang
    what = {"id": mandate.id, "giver": names[mandate.giver_id], "holder": names[mandate.holder_id]}
    if mandate.vote_id is not None:
        return lang._("#{id} {holder} casts {giver}'s ballot in vote #{vote}", vote=mandate.vote_id, **what)
    assert mandate.until is not None
    return lang._(
        "#{id} {holder} casts {giver}'s ballot until {until}", until=lang.moment(mandate.until, ctx.zone), **what
    )


async def mandate_revoke(ctx: Context, call: Call) -> Reply:
    """End a mandate your organisation gave or holds."""
    mandate = await mandates.revoke(ctx.session, actor=ctx.actor, mandate_id=call[MANDATE], now=ctx.now)
    names = await mandates.names_of(ctx.session, [mandate])

    def told(zone: str | None, code: str | None) -> str:
        lang = language(code, ctx.settings.alliance.language)
        return lang._(
            "Mandate #{id} ({holder} casting {giver}'s ballot) was revoked by {name}.",
            id=mandate.id,
            holder=names[mandate.holder_id],
            giver=names[mandate.giver_id],
            name=ctx.actor.display_name,
        )

    ctx.changed.add(MANDATES.of(mandate.id))
    for organisation_id in (mandate.giver_id, mandate.holder_id):
        await _to_colleagues(ctx, organisation_id, told)
    return Reply(ctx.lang._("Mandate #{id} is revoked.", id=mandate.id))


class MandateDates:
    """A mandate given until a date ends at that date: audited then, and both organisations'
    representatives told (a mandate is also found ended when next looked at, should the bot
    have been down at its date)."""

    changes = MANDATES

    def __init__(self, db: Database, language: str) -> None:
        self.db = db
        self.language = language  # the alliance's, for readers who chose none

    async def plan(self, keys: Collection[int] | None = None) -> list[Job]:
        async with self.db.transaction() as session:
            dated = await mandates.dated(session, keys)
        return [Job(f"mandate:end:{m.id}", m.until, self.end, (), m.id) for m in dated if m.until is not None]

    async def end(self) -> bool:
        async with self.db.transaction() as session:
            ended = await mandates.end_expired(session, utcnow())
            names = await mandates.names_of(session, ended)
            for mandate in ended:

                def told(zone: str | None, code: str | None, mandate: Mandate = mandate) -> str:
                    return language(code, self.language)._(
                        "Mandate #{id} ({holder} casting {giver}'s ballot) ended at its date.",
                        id=mandate.id,
                        holder=names[mandate.holder_id],
                        giver=names[mandate.giver_id],
                    )

                for organisation_id in (mandate.giver_id, mandate.holder_id):
                    await notices.to_representatives(session, organisation_id, told)
        if ended:
            log.info("mandates %s ended at their dates", ", ".join(f"#{m.id}" for m in ended))
        return bool(ended)


def mandate_dates(services: Services) -> MandateDates:
    return MandateDates(services.db, services.settings.alliance.language)


COMMANDS = [
    Command(
        "mandate give",
        "let another member organisation cast your ballot",
        mandate_give,
        Access.MEMBER,
        params=(HOLDER,),
        options=(FOR_VOTE, UNTIL),
        anywhere=True,
        details=N_(
            "For one vote (vote=<id>) or for every vote you share until a date (until=<date>). A ballot your "
            "organisation casts itself always counts instead."
        ),
    ),
    Command(
        "mandate list",
        "the mandates your organisation gave or holds",
        mandate_list,
        Access.MEMBER,
        flags=("all",),
        anywhere=True,
    ),
    Command("mandate revoke", "end a mandate", mandate_revoke, Access.MEMBER, params=(MANDATE,), anywhere=True),
]
