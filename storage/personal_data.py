"""Everything wgbot holds about one person: to show it them (GDPR art. 15) or erase it (art. 17).

Both read storage/inventory.py, the one list of where a person is named: `export` lists every
row there that names the person, one of their chat accounts or an act of theirs, and `erase`
deletes, pseudonymises or keeps each as that list says. What is left that still writes their
name (a meeting's title, an audited text) is reported to the operator, not hidden.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, cast, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.db import rowcount
from storage.inventory import INVENTORY, Fate, Subject
from storage.models import AuditEntry, Base, ChatAccount, Person
from storage.rules.text import counted


def _plain(value: object) -> object:
    """A value as JSON holds it."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


async def subject(session: AsyncSession, person: Person) -> Subject:
    """Whom an export or erasure is about: the person, their accounts, the records merged into theirs."""
    accounts = await session.execute(
        select(ChatAccount.platform, ChatAccount.platform_user_id)
        .where(ChatAccount.person_id == person.id)
        .order_by(ChatAccount.id)
    )
    merged = await merged_into(session, person.id)
    return Subject(person.id, person.name, tuple(accounts.tuples()), tuple(merged))


async def export(session: AsyncSession, person: Person) -> dict[str, Any]:
    """Every record that names the person (storage/inventory.py), as JSON-ready lists by kind;
    their own record as one object, and the records merged into it."""
    whom = await subject(session, person)
    held: dict[str, Any] = {}
    for entry in INVENTORY:
        table = entry.table
        rows = await session.execute(select(*entry.shown).where(entry.where(whom)).order_by(*table.primary_key.columns))
        found = [
            ({"record": table.name} if entry.says_table else {}) | {key: _plain(value) for key, value in row.items()}
            for row in rows.mappings()
        ]
        if entry.one:
            held[entry.key] = found[0] if found else None
        else:
            held.setdefault(entry.key, []).extend(found)
    held["merged_records"] = list(whom.merged)
    return held


async def merged_into(session: AsyncSession, person_id: int) -> list[int]:
    """The ids of the records merged into this person, earlier merges' too (for their export)."""
    found: list[int] = []
    wanted = [person_id]
    while wanted:
        subject = f"person:{wanted.pop()}"
        for details in await session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "person.merged", AuditEntry.subject == subject)
        ):
            merged = (details or {}).get("merged")
            if isinstance(merged, int) and merged not in found:
                found.append(merged)
                wanted.append(merged)
    return found


@dataclass(frozen=True)
class Erasure:
    """What `erase` did, by kind of record, and where the person's name is still written."""

    pseudonym: str
    done: dict[str, int]  # deleted or pseudonymised
    kept: dict[str, int]  # kept as their organisation's acts, naming the pseudonym
    still_named: list[str]

    def describe(self, *, only_shown: bool = False) -> str:
        """What was done; with `only_shown`, what would be done (the transaction rolled back)."""
        head = "Would erase, by kind:" if only_shown else f"Erased: the person is now {self.pseudonym!r}."
        lines = [head, *(f"  {kind}: {count}" for kind, count in self.done.items() if count)]
        if any(self.kept.values()):
            lines.append(f"Kept, naming {self.pseudonym!r} (what their organisation did):")
            lines += [f"  {kind}: {count}" for kind, count in self.kept.items() if count]
        if self.still_named:
            lines.append("Their name is still written in (check and correct these by hand):")
            lines += [f"  {where}" for where in self.still_named]
        else:
            lines.append(f"Their name {'would be' if only_shown else 'is'} found nowhere in the database.")
        return "\n".join(lines)


async def erase(session: AsyncSession, person: Person) -> Erasure:
    """Remove or pseudonymise everything wgbot holds about `person` (GDPR art. 17), in the
    caller's transaction, as storage/inventory.py declares it: what their organisation did
    (their casts, RSVPs, drafts, the audit entries) stays, naming a pseudonym. The audit chain
    holds only tokens for their name and accounts; the rows those stand for are deleted, and
    the chain still verifies."""
    whom = await subject(session, person)
    done: dict[str, int] = {}
    kept: dict[str, int] = {}
    for entry in INVENTORY:
        table = entry.table
        if entry.fate == Fate.KEEP:
            held = await session.scalar(select(func.count()).select_from(table).where(entry.where(whom)))
            kept[entry.kind] = kept.get(entry.kind, 0) + (held or 0)
            continue
        if entry.fate == Fate.DELETE:
            changed = await session.execute(delete(table).where(entry.where(whom)))
        else:
            values = {name: becomes(whom, table.c[name]) for name, becomes in entry.becomes.items()}
            changed = await session.execute(update(table).where(entry.where(whom)).values(values))
        done[entry.kind] = done.get(entry.kind, 0) + rowcount(changed)
    await audit.record(session, actor="wgbot person erase", action="person.erased", subject=f"person:{person.id}")
    return Erasure(whom.pseudonym, done, kept, await where_named(session, whom.name))


async def where_named(session: AsyncSession, name: str) -> list[str]:
    """Every table and column whose text still holds `name` (any case), with how many rows."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | Text | JSON):
                continue
            held = await session.scalar(
                select(func.count())
                .select_from(table)
                .where(func.lower(cast(column, Text)).contains(name.lower(), autoescape=True))
            )
            if held:
                found.append(f"{table.name}.{column.name}: {counted(held, 'row')}")
    return found
