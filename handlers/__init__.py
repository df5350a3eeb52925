"""Platform-neutral command handlers, one module per area, all registered here."""

from bot.commands import Registry
from handlers import (
    announcements,
    attendance,
    deliverables,
    groups,
    help,
    identity,
    meetings,
    members,
    membership,
    votes,
)


def build_registry() -> Registry:
    """Every chat command, in the order /help lists them, and the guided dialogs."""
    return Registry(
        [
            *help.COMMANDS,
            *identity.COMMANDS,
            *groups.COMMANDS,
            *membership.COMMANDS,
            *members.COMMANDS,
            *votes.COMMANDS,
            *meetings.COMMANDS,
            *attendance.COMMANDS,
            *deliverables.COMMANDS,
            *announcements.COMMANDS,
        ],
        conversations={**membership.CONVERSATIONS},
    )
