"""/help: generated from the command declarations, so it can never drift from them."""

from __future__ import annotations

from bot.areas import Area
from bot.commands import Call, Command, Param, at_most
from bot.context import Context
from bot.transports.base import Reply
from storage.errors import Refused
from storage.naming import closest
from storage.rules.access import Access, may
from storage.rules.text import CHOICES, N_

WHO = {
    Access.ANYONE: N_("anyone"),
    Access.MEMBER: N_("representatives of member organisations"),
    Access.CHAIR: N_("the group's chair and the secretariat"),
    Access.SECRETARIAT: N_("the secretariat"),
    Access.COMMISSION: N_("the Commission's reviewers"),
}


TOPIC = Param("command", at_most(100), required=False, rest=True)


async def show_help(ctx: Context, call: Call) -> Reply:
    """List the commands the sender may use here, or explain one command in full."""
    topic = (call.get(TOPIC) or "").strip().lstrip("/!").strip()
    if topic:
        return _one(ctx, topic)
    group_id = ctx.binding.group_id if ctx.binding else None
    usable = [c for c in ctx.registry if may(c.access, ctx.actor, group_id)]
    if ctx.binding is None:
        usable = [c for c in usable if c.anywhere]
    lang = ctx.lang
    lines = [lang._("Commands you can use here (/ or ! both work; /help <command> shows all of one, e.g. /help vote):")]
    for section in ctx.registry.sections:
        mine = [c for c in section.commands if c in usable]
        families = list(dict.fromkeys(c.path.split()[0] for c in mine))
        if families:
            lines.append(lang._(section.title))
            lines += [f"  /{name} — {ctx.registry.describe(name, mine, lang)}" for name in families]
    hidden = len(ctx.registry.commands) - len(usable)
    if hidden:
        lines.append(
            lang.n_(
                "{count} more needs another role or a working group's room.",
                "{count} more need another role or a working group's room.",
                hidden,
            )
        )
    return Reply("\n".join(lines))


def _one(ctx: Context, topic: str) -> Reply:
    """ "/help vote": every /vote command, one line each; "/help vote open": that one in full."""
    words = " ".join(topic.lower().lstrip("/!").split())
    family = ctx.registry.family(words.split()[0])
    lang = ctx.lang
    if " " not in words and len(family) > 1:
        return Reply("\n".join(f"{c.usage} — {lang._(c.summary)}" for c in family))
    command = ctx.registry.find(words)
    if command is None:
        asked = topic.lstrip("/!")
        guess = closest(asked, ctx.registry.families())
        if guess:
            raise Refused("There is no command /{name}. Did you mean /{guess}?", name=asked, guess=guess)
        raise Refused("There is no command /{name}.", name=asked)
    lines = [lang._("Usage: {usage}", usage=command.usage), lang._(command.summary)]
    if command.details:  # its words may name the bot's own choices, in the reader's words: "{yes}"
        lines.append(lang._(command.details, **{word: lang.choice(word) for word in CHOICES}))
    who = lang._(WHO[command.access])
    if command.anywhere:
        lines.append(lang._("Who: {who}, anywhere.", who=who))
    else:
        lines.append(lang._("Who: {who}, in a working group's room.", who=who))
    return Reply("\n".join(lines))


COMMANDS = [
    Command(
        "help",
        "list the commands, or explain one",
        show_help,
        params=(TOPIC,),
        anywhere=True,
    ),
]

AREA = Area("help", COMMANDS, title=N_("Help"))
