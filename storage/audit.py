"""The append-only, hash-chained audit log of governance acts.

Each row's hash covers its content and the previous row's hash, so changing or deleting any row
breaks every link after it, and `verify` names the first broken one. Rows are appended inside
the transaction of the act they record: the act and its audit line commit together or not at
all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, table_of, utcnow

GENESIS_HASH = "0" * 64
_LAST_HASH = select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
_APPEND = insert(table_of(AuditEntry))
# Any fixed number: the key of the PostgreSQL advisory lock that serialises appends.
_APPEND_LOCK_KEY = 0x77676F74


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, subject: str, details: dict[str, Any]) -> str:
    payload = json.dumps(
        {
            "prev": prev_hash,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one act to the log, in the caller's transaction."""
    if session.bind.dialect.name == "postgresql":
        # Concurrent appenders wait here rather than fail on the unique prev_hash.
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK_KEY})
    connection = await session.connection()
    prev_hash = await connection.scalar(_LAST_HASH) or GENESIS_HASH
    at = at or utcnow()
    details = details or {}
    row = dict(
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        details=details,
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, at, actor, action, subject, details),
    )
    # A plain insert, not a unit of work: the log is written on every ballot, and this is its
    # hot path. The statement is built once.
    inserted = await connection.execute(_APPEND, row)
    (entry_id,) = inserted.inserted_primary_key or (None,)
    return AuditEntry(id=entry_id, **row)


@dataclass(frozen=True)
class ChainReport:
    rows: int
    broken_at: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None

    def describe(self) -> str:
        if self.intact:
            return f"audit log intact: {self.rows} entries, every link verified"
        return f"audit log broken at entry {self.broken_at}: {self.problem}"


async def verify(session: AsyncSession) -> ChainReport:
    """Walk the chain from the first row and report the first link that does not hold."""
    expected_prev = GENESIS_HASH
    rows = 0
    result = await session.stream_scalars(select(AuditEntry).order_by(AuditEntry.id))
    async for entry in result:
        rows += 1
        if entry.prev_hash != expected_prev:
            return ChainReport(
                rows,
                entry.id,
                "it does not follow the entry before it (an entry was removed or reordered)",
            )
        actual = entry_hash(entry.prev_hash, entry.at, entry.actor, entry.action, entry.subject, entry.details)
        if actual != entry.hash:
            return ChainReport(rows, entry.id, f"its content ({entry.action} {entry.subject}) was changed")
        expected_prev = entry.hash
    return ChainReport(rows)
