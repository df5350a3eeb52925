"""Bulk start: organisations and representatives from a spreadsheet, safe to run again.

Columns: organisation, country, kind, groups, representative, accounts, roles (groups,
accounts and roles separated by ';'). Each row is one transaction: a rejected row changes
nothing, and what already exists is skipped, so re-running a file only adds what is new.

The file is read as Europe's spreadsheets write it: an .xlsx workbook (its first sheet), or a
CSV separated by commas, semicolons (Excel's CSV in Germany, France, Italy…) or tabs, in UTF-8
with or without a byte-order mark, else in Windows-1252 (Excel's "CSV" in Western Europe),
which the report notes.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import groups, organisations, people
from storage.db import Database
from storage.errors import Refused
from storage.models import ChatAccount, Organisation, OrganisationStatus
from storage.naming import fold
from storage.rules.imports import COLUMNS

DELIMITERS = (",", ";", "\t")
WORKBOOK = b"PK\x03\x04"  # an .xlsx is a zip file, whatever its name says
OLD_WORKBOOK = b"\xd0\xcf\x11\xe0"  # Excel 97–2003's .xls, a format openpyxl does not read


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the file was read, where it matters

    def summary(self) -> str:
        return f"{len(self.created)} created, {len(self.skipped)} skipped, {len(self.rejected)} rejected"


@dataclass(frozen=True)
class Sheet:
    """A spreadsheet's rows by their (lower-cased) header, each with the line it is on."""

    rows: list[tuple[int, dict[str, str]]]
    columns: list[str]
    notes: list[str]


async def import_members(db: Database, path: Path, actor: str) -> ImportReport:
    sheet = read_sheet(path)
    report = ImportReport(notes=list(sheet.notes))
    missing = [c for c in ("organisation", "country", "kind") if c not in sheet.columns]
    if missing:
        raise Refused(
            "{path}: the header lacks {missing} (columns: {COLUMNS}).",
            path=path,
            missing=", ".join(missing),
            COLUMNS=", ".join(COLUMNS),
        )
    for number, row in sheet.rows:
        line = f"line {number}"
        row_report = ImportReport()
        try:
            async with db.transaction() as session:
                await _import_row(session, row, actor, row_report)
        except Refused as refusal:
            report.rejected.append(f"{line}: {refusal}")
            continue
        report.created += [f"{line}: {c}" for c in row_report.created]
        report.skipped += [f"{line}: {s}" for s in row_report.skipped]
    return report


def read_sheet(path: Path) -> Sheet:
    """The rows of a members file: a workbook, or a CSV in whatever separator and encoding
    a European spreadsheet wrote it."""
    data = path.read_bytes()
    if data.startswith(WORKBOOK):
        return _workbook(path, data)
    if data.startswith(OLD_WORKBOOK):
        raise Refused("{path} is an Excel 97–2003 workbook (.xls): save it as .xlsx or CSV and import that.", path=path)
    notes = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        notes.append(f"{path.name} is not UTF-8: read as Windows-1252 (Excel's CSV); check accented names")
    header = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=header.count)  # the header names the columns, so it shows the separator
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = [_column(name) for name in reader.fieldnames or []]
    rows = [
        (reader.line_num, {_column(k): (v or "").strip() for k, v in row.items() if k})
        for row in reader
        if any((v or "").strip() for v in row.values() if isinstance(v, str))
    ]
    return Sheet(rows, columns, notes)


def _workbook(path: Path, data: bytes) -> Sheet:
    from openpyxl import load_workbook  # only for workbooks

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise Refused("{path} is not a workbook this can read ({error}).", path=path, error=str(error)) from None
    try:
        lines = book.worksheets[0].iter_rows(values_only=True)
        columns = [_column(_cell(value)) for value in next(lines, ())]
        rows = []
        for number, values in enumerate(lines, start=2):
            row = {name: _cell(value) for name, value in zip(columns, values, strict=False) if name}
            if any(row.values()):
                rows.append((number, row))
    finally:
        book.close()
    return Sheet(rows, columns, [])


def _column(name: str) -> str:
    return name.strip().lower()


def _cell(value: object) -> str:
    """A cell as the file's text would have it: a number typed into Excel (a Telegram id) is
    1001, not 1001.0; a date is its ISO form."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


async def _import_row(session: AsyncSession, row: dict[str, str], actor: str, report: ImportReport) -> None:
    name = row.get("organisation", "")
    organisation = await session.scalar(select(Organisation).where(Organisation.name_key == fold(name)))
    if organisation is None:
        organisation = await organisations.add_organisation(
            session,
            actor=actor,
            name=name,
            country=row.get("country", ""),
            kind=organisations.organisation_kind(row.get("kind", "")),
            status=OrganisationStatus.MEMBER,
        )
        report.created.append(f"organisation {organisation.name}")
    else:
        report.skipped.append(f"organisation {organisation.name} (already known)")
    for ref in _split(row.get("groups", "")):
        group = await groups.find_group(session, ref)
        joined = await organisations.join_group(
            session, actor=actor, organisation=organisation, group_id=group.id, group_slug=group.slug
        )
        (report.created if joined else report.skipped).append(f"{organisation.name} in {group.slug}")
    if not row.get("representative"):
        return
    person = await people.same_named(session, row["representative"], organisation.id)
    if person is None:
        person = await people.add_person(session, actor=actor, name=row["representative"], organisation=organisation)
        report.created.append(f"representative {person.name}")
    else:
        report.skipped.append(f"representative {person.name} (already known)")
    for text in _split(row.get("accounts", "")):
        platform, user_id = people.parse_account(text)
        owner = await session.scalar(
            select(ChatAccount).where(ChatAccount.platform == platform, ChatAccount.platform_user_id == user_id)
        )
        if owner is not None and owner.person_id == person.id:
            report.skipped.append(f"account {text} (already linked)")
            continue
        await people.add_account(session, actor=actor, person=person, platform=platform, user_id=user_id)
        report.created.append(f"account {text}")
    for text in _split(row.get("roles", "")):
        role, group_ref = people.parse_role(text)
        chaired = await groups.find_group(session, group_ref) if group_ref else None
        if await people.assign_role(session, actor=actor, person=person, role=role, group=chaired):
            report.created.append(f"role {text} for {person.name}")
        else:
            report.skipped.append(f"role {text} for {person.name} (already held)")
