"""Which wgbot process runs the scheduler and the postman.

Every process answers commands, but only one fires reminders and deadlines and delivers the
outbox, or two processes could each send the same notice. With PostgreSQL the leader is the
holder of a session-level advisory lock, on a connection kept open for the purpose: when that
process dies, PostgreSQL drops its session and its lock, and a follower, which keeps trying,
takes over. With SQLite the leader holds an exclusive lock on a file beside the database
(`<database>.lead`), which the operating system releases when the process ends, however it
ends; a second process on the same file (a console opened beside the running bot) follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.tasks import end
from storage.db import Database

log = logging.getLogger(__name__)
LOCK_KEY = 0x77676274_6C656164 & 0x7FFFFFFFFFFFFFFF  # "wgbtlead": one lock per database
CHECK_EVERY = 5.0  # seconds between a follower's tries, and between a leader's health checks


class Leadership:
    def __init__(
        self,
        db: Database,
        on_elected: Callable[[], Awaitable[None]],
        on_deposed: Callable[[], Awaitable[None]],
        check_every: float = CHECK_EVERY,
    ) -> None:
        self.db = db
        self.on_elected, self.on_deposed = on_elected, on_deposed
        self.check_every = check_every
        self.leading = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: AsyncConnection | None = None
        self._lock_file: IO[bytes] | None = None

    async def start(self) -> None:
        """Lead at once if the lock is free; else keep trying in the background."""
        await self._try_to_lead()
        self._task = asyncio.create_task(self._watch(), name="leadership")

    async def stop(self) -> None:
        if self._task:
            await end(self._task)
        if self.leading.is_set():
            await self._deposed()
        await self._release()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.check_every)
            if self.leading.is_set():
                if not await self._still_connected():
                    log.warning("leadership: lost the database session; handing over the scheduler")
                    await self._deposed()
                    await self._release()
            else:
                await self._try_to_lead()

    async def _try_to_lead(self) -> None:
        if not self.db.is_postgres:
            if self._lock_sqlite():
                await self._elected()
            else:
                log.debug("leadership: another process leads")
            return
        try:
            if self._connection is None:
                self._connection = await self.db.engine.connect()
            got = await self._connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY})
            await self._connection.commit()
        except Exception as error:
            log.warning("leadership: cannot reach the database (%s); will try again", error)
            await self._release()
            return
        if got:
            await self._elected()
        else:
            log.debug("leadership: another process leads")

    def _lock_sqlite(self) -> bool:
        database = make_url(self.db.url).database
        if not database or database == ":memory:":
            return True  # no file, so no other process can share it
        lock = Path(f"{database}.lead").open("ab")  # noqa: SIM115 - held for as long as this process leads
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            return False
        self._lock_file = lock
        return True

    async def _still_connected(self) -> bool:
        if not self.db.is_postgres:
            return True  # the file lock holds until this process lets go of it
        if self._connection is None:
            return False
        try:
            await self._connection.scalar(text("SELECT 1"))
            await self._connection.commit()
            return True
        except Exception:
            return False

    async def _elected(self) -> None:
        log.info("leadership: this process runs the scheduler and the postman")
        self.leading.set()
        try:
            await self.on_elected()
        except Exception as error:  # e.g. the database went away while the scheduler planned
            log.warning("leadership: could not take up the scheduler and the postman (%r); trying again", error)
            await self._deposed()
            await self._release()

    async def _deposed(self) -> None:
        self.leading.clear()
        await self.on_deposed()

    async def _release(self) -> None:
        """Closing the session (or the lock file) releases the lock (or it is already gone)."""
        if self._lock_file is not None:
            lock, self._lock_file = self._lock_file, None
            lock.close()
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                await connection.invalidate()
                await connection.close()
