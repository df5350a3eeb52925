"""Two records of one person become one: what was added twice (a second "Sofia Marchetti" made
for her Telegram account) is merged into the record that stays.

Every row that names the other record by its id (storage/inventory.py lists them) moves to the
kept one: accounts, roles, casts, ballots, drafts, comments, RSVPs, agenda items, minutes,
invitations, link codes, the votes and announcements they started, and the personal data the
audit log keeps apart (so erasing the kept person later erases it too). Where both records hold
the same thing (an RSVP to one meeting, one role), the kept record's stays. Labels of their
acts ("person:11 via telegram") name the kept record. The audit log's entries stay as they were
hashed; the merge itself is an entry that says which record became which, and `wgbot person
export` follows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, PrimaryKeyConstraint, Table, UniqueConstraint, and_, delete, exists, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.db import rowcount
from storage.errors import Refused
from storage.inventory import act_labels, person_id_columns
from storage.models import Person, RoleAssignment, RoleName


@dataclass
class Merged:
    """What a merge moved, by table, and what it had to settle."""

    kept: Person
    other_id: int
    moved: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)  # held by both: the kept record's stays
    notes: list[str] = field(default_factory=list)


class Conflict(Refused):
    """The two records disagree on something only one person can be (which organisation they
    represent); merging needs the operator to say that the kept record is right."""


async def merge(session: AsyncSession, *, actor: str, keep: Person, other: Person, force: bool = False) -> Merged:
    """Merge `other` into `keep`, in the caller's transaction (audited). Refused (Conflict) when
    they represent different organisations, unless `force`: then `keep`'s organisation stays."""
    if keep.id == other.id:
        one = f"that is one person already (#{keep.id})"  # the operator's shell speaks English
        raise Refused(one)
    done = Merged(keep, other.id)
    if other.organisation_id is not None and keep.organisation_id not in (None, other.organisation_id):
        if not force:
            differ = f"#{keep.id} and #{other.id} represent different organisations"
            raise Conflict(differ)
        done.notes.append(f"#{other.id} represented organisation #{other.organisation_id}; #{keep.id}'s stays")
        await _drop_chairs(session, other, done)
    keep.organisation_id = keep.organisation_id or other.organisation_id
    keep.timezone = keep.timezone or other.timezone
    keep.language = keep.language or other.language
    for column in person_id_columns():
        await _move(session, column, keep.id, other.id, done)
    for label in act_labels():
        changed = await session.execute(
            update(label.table)
            .where(label.like(f"person:{other.id} %") | (label == f"person:{other.id}"))
            .values({label.name: func.replace(label, f"person:{other.id}", f"person:{keep.id}")})
        )
        _count(done.moved, f"{label.table.name}.{label.name}", rowcount(changed))
    await session.execute(delete(Person).where(Person.id == other.id))
    await audit.record(
        session,
        actor=actor,
        action="person.merged",
        subject=f"person:{keep.id}",
        details={"merged": other.id, "moved": done.moved, "dropped": done.dropped, "forced": force},
    )
    await session.flush()
    return done


async def _drop_chairs(session: AsyncSession, other: Person, done: Merged) -> None:
    """A chair represents a member organisation: the other record's chairs end with its organisation."""
    chairs = await session.execute(
        delete(RoleAssignment).where(RoleAssignment.person_id == other.id, RoleAssignment.role == RoleName.CHAIR)
    )
    _count(done.dropped, "role_assignments (chairs of the other organisation)", rowcount(chairs))


async def _move(session: AsyncSession, column: Column[Any], keep: int, other: int, done: Merged) -> None:
    """The other record's rows of one table move to the kept one; a row the kept record holds
    too (by a unique key of that table) stays the kept record's, and the other's is dropped."""
    table = column.table
    assert isinstance(table, Table)
    for unique in _unique_keys(table, column):
        kept = table.alias("kept")
        same = and_(
            kept.c[column.name] == keep,
            *(kept.c[c.name].is_not_distinct_from(c) for c in unique if c.name != column.name),
        )
        dropped = await session.execute(delete(table).where(column == other, exists().where(same)))
        _count(done.dropped, table.name, rowcount(dropped))
    moved = await session.execute(update(table).where(column == other).values({column.name: keep}))
    _count(done.moved, table.name, rowcount(moved))


def _unique_keys(table: Table, column: Column[Any]) -> list[list[Column[object]]]:
    """The unique keys of `table` (primary key, constraints, unique indexes) that include
    `column`. A partial index's key takes the columns its condition names too, so two rows
    count as the same only where the index holds for both ("group_id IS NULL")."""
    keys: list[list[Column[object]]] = []
    for constraint in table.constraints:
        if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint):
            keys.append(list(constraint.columns))
    for index in table.indexes:
        if index.unique:
            where = index.dialect_options["postgresql"].get("where")
            condition = "" if where is None else str(where)
            indexed = {c.name for c in index.columns}
            named = [c for c in table.columns if condition and c.name in condition and c.name not in indexed]
            keys.append([*index.columns, *named])
    return [key for key in keys if column.name in {c.name for c in key} and len(key) > 1]


def _count(into: dict[str, int], name: str, count: int) -> None:
    if count:
        into[name] = into.get(name, 0) + count
