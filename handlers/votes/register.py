"""The register of decisions: every closed vote, what it decided and what followed, newest first.

In chat (`/decisions`) and from the shell (`wgbot decisions export`), as a list or as a file in
CSV, JSON or Markdown. Each entry carries the hash of the vote's "vote.closed" audit entry, so a
reader can check it against `wgbot audit verify` and a posted checkpoint. A secret vote shows
its totals only: they are all it keeps.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import Call, Command, Option, Param
from bot.context import Context
from bot.i18n import ENGLISH, Language
from bot.transports.base import OutgoingFile, Reply
from handlers import exports
from handlers.votes.wording import by_mandate_line, consequence, tally_line, verdict
from storage import groups, votes
from storage.errors import Misread, Refused
from storage.rules.access import Access
from storage.rules.text import N_, quote
from storage.rules.voting import Outcome

FORMATS = {"csv": "text/csv", "json": "application/json", "md": "text/markdown"}
SHOWN_IN_CHAT = 15  # entries listed in a message; the file has them all
ALLIANCE_WIDE = ("alliance", "plenary")


@dataclass(frozen=True)
class Decision:
    """One entry of the register, as every format shows it (these are the CSV columns)."""

    vote: int
    closed: str  # ISO 8601, UTC
    group: str  # a working group's name, or "whole alliance"
    question: str
    outcome: str
    turnout: int
    electorate: int
    by_mandate: int  # of the turnout, ballots cast by mandate
    tally: str  # "yes 3 · no 1 · abstain 0": totals only, also for secret votes
    secret: bool
    consequence: str  # what was carried out (a group created, a version made final), or ""
    audit_hash: str  # of the vote's "vote.closed" entry


@dataclass(frozen=True)
class Scope:
    """Which decisions: one group's, only the alliance-wide ones, or all; one year or every year."""

    group_id: int | None = None
    group_name: str | None = None
    alliance_wide: bool = False
    year: int | None = None

    def describe(self, lang: Language = ENGLISH) -> str:
        where = self.group_name or (lang._("alliance-wide votes") if self.alliance_wide else lang._("all groups"))
        return f"{where}, {self.year}" if self.year else where


async def register(session: AsyncSession, scope: Scope, lang: Language = ENGLISH) -> list[Decision]:
    """The register (its files in English; in chat, the reader's language)."""
    found = await votes.decided(session, group_id=scope.group_id, alliance_wide=scope.alliance_wide, year=scope.year)
    return [_entry(item, await votes.outcome(session, item.vote), lang) for item in found]


def _entry(item: votes.Decided, outcome: Outcome, lang: Language) -> Decision:
    """One closed vote as the register shows it (its outcome is the one recorded at the close)."""
    vote = item.vote
    assert vote.closed_at is not None  # a closed vote
    return Decision(
        vote=vote.id,
        closed=vote.closed_at.isoformat(timespec="seconds"),
        group=item.group or lang._("whole alliance"),
        question=vote.question,
        outcome=verdict(vote, outcome, lang),
        turnout=outcome.turnout,
        electorate=outcome.electorate,
        by_mandate=outcome.by_mandate,
        tally=tally_line({option: outcome.tally.get(option, 0) for option in vote.options}, lang),
        secret=vote.secret,
        consequence=consequence(vote, lang),
        audit_hash=item.audit_hash or "",
    )


def as_file(decisions: list[Decision], kind: str) -> bytes:
    """The register as CSV (a header row, UTF-8), JSON (a list of objects) or Markdown (a table)."""
    rows = [asdict(d) for d in decisions]
    if kind == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False).encode()
    if kind == "md":
        columns = list(Decision.__dataclass_fields__)
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(_cell(row[c]) for c in columns) + " |" for row in rows]
        return ("\n".join(lines) + "\n").encode()
    columns = list(Decision.__dataclass_fields__)
    return exports.as_csv(columns, [[_csv_value(row[c]) for c in columns] for row in rows])


