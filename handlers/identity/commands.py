"""/whoami, /link, /tz, /lang: who the alliance thinks you are, and how you read it."""

from __future__ import annotations

import shlex

from bot import arguments
from bot.commands import Call, Command, Param, at_most
from bot.context import Context
from bot.i18n import LANGUAGES, Language
from bot.transports.base import Reply
from storage import identity, people
from storage.errors import Refused
from storage.rules.access import Actor, voting_right
from storage.rules.text import N_, Words

CODE = Param("code", at_most(32), required=False)
ZONE = Param("zone", arguments.zone, required=False)
LANGUAGE = Param("code", arguments.language, required=False)


async def whoami(ctx: Context, call: Call) -> Reply:
    """Show the sender's person, organisation, roles and linked accounts."""
    actor, lang = ctx.actor, ctx.lang
    if actor.person_id is None:
        stranger = lang._(
            "You are {name} on {platform} ({user}), not yet known to the alliance. If your organisation is a "
            "member, ask the secretariat to add you as a representative; if it is not, /apply.",
            name=actor.display_name,
            platform=actor.platform,
            user=actor.platform_user_id,
        )
        lines = [stranger]
        if ctx.incoming.is_direct:  # what the secretariat needs from them, ready to paste at the shell
            account = f"{actor.platform}:{actor.platform_user_id}"
            lines += [
                lang._("To add you, the secretariat runs:"),
                f"wgbot person add {shlex.quote(actor.display_name)} --account {shlex.quote(account)}",
                lang._("If you are known to the alliance under another account already, it runs:"),
                f"wgbot person link '#<number>' {shlex.quote(account)}",
            ]
        return Reply("\n".join([*lines, _voting_line(actor, lang)]))
    person = await people.profile(ctx.session, actor.person_id)
    none = lang._("none")
    lines = [
        lang._("You are {name} (person #{id}).", name=person.name, id=person.person_id),
        lang._(
            "Organisation: {organisation}.", organisation=lang.say(person.organisation) if person.organisation else none
        ),
        lang._("Roles: {roles}.", roles=", ".join(lang.say(role) for role in person.roles) or none),
        lang._("Linked accounts: {accounts}.", accounts=", ".join(person.accounts)),
        lang._("Time zone: {zone}.", zone=ctx.zone),
        _voting_line(actor, lang),
    ]
    return Reply("\n".join(lines))


async def link(ctx: Context, call: Call) -> Reply:
    """Give a one-time code, or use one to link this account to your identity."""
    code = call.get(CODE)
    if code:
        person = await identity.redeem(ctx.session, code, ctx.incoming.platform, ctx.incoming.sender_id, ctx.now)
        return Reply(
            ctx.lang._(
                "Linked: this {platform} account now belongs to {name}. /whoami shows all your accounts.",
                platform=ctx.incoming.platform,
                name=person.name,
            )
        )
    if ctx.actor.person_id is None:
        raise Refused(
            "You are not known to the alliance yet, so there is nothing to link to. "
            "If you have a code from your other account or from the secretariat, send /link <code>."
        )
    person = await people.load_person(ctx.session, ctx.actor.person_id)
    issued = await identity.issue_code(ctx.session, person, ctx.now)
    minutes = int(identity.CODE_LIFETIME.total_seconds() // 60)
    return await ctx.privately(
        ctx.reader._(
            "Your link code is {code}. Within {minutes} minutes, send /link {code} from your other chat account "
            "(on Telegram, in a private chat with me). It works once; keep it to yourself.",
            code=issued.code,
            minutes=minutes,
        ),
        Words(
            "I have sent your link code to you in a private chat. If it does not arrive, open a private chat "
            "with me and ask there."
        ),
    )


async def tz(ctx: Context, call: Call) -> Reply:
    """Show your time zone, or set it: every time the bot shows you is then in it."""
    zone = call.get(ZONE)
    lang = ctx.lang
    if zone is None:
        return Reply(lang._("Your time zone is {zone}. /tz Europe/Lisbon changes it.", zone=ctx.zone))
    if ctx.actor.person_id is None:
        raise Refused("You are not known to the alliance yet, so there is no one to keep a zone for.")
    await people.set_timezone(ctx.session, ctx.actor.person_id, zone)
    return Reply(
        lang._(
            "Your time zone is now {zone}: times are shown to you in it, e.g. now is {now}.",
            zone=zone,
            now=lang.moment(ctx.now, zone),
        )
    )


async def lang(ctx: Context, call: Call) -> Reply:
    """Show the language wgbot writes to you in, or choose it."""
    chosen = call.get(LANGUAGE)
    if chosen is None:
        others = ", ".join(f"{code} {name}" for code, name in LANGUAGES.items())
        reader = ctx.reader
        return Reply(
            reader._(
                "I write to you in {language} ({code}). /lang <code> changes it: {languages}.",
                language=LANGUAGES[reader.code],
                code=reader.code,
                languages=others,
            )
        )
    if ctx.actor.person_id is None:
        raise Refused(
            ctx.reader._(
                "You are not known to the alliance yet, so there is no one to keep a language for; "
                "I follow your app's language meanwhile."
            )
        )
    await people.set_language(ctx.session, ctx.actor.person_id, chosen)
    now = Language(chosen)
    if ctx.incoming.is_direct or ctx.binding is None:
        return Reply(now._("From now on I write to you in {language}.", language=LANGUAGES[chosen]))
    return Reply(
        now._(
            "From now on I write to you in {language} in private messages. This room stays in {room}: a room follows "
            "its group's language, which the chair sets with /wg language.",
            language=LANGUAGES[chosen],
            room=LANGUAGES[ctx.lang.code],
        )
    )


def _voting_line(actor: Actor, lang: Language) -> str:
    reason = voting_right(actor)
    if reason is None:
        return lang._(
            "Voting rights: yes — you may cast {organisation}'s one vote in its groups.",
            organisation=actor.organisation_name,
        )
    return lang._("Voting rights: none — {reason}.", reason=lang.say(reason))


COMMANDS = [
    Command("whoami", "show who you are to the alliance", whoami, anywhere=True),
    Command(
        "link",
        "link your chat accounts: get a code here, send it from the other",
        link,
        params=(CODE,),
        anywhere=True,
    ),
    Command("tz", "show or set your time zone", tz, params=(ZONE,), anywhere=True),
    Command(
        "lang",
        "show or choose the language I write to you in",
        lang,
        params=(LANGUAGE,),
        anywhere=True,
        details=N_("e.g. /lang de. Rooms speak their group's language (/wg language)."),
    ),
]
