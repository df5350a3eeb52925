"""Test-only commands that exercise what a transport must carry: buttons, files, HTML."""

from __future__ import annotations

import hashlib

from bot.areas import Area, registry_of
from bot.arguments import number
from bot.commands import Command, Param, Registry, text
from bot.transports.base import Button, OutgoingFile, Reply
from handlers import AREAS

CALENDAR = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//wgbot//test//EN\r\nEND:VCALENDAR\r\n"
CHOICES = (Button("yes", "/pick yes"), Button("no", "/pick no"), Button("abstain", "/pick abstain"))


async def offer_choice(ctx, call):
    return Reply("Adopt the roadmap?", buttons=CHOICES)


async def offer_long_choice(ctx, call):
    return Reply("A long one", buttons=(Button("long", "/pick " + "x" * 80),))


CHOICE = Param("choice", text, rest=True)


async def pick(ctx, call):
    """Answers like a vote does: the choice, for the sender's organisation."""
    return Reply(f"Recorded: {call[CHOICE]} for {ctx.actor.organisation_name or ctx.actor.display_name}")


async def checksum(ctx, call):
    if not ctx.files:
        return Reply("No file.")
    return Reply(checksum_line(ctx.files[0].name, ctx.files[0].data))


def checksum_line(name: str, data: bytes) -> str:
    return f"{name}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}"


async def calendar(ctx, call):
    return Reply("Your calendar:", file=OutgoingFile("pfas.ics", "text/calendar", CALENDAR))


async def formatted(ctx, call):
    return Reply("Important: read this", html="<b>Important</b>: read this")


LINES = Param("lines", number)


async def long_answer(ctx, call):
    """An answer of many numbered lines, longer than any platform's message."""
    return Reply("\n".join(f"line {n:04d} " + "x" * 40 for n in range(1, call[LINES] + 1)), buttons=CHOICES)


PROBES = Area(
    "probes",
    [
        Command("choose", "offer a choice", offer_choice),
        Command("longchoice", "offer a choice too long for callback data", offer_long_choice),
        Command("pick", "pick", pick, params=(CHOICE,), anywhere=True),
        Command("sha", "checksum an attached file", checksum, anywhere=True, takes_files=True),
        Command("calendar", "send a file", calendar),
        Command("bold", "formatted reply", formatted),
        Command("long", "a long answer", long_answer, params=(LINES,), anywhere=True),
    ],
)
PROBE_AREAS = [*AREAS, PROBES]  # wgbot's areas plus the probes


def probe_registry() -> Registry:
    return registry_of(PROBE_AREAS)
