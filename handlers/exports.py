"""Lists the secretariat hands on (to the Commission, to a group's chairs): the member
organisations, attendance at meetings and the deliverables, as CSV (a header row, UTF-8, ISO dates) or as an Excel
workbook.

A cell is always text or a number, never a formula: a name such as `=HYPERLINK(…)` would
otherwise run when the file is opened in a spreadsheet. In CSV such a cell starts with an
apostrophe (what spreadsheets take as "this is text"); in the workbook it is stored as a string.
"""

from __future__ import annotations

import csv
import io
from argparse import Namespace
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.areas import Area
from bot.commands import Call, Command, Converter, Option, Param, Unreadable
from bot.config import Settings
from bot.context import Context
from bot.shell import Declined, database, write
from bot.transports.base import OutgoingFile, Reply
from storage import meetings, organisations, people
from storage.errors import Refused
from storage.models import (
    Deliverable,
    DraftVersion,
    Meeting,
    Organisation,
    OrganisationStatus,
    Person,
    Presence,
    Rsvp,
)
from storage.rules.access import Access
from storage.rules.recurrence import occurrence
from storage.rules.text import N_

Value = str | int | None
FORMATS = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: list[tuple[Value, ...]]


def as_csv(columns: Sequence[str], rows: Sequence[Sequence[Value]]) -> bytes:
    """UTF-8 with a byte-order mark: without it, Excel on Windows reads the file as its local
    code page ("MicroeletrÃ³nica"). A cell that would start a formula is kept as text."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_inert(cell) for cell in row] for row in rows])
    return text.getvalue().encode("utf-8-sig")


def as_xlsx(table: Table) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(table.name)
    sheet.append(list(table.columns))
    for row in table.rows:
        sheet.append([_text_cell(sheet, cell) for cell in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def as_file(table: Table, kind: str) -> bytes:
    return as_xlsx(table) if kind == "xlsx" else as_csv(table.columns, table.rows)


def _inert(cell: Value) -> Value:
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def _text_cell(sheet: WriteOnlyWorksheet, cell: Value) -> Value | Cell:
    if not isinstance(cell, str):
        return cell
    kept = WriteOnlyCell(sheet, value=cell)
    kept.data_type = "s"  # a string, even when it starts with "="
    return kept


def _date(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else ""


# The organisations `members` lists by default: the alliance's members, suspended ones included
# (they are members whose vote is suspended); applicants, rejected applicants and guests'
# organisations are not members, and are listed only when asked for (standing=all).
MEMBERS = frozenset({OrganisationStatus.MEMBER, OrganisationStatus.SUSPENDED})
EVERY_STANDING = "all"


async def members(session: AsyncSession, standing: str | None = None) -> Table:
    """The member organisations (or those of one standing, or all): country, kind, standing,
    working groups and representatives."""
    wanted = (
        frozenset(OrganisationStatus)
        if standing == EVERY_STANDING
        else frozenset({OrganisationStatus(standing)})
        if standing
        else MEMBERS
    )
    everyone = await people.list_people(session)
    rows: list[tuple[Value, ...]] = []
    for org in await organisations.list_organisations(session):
        if org.status not in wanted:
            continue
        groups = "; ".join(sorted(p.group.slug for p in org.participations))
        representatives = "; ".join(p.name for p in everyone if p.organisation_id == org.id)
        rows.append((org.name, org.country, org.kind.value, org.status.value, groups, representatives))
    return Table("members", ("organisation", "country", "kind", "standing", "groups", "representatives"), rows)


async def deliverables(session: AsyncSession) -> Table:
    """Every deliverable: its group, status, due date, versions and who contributed them."""
    found = list(
        await session.scalars(select(Deliverable).options(selectinload(Deliverable.group)).order_by(Deliverable.id))
    )
    every_version: dict[int, list[DraftVersion]] = {}
    for version in await session.scalars(select(DraftVersion).order_by(DraftVersion.number)):
        every_version.setdefault(version.deliverable_id, []).append(version)
    rows: list[tuple[Value, ...]] = []
    for item in found:
        versions = every_version.get(item.id, [])
        contributors = dict.fromkeys(f"{v.author} ({v.organisation})" if v.organisation else v.author for v in versions)
        withdrawn = "; ".join(f"v{v.number}" for v in versions if v.withdrawn_at is not None)
        rows.append(
            (
                item.id,
                item.group.slug,
                item.title,
                item.status.value,
                _date(item.due_at),
                len(versions),
                withdrawn,
                item.final_version,
                "; ".join(contributors),
                _date(versions[-1].submitted_at) if versions else "",
            )
        )
    columns = (
        "deliverable",
        "group",
        "title",
        "status",
        "due",
        "versions",
        "withdrawn",
        "final_version",
        "contributors",
        "last",
    )
    return Table("deliverables", columns, rows)


async def attendance(session: AsyncSession) -> Table:
    """Per occurrence that has answers or a record: each organisation's RSVPs (its
    representatives' answers) and whether the chair recorded it as present."""
    answers: dict[tuple[int, int], dict[int | None, list[str]]] = {}
    for meeting_id, number, organisation_id, answer in (
        await session.execute(
            select(Rsvp.meeting_id, Rsvp.occurrence, Person.organisation_id, Rsvp.answer)
            .join(Person, Person.id == Rsvp.person_id)
            .order_by(Rsvp.answered_at)
        )
    ).tuples():
        answers.setdefault((meeting_id, number), {}).setdefault(organisation_id, []).append(answer)
    present: dict[tuple[int, int], set[int]] = {}
    guests: set[tuple[int, int, int]] = set()
    for meeting_id, number, organisation_id, guest in (
        await session.execute(
            select(Presence.meeting_id, Presence.occurrence, Presence.organisation_id, Presence.guest)
        )
    ).tuples():
        present.setdefault((meeting_id, number), set()).add(organisation_id)
        if guest:
            guests.add((meeting_id, number, organisation_id))
    held = set(answers) | set(present)
    found = await session.scalars(
        select(Meeting).options(selectinload(Meeting.group)).where(Meeting.id.in_({m for m, _ in held}))
    )
    by_id = {m.id: m for m in found}
    changes = await meetings.changes_of(session, list(by_id))
    names = dict((await session.execute(select(Organisation.id, Organisation.name))).tuples().all())
    rows: list[tuple[Value, ...]] = []
    for meeting_id, number in held:
        meeting = by_id[meeting_id]
        when = occurrence(meetings.series_of(meeting), changes.get(meeting_id), number)
        recorded = (meeting_id, number) in present
        for organisation_id in set(answers.get((meeting_id, number), {})) | present.get((meeting_id, number), set()):
            rows.append(
                (
                    f"{meeting_id}.{number}" if meeting.rule else str(meeting_id),
                    meeting.title,
                    meeting.group.slug,
                    when.start.isoformat(timespec="minutes") if when else "",
                    names.get(organisation_id, "(no organisation)") if organisation_id else "(no organisation)",
                    "; ".join(answers.get((meeting_id, number), {}).get(organisation_id, [])),
                    ("yes" if organisation_id in present[(meeting_id, number)] else "no") if recorded else "",
                    "yes" if (meeting_id, number, organisation_id) in guests else "",
                )
            )
    rows.sort(key=lambda row: (str(row[3]), str(row[4]).casefold()))
    columns = ("meeting", "title", "group", "start", "organisation", "rsvp", "present", "as_guest")
    return Table("attendance", columns, rows)


