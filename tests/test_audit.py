"""The audit log shows tampering: change or remove any entry and verify names the first break."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import delete, select, text, update

from storage import audit
from storage.models import AuditEntry


async def _write(db, n: int) -> list[int]:
    ids = []
    for i in range(n):
        async with db.transaction() as session:
            entry = await audit.record(
                session, actor="person:1 Jana", action="vote.cast", subject=f"vote:{i}", details={"option": "yes"}
            )
            ids.append(entry.id)
    return ids


async def _verify(db) -> audit.ChainReport:
    async with db.transaction() as session:
        return await audit.verify(session)


async def test_an_untouched_log_verifies(db):
    await _write(db, 5)
    report = await _verify(db)
    assert report.intact
    assert report.rows == 5 + 3  # the founding groups' creation is audited too
    assert report.describe() == "audit log intact: 8 entries, every link verified"


async def test_an_edited_entry_is_named(db):
    ids = await _write(db, 5)
    async with db.transaction() as session:
        await session.execute(update(AuditEntry).where(AuditEntry.id == ids[2]).values(details={"option": "no"}))
    report = await _verify(db)
    assert report.broken_at == ids[2]
    assert report.describe() == f"audit log broken at entry {ids[2]}: its content (vote.cast vote:2) was changed"


async def test_a_removed_entry_breaks_the_link_of_the_next(db):
    ids = await _write(db, 5)
    async with db.transaction() as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    report = await _verify(db)
    assert report.broken_at == ids[2]
    assert "does not follow the entry before it" in report.problem


async def test_concurrent_appends_never_fork_the_chain(db):
    async def append(i: int) -> None:
        async with db.transaction() as session:
            await audit.record(session, actor="t", action="ballot.cast", subject=f"vote:{i}")

    await asyncio.gather(*(append(i) for i in range(20)))
    report = await _verify(db)
    assert report.intact and report.rows == 23
    async with db.transaction() as session:
        prevs = list(await session.scalars(select(AuditEntry.prev_hash)))
    assert len(prevs) == len(set(prevs))


async def test_an_act_that_rolls_back_leaves_no_audit_line(db):
    class Abort(Exception):
        pass

    try:
        async with db.transaction() as session:
            await audit.record(session, actor="t", action="group.created", subject="group:9")
            raise Abort
    except Abort:
        pass
    assert (await _verify(db)).rows == 3


ODD_DETAILS = {"name": "Ærø Øst — „Qualität“ 🐟", "quorum": 0.5, "nested": {"b": [1, 2.25, None], "a": True}}


async def test_entries_written_before_json_was_canonical_still_verify_and_a_change_to_them_shows(db):
    """Entries of a database older than canonical JSON storage keep their spelling of the
    details (spaces, escaped non-ASCII, keys unsorted): verify judges them by their content."""
    await _write(db, 2)
    async with db.transaction() as session:
        entry = await audit.record(
            session, actor="person:1 Jana", action="org.added", subject="org:1", details=ODD_DETAILS
        )
    await _write(db, 2)
    legacy = json.dumps(dict(reversed(list(ODD_DETAILS.items()))))  # the old, default spelling
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE audit_log SET details = :legacy WHERE id = :id"), {"legacy": legacy, "id": entry.id}
        )
    assert (await _verify(db)).intact
    tampered = legacy.replace("0.5", "0.25")
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE audit_log SET details = :tampered WHERE id = :id"), {"tampered": tampered, "id": entry.id}
        )
    report = await _verify(db)
    assert report.broken_at == entry.id


def test_the_entry_hash_is_the_sha256_of_the_whole_entry_as_canonical_json():
    """What anyone checking the chain without wgbot recomputes for each entry."""
    at = datetime(2026, 12, 2, 18, 31, 15, 634000, tzinfo=UTC)
    whole = {"prev": "0" * 64, "at": at.isoformat(timespec="microseconds"), "actor": "person:1 Jana"}
    whole |= {"action": "org.added", "subject": "org:1", "details": ODD_DETAILS}
    expected = hashlib.sha256(
        json.dumps(whole, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    assert audit.entry_hash("0" * 64, at, "person:1 Jana", "org.added", "org:1", ODD_DETAILS) == expected
