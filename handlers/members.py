"""/member: the secretariat manages representatives, chairs and organisations' standing; at the
shell, `wgbot org add|list` and `wgbot import members`."""

from __future__ import annotations

from argparse import Namespace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import arguments
from bot.areas import Area
from bot.commands import Call, Command, Handler, Param, at_most
from bot.config import Settings
from bot.context import Context
from bot.i18n import language
from bot.shell import Declined, admin, database, operator
from bot.transports.base import Reply
from handlers import arguments as records
from storage import groups, identity, imports, membership, notices, organisations, people
from storage.errors import Refused
from storage.models import Organisation, OrganisationStatus, Person, RoleName
from storage.rules.access import Access
from storage.rules.text import N_, Words, state

SOME_ORGANISATION = Param("organisation", records.organisation, required=False, rest=True)
ORGANISATION = Param("organisation", records.organisation)
WHOLE_ORGANISATION = Param("organisation", records.organisation, rest=True)
NAME = Param("name", at_most(200), rest=True)
PERSON = Param("person", records.person, rest=True)
GROUP = Param("group", records.group)
REASON = Param("reason", at_most(500), rest=True)
APPLICATION = Param("application", arguments.number)
SAME_NAME_OK = "same-name-ok"


async def member_list(ctx: Context, call: Call) -> Reply:
    """List the organisations with their standing and representatives."""
    listed = await organisations.list_organisations(ctx.session)
    wanted = call.get(SOME_ORGANISATION)
    if wanted is not None:
        listed = [o for o in listed if o.id == wanted.id]
    if not listed:
        return Reply(ctx.lang._("No organisations yet."))
    everyone = await people.list_people(ctx.session)
    lines = []
    for org in listed:
        reps = [p for p in everyone if p.organisation_id == org.id]
        joined = ", ".join(p.group.slug for p in org.participations) or ctx.lang._("no group")
        names = ", ".join(f"{p.name} (#{p.id})" for p in reps) or ctx.lang._("no representative")
        lines.append(
            ctx.lang._(
                "#{id} {name} ({country}, {kind}) — {status}; {groups}; {representatives}",
                id=org.id,
                name=org.name,
                country=org.country,
                kind=ctx.lang.say(organisations.kind_words(org.kind)),
                status=ctx.lang.say(state(org.status.value, of="organisation")),
                groups=joined,
                representatives=names,
            )
        )
    return Reply("\n".join(lines))


async def member_add(ctx: Context, call: Call) -> Reply:
    """Add a representative; they link their chat account with the code given. Asked again for
    the same person, it adds no one and says so (with a new code if they have not linked yet)."""
    organisation = call[ORGANISATION]
    lang = ctx.reader
    try:
        person = await people.add_person(
            ctx.session,
            actor=ctx.actor.label,
            name=call[NAME],
            organisation=organisation,
            same_name_ok=SAME_NAME_OK in call.flags,
        )
    except people.SameName as same:
        return await _already_added(ctx, same.existing, organisation)
    code = await identity.issue_code(ctx.session, person, ctx.now, identity.WELCOME_CODE_LIFETIME)
    who = {"name": person.name, "id": person.id, "organisation": organisation.name}
    added = lang._("Added {name} (#{id}) for {organisation}.", **who)
    if organisation.status != OrganisationStatus.MEMBER:
        added += " " + lang._(
            "{organisation} is {status}, so {name} has no voting rights.",
            status=lang.say(state(organisation.status.value, of="organisation")),
            **who,
        )
    return await ctx.privately(
        added
        + " "
        + lang._(
            "Give them this code, and to no one else: they send /link {code} to me from their chat account "
            "within 7 days.",
            code=code.code,
        ),
        Words(
            "I have sent {name}'s link code to you in a private chat. If it does not arrive, open a private chat "
            "with me and ask there.",
            {"name": person.name},
        ),
    )


