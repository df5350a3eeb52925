"""Checkpoints of the audit log, published where its database cannot reach.

A hash chain shows an entry changed or removed in the middle, but not a tail cut off (or
rewritten and hashed anew): what is left still chains. A checkpoint — the number of entries and
the hash of the last — is posted to the secretariat's rooms at every vote close and at least
daily; chat history is out of reach of whoever can write the database. `wgbot audit verify
--checkpoint <count>:<hash>` then proves the log still holds that prefix, unchanged;
without it, the last checkpoint the database itself remembers posting is checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import notices
from storage.errors import Refused
from storage.models import AuditEntry, Notice
from storage.rules.text import Say, Words, counted, in_english, quote

TOPIC = "audit:checkpoint"
_FORM = re.compile(r"(\d+):([0-9a-f]{64})")


@dataclass(frozen=True)
class Checkpoint:
    count: int
    head: str  # the hash of entry number `count` (in the order of the chain)

    def __str__(self) -> str:
        return f"{self.count}:{self.head}"

    @classmethod
    def read(cls, text: str) -> Checkpoint:
        found = _FORM.search(text.strip().lower())
        if found is None or int(found.group(1)) < 1:
            raise Refused("A checkpoint reads <count>:<64 hex digits>, the count from 1, not {text}.", text=quote(text))
        return cls(int(found.group(1)), found.group(2))


async def current(session: AsyncSession) -> Checkpoint | None:
    """The log as it stands (None while it is empty)."""
    count = await session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    head = await session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    return Checkpoint(count, head) if head else None


async def began(session: AsyncSession) -> datetime | None:
    """When the log's first entry was written (None while it is empty)."""
    first = await session.scalar(select(AuditEntry.at).order_by(AuditEntry.id).limit(1))
    return first


async def publish(session: AsyncSession, why: Words, say: Say = in_english) -> Checkpoint | None:
    """Post the log's checkpoint to the secretariat's rooms, in the caller's transaction, in the
    alliance's language as `say` says it (`last_published` finds the checkpoint in any wording)."""
    now = await current(session)
    if now is not None:
        posted = Words(
            "Audit checkpoint ({why}): {checkpoint}\nKeep it: `wgbot audit verify --checkpoint {checkpoint}` proves "
            "the log still holds every entry up to it, unchanged.",
            {"why": why, "checkpoint": str(now)},
        )
        await notices.to_secretariat(session, say(posted, None), topic=TOPIC)
    return now


async def last_published(session: AsyncSession) -> tuple[Checkpoint, datetime] | None:
    """The newest checkpoint this database remembers posting, and when."""
    row = (
        await session.execute(
            select(Notice.text, Notice.created_at).where(Notice.topic == TOPIC).order_by(Notice.id.desc()).limit(1)
        )
    ).first()
    if row is None:
        return None
    return Checkpoint.read(row.text), row.created_at


async def holds(session: AsyncSession, checkpoint: Checkpoint) -> str | None:
    """Whether the log still holds the prefix the checkpoint recorded; what is wrong if not."""
    count = await session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    if count < checkpoint.count:
        missing = checkpoint.count - count
        return (
            f"the log has {counted(count, 'entry', 'entries')}, but checkpoint {checkpoint.count}:"
            f"{checkpoint.head[:12]}… recorded {checkpoint.count}: {counted(missing, 'entry was', 'entries were')} removed"
        )
    head = await session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id).offset(checkpoint.count - 1).limit(1))
    if head != checkpoint.head:
        return (
            f"entry number {checkpoint.count} is not the one checkpoint {checkpoint.count}:{checkpoint.head[:12]}… "
            "recorded: the log was rewritten up to it"
        )
    return None
