"""The alliance's work, one slice per area: each module or package gives its `AREA` (commands,
guided dialogs, scheduled jobs, live messages, web pages) and the composition root hands the list to the
bot. The order is the order /help lists the commands in."""

from bot.areas import Area, registry_of
from bot.commands import Registry
from handlers import (
    announcements,
    audit,
    deliverables,
    exports,
    groups,
    help,
    identity,
    meetings,
    members,
    membership,
    rooms,
    votes,
    web,
)

AREAS: list[Area] = [
    help.AREA,
    identity.AREA,
    groups.AREA,
    rooms.AREA,
    membership.AREA,
    members.AREA,
    votes.AREA,
    meetings.AREA,
    deliverables.AREA,
    announcements.AREA,
    exports.AREA,
    audit.AREA,
    web.AREA,
]


def build_registry() -> Registry:
    """Every chat command, in the order /help lists them, and the guided dialogs."""
    return registry_of(AREAS)
