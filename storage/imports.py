"""Bulk start: organisations and representatives from a CSV file, safe to run again.

Columns: organisation, country, kind, groups, representative, accounts, roles (groups,
accounts and roles separated by ';'). Each row is one transaction: a rejected row changes
nothing, and what already exists is skipped, so re-running a file only adds what is new.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import groups, organisations, people
from storage.db import Database
from storage.errors import Refused
from storage.models import ChatAccount, Organisation, OrganisationStatus
from storage.naming import fold
from storage.rules.imports import COLUMNS


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.created)} created, {len(self.skipped)} skipped, {len(self.rejected)} rejected"


async def import_members(db: Database, path: Path, actor: str) -> ImportReport:
    report = ImportReport()
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        missing = [c for c in ("organisation", "country", "kind") if c not in (reader.fieldnames or [])]
        if missing:
            raise Refused(
                "{path}: the header lacks {missing} (columns: {COLUMNS}).",
                path=path,
                missing=", ".join(missing),
                COLUMNS=", ".join(COLUMNS),
            )
        for row in reader:
            line = f"line {reader.line_num}"
            row_report = ImportReport()
            try:
                async with db.transaction() as session:
                    await _import_row(session, {k: (v or "").strip() for k, v in row.items() if k}, actor, row_report)
            except Refused as refusal:
                report.rejected.append(f"{line}: {refusal}")
                continue
            report.created += [f"{line}: {c}" for c in row_report.created]
            report.skipped += [f"{line}: {s}" for s in row_report.skipped]
    return report


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
