"""Platform-neutral command handlers, one module per area, all registered here."""

from bot.commands import Registry
from handlers import groups, help, identity


def build_registry() -> Registry:
    """Every chat command, in the order /help lists them."""
    return Registry([*help.COMMANDS, *identity.COMMANDS, *groups.COMMANDS])
