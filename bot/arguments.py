"""Converters for command arguments that need nothing but the text and the reader's clock.

Each reads one argument into its value or raises `Unreadable` with what it expected; the
lookups of alliance records (a group, a person, an organisation) are in handlers/arguments.py.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, TypeVar

from bot.commands import Converter, Unreadable
from bot.i18n import LANGUAGES, supported
from bot.timeparse import parse_when, zone_named
from storage.rules.ids import LARGEST_ID

if TYPE_CHECKING:
    from bot.context import Context

E = TypeVar("E", bound=Enum)
_NUMBER = re.compile(r"^#?(\d{1,18})$")
_DURATION = re.compile(r"^(?:(\d+)\s*h)?\s*(?:(\d+)\s*(?:m|min)?)?$")


async def number(raw: str, ctx: Context) -> int:
    """ "12" or "#12": the id of a vote, a deliverable, an application…"""
    found = _NUMBER.match(raw.strip())
    if found is None or int(found.group(1)) > LARGEST_ID:
        raise Unreadable("a number such as 12")
    return int(found.group(1))


async def share(raw: str, ctx: Context) -> float:
    """ "50%", "50" or "0.5" → 0.5."""
    text = raw.strip()
    try:
        value = float(text.rstrip("%").strip())
    except ValueError:
        raise Unreadable("a share such as 50% or 0.5") from None
    return value / 100 if text.endswith("%") or value > 1 else value  # its range is the vote's rule


def one_of(kind: type[E]) -> Converter[E]:
    """A word naming one member of an enumeration, in any case."""

    async def convert(raw: str, ctx: Context) -> E:
        try:
            return kind(raw.strip().lower())
        except ValueError:
            raise Unreadable("one of {choices}", choices=", ".join(str(member.value) for member in kind)) from None

    return convert


async def minutes(raw: str, ctx: Context) -> int:
    """ "90m", "90", "2h", "1h30" → minutes."""
    found = _DURATION.match(raw.strip().lower())
    if not found or not any(found.groups()):
        raise Unreadable("like 90m, 2h or 1h30")
    return int(found.group(1) or 0) * 60 + int(found.group(2) or 0)


async def moment(raw: str, ctx: Context) -> datetime:
    """A time in the reader's zone: ISO, with a zone, or a phrase such as "tomorrow 10:00" (or
    "morgen 10 Uhr", "demain 10h" in the reader's language)."""
    return parse_when(raw, ctx.zone, ctx.now, ctx.reader.code)


async def language(raw: str, ctx: Context) -> str:
    """One of the languages wgbot speaks, by its code ("de", "pl", "fr-BE")."""
    found = supported(raw.strip())
    if found is None:
        raise Unreadable("one of {choices}", choices=", ".join(f"{code} ({name})" for code, name in LANGUAGES.items()))
    return found


async def zone(raw: str, ctx: Context) -> str:
    """An IANA time zone name (or a common abbreviation such as CET)."""
    return zone_named(raw)
