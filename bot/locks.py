"""A lock that every wgbot process on one database respects: for work two processes must not do at
once, such as creating the alliance's Matrix rooms (the operator's `wgbot matrix setup` beside a
running bot would otherwise make each room twice).

PostgreSQL: a session-level advisory lock on a connection held for the purpose. SQLite: an
exclusive lock on a file beside the database. Either is released when the holder lets go or
dies, however it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import Database


@contextlib.asynccontextmanager
async def held(db: Database, name: str) -> AsyncIterator[None]:
    """Wait for the lock `name`, hold it for the block, let go after."""
    if db.is_postgres:
        key = int.from_bytes(hashlib.sha256(f"wgbot:{name}".encode()).digest()[:8], "big") & 0x7FFFFFFFFFFFFFFF
        async with db.engine.connect() as connection:
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            await connection.commit()
            try:
                yield
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await connection.commit()
        return
    database = make_url(db.url).database
    if not database or database == ":memory:":
        yield  # no file, so no other process can share the database
        return
    lock = await asyncio.to_thread(Path(f"{database}.{name}.lock").open, "ab")
    try:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        yield
    finally:
        lock.close()  # closing lets go of the lock
