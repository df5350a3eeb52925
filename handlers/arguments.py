"""Converters that look up the alliance's records named in a command: a working group, a
person, an organisation. A name that finds nothing is refused with what is known."""

from __future__ import annotations

from bot.context import Context
from storage import groups, organisations, people
from storage.models import Organisation, Person, WorkingGroup


async def group(raw: str, ctx: Context) -> WorkingGroup:
    """By short id, name or number ("pfas", "PFAS", "2")."""
    return await groups.find_group(ctx.session, raw)


async def person(raw: str, ctx: Context) -> Person:
    """By number ("#7"), account ("telegram:12345") or exact name."""
    return await people.find_person(ctx.session, raw)


async def organisation(raw: str, ctx: Context) -> Organisation:
    """By number ("#12") or name, however it is cased or accented."""
    return await organisations.find_organisation(ctx.session, raw)