async def _already_added(ctx: Context, person: Person, organisation: Organisation) -> Reply:
    """/member add for someone who is already there: nothing is added. Until they have linked a
    chat account, a new code is what the secretariat came for."""
    lang, who = ctx.reader, {"name": person.name, "id": person.id, "organisation": organisation.name}
    already = lang._(
        "{name} (#{id}) already represents {organisation}: no one was added. If this is another person of the "
        "same name: /member add … same-name-ok.",
        **who,
    )
    if await people.has_accounts(ctx.session, person.id):
        return Reply(already + " " + lang._("They have linked a chat account already (/member list shows it)."))
    code = await identity.issue_code(ctx.session, person, ctx.now, identity.WELCOME_CODE_LIFETIME)
    return await ctx.privately(
        already
        + " "
        + lang._(
            "They have not linked a chat account yet; here is a new code for them: /link {code}, within 7 days.",
            code=code.code,
        ),
        Words(
            "I have sent {name}'s link code to you in a private chat. If it does not arrive, open a private chat "
            "with me and ask there.",
            {"name": person.name},
        ),
    )


async def member_confirm(ctx: Context, call: Call) -> Reply:
    """Add an applicant as representative of the existing organisation their application names."""
    application, organisation = await membership.confirm_representative(
        ctx.session, call[APPLICATION], ctx.actor, ctx.now, say=ctx.say
    )
    return Reply(
        ctx.lang._(
            "{name} now represents {organisation}, whose standing stays {status}; application #{id} is settled "
            "and the applicant is told.",
            name=application.contact_name,
            organisation=organisation.name,
            status=ctx.lang.say(state(organisation.status.value, of="organisation")),
            id=application.id,
        )
    )


async def member_remove(ctx: Context, call: Call) -> Reply:
    """A person stops representing their organisation."""
    person = call[PERSON]
    organisation = await people.stop_representing(ctx.session, actor=ctx.actor.label, person=person)
    return Reply(
        ctx.lang._("{name} no longer represents {organisation}.", name=person.name, organisation=organisation.name)
    )


async def member_chair(ctx: Context, call: Call) -> Reply:
    """Name a representative chair of a working group."""
    group = call[GROUP]
    person = call[PERSON]
    if person.organisation is None or person.organisation.status != OrganisationStatus.MEMBER:
        raise Refused("A chair represents a member organisation; {name} does not.", name=person.name)
    await people.assign_role(ctx.session, actor=ctx.actor.label, person=person, role=RoleName.CHAIR, group=group)
    chair = {"name": person.name, "organisation": person.organisation.name, "group": group.name}
    await notices.to_group(
        ctx.session, group.id, ctx.worded(lambda lang: lang._("{name} ({organisation}) now chairs {group}.", **chair))
    )
    return Reply(ctx.lang._("{name} chairs {group}.", name=person.name, group=group.name))


async def member_unchair(ctx: Context, call: Call) -> Reply:
    """End a chair's role in a working group."""
    group = call[GROUP]
    person = call[PERSON]
    await people.unassign_role(ctx.session, actor=ctx.actor.label, person=person, role=RoleName.CHAIR, group=group)
    return Reply(ctx.lang._("{name} no longer chairs {group}.", name=person.name, group=group.name))


async def member_suspend(ctx: Context, call: Call) -> Reply:
    """Suspend an organisation: it keeps its records but loses its vote."""
    organisation = call[ORGANISATION]
    if organisation.status != OrganisationStatus.MEMBER:
        raise Refused(
            "Only a member can be suspended; {organisation} is {status}.",
            organisation=organisation.name,
            status=ctx.lang.say(state(organisation.status.value, of="organisation")),
        )
    await organisations.set_status(
        ctx.session,
        actor=ctx.actor.label,
        organisation=organisation,
        status=OrganisationStatus.SUSPENDED,
        reason=call[REASON],
    )
    reason, default = call[REASON], ctx.settings.alliance.language
    await notices.to_representatives(
        ctx.session,
        organisation.id,
        lambda zone, code: language(code, default)._(
            "{organisation}'s membership is suspended: {reason}. It cannot vote until reinstated.",
            organisation=organisation.name,
            reason=reason,
        ),
    )
    return Reply(
        ctx.lang._("{organisation} is suspended; its representatives are told.", organisation=organisation.name)
    )