def _csv_value(value: object) -> exports.Value:
    return value if isinstance(value, int | None) and not isinstance(value, bool) else str(value)


def _cell(value: object) -> str:
    """A Markdown table cell: the text as it is, its pipes and line breaks made harmless."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


async def scope_of(raw: str, ctx: Context) -> Scope:
    """ "pfas", "2026", "pfas 2026", "alliance 2025": a group (or the alliance-wide votes) and a year."""
    years = [word for word in raw.split() if word.isascii() and word.isdigit() and len(word) == 4]
    names = [word for word in raw.split() if word not in years]
    if len(years) > 1 or len(names) > 1:
        raise Refused("Give one group and one year at most, e.g. /decisions pfas 2026.")
    return await resolve_scope(ctx.session, names[0] if names else None, a_year(years[0]) if years else None)


def a_year(text: str) -> int:
    """A year the register can hold (1 to 9999), as the chat and the web view read it."""
    if not (text.isascii() and text.isdigit() and len(text) == 4 and int(text) >= 1):
        raise Misread("A year reads like 2026, not {year}.", year=quote(text))
    return int(text)


async def resolve_scope(session: AsyncSession, group: str | None, year: int | None) -> Scope:
    """A group by short id, name or number, or "alliance" for the alliance-wide votes; a year."""
    if group is None:
        return Scope(year=year)
    if group.casefold() in ALLIANCE_WIDE:
        return Scope(alliance_wide=True, year=year)
    found = await groups.find_group(session, group)
    return Scope(found.id, found.name, year=year)


WHICH = Param("group and/or year", scope_of, required=False, rest=True)
AS = Option("as", "csv|json|md", exports.format_among(FORMATS))


async def decisions(ctx: Context, call: Call) -> Reply:
    """Every closed vote with its outcome, turnout and tally, newest first (as a file with as=)."""
    scope = call.get(WHICH) or Scope()
    kind = call.get(AS)
    lang = ctx.lang
    if kind is not None:
        found = await register(ctx.session, scope)  # a file is the record: in English, as the CLI writes it
        name = f"decisions-{'-'.join(scope.describe().replace(',', '').split()).lower()}.{kind}"
        return Reply(
            lang.n_(
                "The register of decisions ({scope}): {count} entry.",
                "The register of decisions ({scope}): {count} entries.",
                len(found),
                scope=scope.describe(lang),
            ),
            file=OutgoingFile(name, FORMATS[kind], as_file(found, kind)),
        )
    found = await register(ctx.session, scope, lang)
    if not found:
        return Reply(lang._("No decisions yet ({scope}).", scope=scope.describe(lang)))
    lines = [lang._("Decisions ({scope}), newest first:", scope=scope.describe(lang))]
    for entry in found[:SHOWN_IN_CHAT]:
        facts = {"outcome": entry.outcome, "turnout": entry.turnout, "count": entry.electorate, "tally": entry.tally}
        said = lang._("{outcome}; turnout {turnout} of {count}; {tally}", **facts)
        if entry.by_mandate:
            said += "; " + by_mandate_line(entry.by_mandate, entry.turnout, lang)
        lines.append(
            f"#{entry.vote} {entry.closed[:10]} — {entry.group}: {entry.question}\n   {said}"
            + (f"; {entry.consequence}" if entry.consequence else "")
            + lang._("; audit {hash}", hash=entry.audit_hash[:12])
        )
    if len(found) > SHOWN_IN_CHAT:
        lines.append(
            lang._(
                "…and {count} earlier. /decisions as=csv gives them all as a file.", count=len(found) - SHOWN_IN_CHAT
            )
        )
    return Reply("\n".join(lines))


COMMANDS = [
    Command(
        "decisions",
        "the register of decisions: every closed vote, newest first",
        decisions,
        Access.MEMBER,
        params=(WHICH,),
        options=(AS,),
        anywhere=True,
        details=N_("e.g. /decisions pfas 2026, /decisions alliance, /decisions as=csv (a file)."),
    ),
]
