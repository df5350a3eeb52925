"""The async engine and the one way to open a unit of work.

SQLite is the embedded default and PostgreSQL the production database. On SQLite every
transaction starts with BEGIN IMMEDIATE: writers queue on the file lock up front instead of
failing half-way with "database is locked" when two commands arrive at the same instant.

SQLite runs in the event loop's own thread, through one connection. aiosqlite would hand each
call to a worker thread and back (four hops a statement, ~0.1 ms each here), which was most of
a command's time; an embedded database answers in microseconds, so the loop waits less by
calling it directly. One connection means transactions queue for it in asyncio, never on the
file lock inside the loop. The cost: a lock held by another process (an admin command at the
shell) is waited for in the loop, for as long as that short transaction lasts.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, cast

import aiosqlite
from sqlalchemy import Connection, CursorResult, Result, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.group_commit import GroupCommit

SQLITE_BUSY_TIMEOUT_MS = 30_000
T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE, DELETE or INSERT touched (`execute` is typed as a plain Result)."""
    return cast(CursorResult[Any], result).rowcount


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start (pysqlite's own
        # implicit BEGIN would be a deferred one).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # Said, not assumed from how SQLite was built: a commit is on disk before the reply.
        cursor.execute("PRAGMA synchronous=FULL")
        # What is deleted is overwritten, not left in free pages: an erased person's data is gone
        # from the file (Debian builds SQLite so; said here for every build).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, with calls made in the caller's thread instead of its worker's.

    The worker thread still opens and closes the connection; SQLAlchemy's adapter is unchanged.
    It is a daemon, so a connection left open by a crash cannot keep the process from exiting
    (SQLite's journal makes an unclosed connection safe).
    """

    def __init__(
        self,
        connector: Callable[[], sqlite3.Connection],
        iter_chunk_size: int,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(connector, iter_chunk_size, loop)
        self._thread.daemon = True

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def stopped(self, timeout: float) -> None:
        """Wait (on another thread than the loop's) until the connection's thread has ended."""
        self._thread.join(timeout)


def create_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        path = make_url(url).database or ":memory:"

        async def connect() -> InlineConnection:
            connection = InlineConnection(partial(sqlite3.connect, path, check_same_thread=False), 64)
            try:
                await connection  # opens it, in its thread
            except BaseException:
                # A file that cannot be opened: aiosqlite stops its thread without waiting for it,
                # and the thread then hands its answer to a loop that may be closed by then (a
                # traceback from the thread after wgbot's one line). It is waited for here.
                await asyncio.to_thread(connection.stopped, 5.0)
                raise
            return connection

        engine = create_async_engine(url, async_creator=connect, pool_size=1, max_overflow=0, pool_timeout=60)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


@dataclass
class Database:
    """The engine and its session factory; one per running bot (never a module global)."""

    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    group_commit: GroupCommit

    @classmethod
    def connect(cls, url: str) -> Database:
        engine = create_engine(url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        return cls(url, engine, sessions, GroupCommit(sessions))

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        async with self.sessions() as session, session.begin():
            yield session

    def command(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A chat command's unit of work: like `transaction`, but commands that arrive together
        share one durable commit (see storage/group_commit.py); it returns only once committed."""
        return self.group_commit.unit()

    async def forget_overwritten(self) -> None:
        """Empty an SQLite write-ahead log into the file: its older frames still hold pages as
        they were before the last changes (the file itself overwrites what is deleted, see
        `_tune_sqlite`). PostgreSQL keeps dead rows until VACUUM FULL, an operator's choice
        (see the README)."""
        path = make_url(self.url).database
        if not is_sqlite(self.url) or path in (None, "", ":memory:"):
            return

        def checkpoint() -> None:
            connection = sqlite3.connect(path, isolation_level=None)
            try:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.close()

        await asyncio.to_thread(checkpoint)

    async def close(self) -> None:
        await self.engine.dispose()