async def member_reinstate(ctx: Context, call: Call) -> Reply:
    """Reinstate a suspended organisation."""
    organisation = call[WHOLE_ORGANISATION]
    if organisation.status != OrganisationStatus.SUSPENDED:
        raise Refused("{organisation} is not suspended.", organisation=organisation.name)
    await organisations.set_status(
        ctx.session, actor=ctx.actor.label, organisation=organisation, status=OrganisationStatus.MEMBER
    )
    default = ctx.settings.alliance.language
    await notices.to_representatives(
        ctx.session,
        organisation.id,
        lambda zone, code: language(code, default)._(
            "{organisation} is reinstated as a member.", organisation=organisation.name
        ),
    )
    return Reply(ctx.lang._("{organisation} is a member again.", organisation=organisation.name))


async def org_add(session: AsyncSession, actor: str, args: Namespace) -> None:
    organisation = await organisations.add_organisation(
        session,
        actor=actor,
        name=args.name,
        country=args.country,
        kind=organisations.organisation_kind(args.kind),
        status=OrganisationStatus(args.status),
        look_alike_ok=args.look_alike_ok,
    )
    for ref in args.group:
        group = await groups.find_group(session, ref)
        await organisations.join_group(
            session, actor=actor, organisation=organisation, group_id=group.id, group_slug=group.slug
        )
    print(f"added organisation #{organisation.id} {organisation.name}")


async def org_list(session: AsyncSession, actor: str, args: Namespace) -> None:
    for org in await organisations.list_organisations(session):
        joined = ", ".join(p.group.slug for p in org.participations) or "-"
        print(f"#{org.id}\t{org.name}\t{org.country}\t{org.kind.value}\t{org.status.value}\t{joined}")


async def import_members(settings: Settings, args: Namespace) -> int:
    """Organisations and representatives from a spreadsheet (CSV or .xlsx), each row in its own transaction."""
    if not args.file.is_file():
        raise Declined(f"no file at {args.file}")
    async with database(settings) as db:
        report = await imports.import_members(db, args.file, f"{operator()} import")
    for heading, lines in (
        ("note", report.notes),
        ("created", report.created),
        ("skipped", report.skipped),
        ("rejected", report.rejected),
    ):
        for line in lines:
            print(f"{heading}\t{line}")
    print(report.summary())
    return 1 if report.rejected else 0


def _secretariat(path: str, summary: str, handler: Handler, *params: Param[Any]) -> Command:
    return Command(path, summary, handler, Access.SECRETARIAT, params=params, anywhere=True)


COMMANDS = [
    _secretariat(
        "member list",
        N_("organisations, their standing and representatives"),
        member_list,
        SOME_ORGANISATION,
    ),
    Command(
        "member add",
        N_("add a representative (they get a link code)"),
        member_add,
        Access.SECRETARIAT,
        params=(ORGANISATION, NAME),
        flags=(SAME_NAME_OK,),
        anywhere=True,
        details=N_(
            'e.g. /member add "Fab Nord AS" Ingrid Holm. Asked again for the same person, it adds no one and sends '
            "a new link code if they have not linked yet; same-name-ok (before the name) adds another person of "
            "the same name."
        ),
    ),
    _secretariat(
        "member confirm",
        N_("make an applicant the representative of the existing organisation they applied for"),
        member_confirm,
        APPLICATION,
    ),
    _secretariat("member remove", N_("a person stops representing their organisation"), member_remove, PERSON),
    _secretariat("member chair", N_("name a chair of a working group"), member_chair, GROUP, PERSON),
    _secretariat("member unchair", N_("end a chair's role"), member_unchair, GROUP, PERSON),
    _secretariat(
        "member suspend",
        N_("suspend an organisation, with the reason"),
        member_suspend,
        ORGANISATION,
        REASON,
    ),
    _secretariat("member reinstate", N_("reinstate a suspended organisation"), member_reinstate, WHOLE_ORGANISATION),
]

AREA = Area(
    "members",
    COMMANDS,
    title=N_("Members"),
    topics={"member": N_("the member organisations and their representatives")},
    shell={"org_add": admin(org_add), "org_list": admin(org_list), "import_members": import_members},
)
