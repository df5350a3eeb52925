"""The audit log shows tampering: change or remove any entry and verify names the first break."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select, update

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