LIST_NAMES = {"members": N_("Members"), "deliverables": N_("Deliverables"), "attendance": N_("Attendance")}
TABLES: dict[str, Callable[[AsyncSession], Awaitable[Table]]] = {
    "members": members,
    "attendance": attendance,
    "deliverables": deliverables,
}


async def standing_named(raw: str, ctx: Context | None = None) -> str:
    """ "all", or one standing an organisation can have ("member", "suspended", "applicant"…)."""
    word = raw.strip().lower()
    if word != EVERY_STANDING and word not in {s.value for s in OrganisationStatus}:
        raise Unreadable(
            "one of {choices}", choices=", ".join([EVERY_STANDING, *(s.value for s in OrganisationStatus)])
        )
    return word


async def table(session: AsyncSession, name: str, standing: str | None = None) -> Table:
    """One of the lists, as the chat's /export and the shell's `wgbot export` make it."""
    if standing is not None and name != "members":
        raise Refused("standing= chooses which organisations /export members lists; the other lists have none.")
    return await members(session, standing) if name == "members" else await TABLES[name](session)


async def which_table(raw: str, ctx: Context) -> str:
    name = raw.strip().lower()
    if name not in TABLES:
        raise Refused("{list} is not a list I can export: {lists}.", list=repr(raw), lists=", ".join(TABLES))
    return name


def format_among(formats: Mapping[str, str]) -> Converter[str]:
    """The `as=` option's converter: one of `formats`' names, however it is cased."""

    async def file_format(raw: str, ctx: Context) -> str:
        kind = raw.strip().lower()
        if kind not in formats:
            raise Refused("as= is one of {formats}.", formats=", ".join(formats))
        return kind

    return file_format


WHAT = Param("list", which_table)
AS = Option("as", "csv|xlsx", format_among(FORMATS))
STANDING = Option("standing", "member|suspended|applicant|all", standing_named)


async def export(ctx: Context, call: Call) -> Reply:
    """A list as a file: the member organisations, attendance at meetings, or the deliverables."""
    made = await table(ctx.session, call[WHAT], call.get(STANDING))
    kind = call.get(AS) or "csv"
    return Reply(
        ctx.lang.n_(
            "{list}: {count} row.", "{list}: {count} rows.", len(made.rows), list=ctx.lang._(LIST_NAMES[made.name])
        ),
        file=OutgoingFile(f"{made.name}-{ctx.now.date().isoformat()}.{kind}", FORMATS[kind], as_file(made, kind)),
    )


COMMANDS = [
    Command(
        "export",
        "a list as a file: members, attendance or deliverables (CSV, or as=xlsx)",
        export,
        Access.SECRETARIAT,
        params=(WHAT,),
        options=(AS, STANDING),
        anywhere=True,
        details=N_(
            "e.g. /export members, /export attendance, /export deliverables as=xlsx. /export members lists the "
            "member organisations (suspended ones too); standing=all adds applicants and guests' organisations."
        ),
    ),
]


async def export_at_the_shell(settings: Settings, args: Namespace) -> int:
    """`wgbot export members|attendance|deliverables`: the same lists as /export, as a file."""
    if args.standing and args.list != "members":
        raise Declined("--standing chooses the organisations of `wgbot export members`; the other lists have none")
    async with database(settings) as db, db.transaction() as session:
        made = await table(session, args.list, args.standing)
    return write(as_file(made, args.format), args.output)


AREA = Area("exports", COMMANDS, title=N_("Lists"), shell={"export": export_at_the_shell})
