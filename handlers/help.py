"""/help: generated from the command declarations, so it can never drift from them."""

from __future__ import annotations

from bot.areas import Area
from bot.commands import Call, Command, Param, at_most
from bot.context import Context
from bot.transports.base import Reply
from storage.errors import Refused
from storage.naming import closest
from storage.rules.access import Access, may

WHO = {
    Access.ANYONE: "anyone",
    Access.MEMBER: "representatives of member organisations",
    Access.CHAIR: "the group's chair and the secretariat",
    Access.SECRETARIAT: "the secretariat",
    Access.COMMISSION: "the Commission's reviewers",
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
    lines = ["Commands you can use here (/ or ! both work; /help <command> shows all of one, e.g. /help vote):"]
    for section in ctx.registry.sections:
        mine = [c for c in section.commands if c in usable]
        families = list(dict.fromkeys(c.path.split()[0] for c in mine))
        if families:
            lines.append(section.title)
            lines += [f"  /{name} — {ctx.registry.describe(name, mine)}" for name in families]
    hidden = len(ctx.registry.commands) - len(usable)
    if hidden:
        lines.append(f"{hidden} more need another role or a working group's room.")
    return Reply("\n".join(lines))


def _one(ctx: Context, topic: str) -> Reply:
    """ "/help vote": every /vote command, one line each; "/help vote open": that one in full."""
    words = " ".join(topic.lower().lstrip("/!").split())
    family = ctx.registry.family(words.split()[0])
    if " " not in words and len(family) > 1:
        return Reply("\n".join(f"{c.usage} — {c.summary}" for c in family))
    command = ctx.registry.find(words)
    if command is None:
        guess = closest(topic.lstrip("/!"), ctx.registry.families())
        hint = f" Did you mean /{guess}?" if guess else ""
        raise Refused(f"There is no command /{topic.lstrip('/!')}.{hint}")
    lines = [f"Usage: {command.usage}", command.summary]
    if command.details:
        lines.append(command.details)
    where = "anywhere" if command.anywhere else "in a working group's room"
    lines.append(f"Who: {WHO[command.access]}, {where}.")
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

AREA = Area("help", COMMANDS)
