"""/wg: the alliance's working groups."""

from __future__ import annotations

from argparse import Namespace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import arguments
from bot.areas import Area
from bot.commands import Call, Command, Param, at_most
from bot.context import Context
from bot.i18n import LANGUAGES, Language
from bot.shell import admin
from bot.transports.base import Reply
from handlers import arguments as records
from handlers.limits import count_broadcast
from handlers.votes.deadlines import DEADLINES
from handlers.votes.wording import announce_opening
from storage import groups, votes
from storage.rules.access import Access
from storage.rules.text import N_, counted
from storage.rules.voting import DEFAULT_OPTIONS, Majority

GROUP = Param("group", records.group, rest=True)
NAME = Param("name", at_most(100))
MANDATE = Param("mandate", at_most(1000), rest=True)
LANGUAGE = Param("code", arguments.language)


async def wg_list(ctx: Context, call: Call) -> Reply:
    """List every working group with its members and chairs."""
    all_groups = await groups.list_groups(ctx.session)
    lang = ctx.lang
    if not all_groups:
        return Reply(lang._("There are no working groups yet."))
    counts = await groups.member_counts(ctx.session)
    chairs = await groups.chairs_by_group(ctx.session)
    lines = [lang.n_("{count} working group:", "{count} working groups:", len(all_groups))]
    for group in all_groups:
        members = counts.get(group.id, 0)
        chaired = ", ".join(chairs.get(group.id, [])) or lang._("no chair yet")
        lines.append(
            lang.n_(
                "• {name} ({slug}) — {count} member organisation, chair: {chairs}",
                "• {name} ({slug}) — {count} member organisations, chair: {chairs}",
                members,
                name=group.name,
                slug=group.slug,
                chairs=chaired,
            )
        )
    lines.append(lang._("/wg info <group> for details."))
    return Reply("\n".join(lines))


async def wg_info(ctx: Context, call: Call) -> Reply:
    """Show one group's mandate, chairs, member organisations and rooms."""
    group = call[GROUP]
    view = await groups.overview(ctx.session, group)
    lang = ctx.lang
    none = lang._("none yet")
    lines = [f"{group.name} ({group.slug})"]
    if group.mandate:
        lines.append(lang._("Mandate: {mandate}", mandate=group.mandate))
    lines.append(lang._("Chair: {chairs}", chairs=", ".join(view.chairs) or none))
    lines.append(
        lang._(
            "Member organisations ({count}): {members}",
            count=len(view.members),
            members=", ".join(view.members) or none,
        )
    )
    lines.append(lang._("Rooms: {count}", count=len(view.rooms)))
    return Reply("\n".join(lines))


async def wg_propose(ctx: Context, call: Call) -> Reply:
    """Propose a new working group: an alliance-wide vote decides."""
    name = " ".join(call[NAME].split())
    await groups.check_new_group(ctx.session, name)
    settings = ctx.settings.votes
    mandate = call[MANDATE]
    await count_broadcast(ctx, "working group proposal")
    vote = await votes.open_vote(
        ctx.session,
        actor=ctx.actor,
        group=None,
        rules=votes.VoteRules(
            # Said once, in the alliance's language: a vote's question is its record.
            question=ctx.alliance_language._(
                "Create the working group '{name}'? Mandate: {mandate}", name=name, mandate=mandate
            ),
            options=DEFAULT_OPTIONS,
            closes_at=ctx.now + timedelta(days=settings.duration_days),
            quorum=settings.quorum,
            majority=Majority(settings.majority),
            abstentions_count=settings.abstentions_count,
            action={"create_group": {"name": name, "mandate": mandate}},
        ),
        now=ctx.now,
    )
    ctx.changed.add(DEADLINES.of(vote.id))
    actor = ctx.actor
    await announce_opening(
        ctx,
        vote,
        proposed_by=lambda lang: lang._(
            "Proposed by {name} ({organisation}).", name=actor.display_name, organisation=actor.organisation_name
        ),
    )
    return Reply(
        ctx.lang._(
            "Your proposal is vote #{id}; if it passes, {name} is created and the secretariat binds its rooms.",
            id=vote.id,
            name=name,
        )
    )


async def wg_language(ctx: Context, call: Call) -> Reply:
    """Choose the language the group's rooms get wgbot's messages in."""
    group = await ctx.require_group()
    chosen = call[LANGUAGE]
    await groups.set_language(ctx.session, group, chosen, actor=ctx.actor.label)
    return Reply(
        Language(chosen)._(
            "{group}'s rooms now get my messages in {language}; private messages stay in each reader's (/lang).",
            group=group.name,
            language=LANGUAGES[chosen],
        )
    )


COMMANDS = [
    Command("wg list", "list the working groups", wg_list, anywhere=True),
    Command(
        "wg info",
        "show a working group's mandate, chairs and members",
        wg_info,
        params=(GROUP,),
        anywhere=True,
    ),
    Command(
        "wg propose",
        "propose a new working group (an alliance-wide vote decides)",
        wg_propose,
        Access.MEMBER,
        params=(NAME, MANDATE),
        anywhere=True,
    ),
    Command(
        "wg language",
        "choose the language of the group's rooms",
        wg_language,
        Access.CHAIR,
        params=(LANGUAGE,),
        details=N_("e.g. /wg language de, in the group's room: votes, reminders and replies there are then in German."),
    ),
]


async def wg_add_at_the_shell(session: AsyncSession, actor: str, args: Namespace) -> None:
    group = await groups.add_group(session, actor=actor, name=args.name, slug=args.slug, mandate=args.mandate)
    print(f"added working group {group.name} ({group.slug})")


async def wg_list_at_the_shell(session: AsyncSession, actor: str, args: Namespace) -> None:
    counts = await groups.member_counts(session)
    for group in await groups.list_groups(session):
        print(f"{group.slug}\t{group.name}\t{counted(counts.get(group.id, 0), 'member organisation')}")


AREA = Area(
    "groups",
    COMMANDS,
    title=N_("Working groups"),
    topics={"wg": N_("the working groups")},
    shell={"wg_add": admin(wg_add_at_the_shell), "wg_list": admin(wg_list_at_the_shell)},
)
