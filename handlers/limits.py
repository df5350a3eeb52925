"""One person may make the whole alliance read something only so often (`[limits]`)."""

from __future__ import annotations

from bot.context import Context
from storage import limits
from storage.errors import Refused
from storage.rules.text import n_words


async def count_broadcast(ctx: Context, what: str) -> None:
    """Count an act that posts to every room, or refuse it, saying when it is possible again."""
    per_day = ctx.settings.limits.broadcasts_per_day
    if ctx.actor.person_id is None:
        return  # such acts need a role, which only a known person has
    again = await limits.take_broadcast(ctx.session, ctx.actor.person_id, what, per_day, ctx.now)
    if again is not None:
        raise Refused(
            n_words(
                "You have posted to the whole alliance {count} time in the last 24 hours, the most one person "
                "may; the next is possible {when}.",
                "You have posted to the whole alliance {count} times in the last 24 hours, the most one person "
                "may; the next is possible {when}.",
                per_day,
                when=ctx.lang.moment(again, ctx.zone),
            )
        )
