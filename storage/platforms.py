"""The chat platforms wgbot serves, and how people write "platform:id" references."""

from storage.errors import Refused
from storage.rules.text import quote

PLATFORMS = ("matrix", "telegram", "console")


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
