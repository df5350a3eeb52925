"""The chat platforms wgbot serves, and how people write "platform:id" references."""

from storage.errors import Refused
from storage.rules.text import quote

PLATFORMS = ("matrix", "telegram", "console")
# Where the bot may write to a person privately only once they have opened a chat with it
# (Telegram: they press Start); the transport notes each chat opened (transport_state,
# `private_chat_key`). Elsewhere the bot opens the private chat itself.
OPENED_BY_THE_PERSON = frozenset({"telegram"})


def private_chat_key(user_id: str) -> str:
    """The transport_state key under which a transport notes a person's private chat with the bot."""
    return f"private:{user_id}"


def split_ref(text: str, what: str, example: str) -> tuple[str, str]:
    """ "telegram:12345" → ("telegram", "12345"); anything else is refused with an example."""
    platform, sep, ident = text.partition(":")
    platform = platform.strip().lower()
    if not sep or platform not in PLATFORMS or not ident.strip():
        raise Refused(
            "Write {what} as platform:id with platform one of {PLATFORMS}, e.g. {example} — not {text}.",
            what=what,
            PLATFORMS=", ".join(PLATFORMS),
            example=example,
            text=quote(text),
        )
    return platform, ident.strip()
