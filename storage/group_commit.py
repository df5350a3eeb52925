"""Group commit: commands that arrive together share one transaction and one durable commit.

A durable commit (an fsync on SQLite, a WAL flush on PostgreSQL) costs as much as all of a
ballot's statements, and every command pays it. When several commands are ready at the same
moment (a burst of votes after a reminder), the first opens a transaction and runs its unit of
work; those that come while it runs wait for their turn and run theirs in the same transaction,
one after another, each in its own SAVEPOINT (so a refused one is undone alone); then one commit
makes them all durable, and only then does any of them return. A command that comes alone runs
exactly as in a transaction of its own, with no SAVEPOINT.

Guarantees kept: nothing a unit did is visible outside before the commit; a unit that raises
leaves no trace and returns at once; if the commit fails, every unit of the group fails with it
(nothing was changed, which is what each one's caller is told).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

MOST_IN_A_GROUP = 32  # units sharing one commit at most: bounds how long the first one waits


@dataclass
class _Group:
    session: AsyncSession
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)  # one unit at a time in the session
    waiting: int = 0  # units that joined and have not finished
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # set when `waiting` falls to 0
    size: int = 1
    closing: bool = False  # committing: no one joins any more
    committed: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommit:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], most: int = MOST_IN_A_GROUP) -> None:
        self.sessions = sessions
        self.most = most
        self._open: _Group | None = None

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[AsyncSession]:
        """One unit of work, durable when the block ends (with those that came along with it)."""
        group = self._open
        if group is None or group.closing or group.size >= self.most:
            async with self._lead() as session:
                yield session
            return
        group.size += 1
        group.waiting += 1
        group.idle.clear()
        try:
            async with group.turn:
                session = group.session
                session.info.clear()  # what the units before this one noted is theirs
                async with session.begin_nested():
                    yield session
        finally:
            group.waiting -= 1
            if not group.waiting:
                group.idle.set()
        await asyncio.shield(group.committed)

    @asynccontextmanager
    async def _lead(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            group = _Group(session)
            self._open = group
            failure: BaseException | None = None
            try:
                await group.turn.acquire()
                await session.begin()
                try:
                    yield session
                except BaseException as raised:
                    failure = raised
                    await session.rollback()
                    if group.waiting:
                        await session.begin()  # the units that joined go on without this one
                group.turn.release()
                await self._let_the_others_run(group)
                group.closing = True
                if failure is None or session.in_transaction():
                    await session.commit()
                group.committed.set_result(None)
            except BaseException as error:
                group.closing = True
                if isinstance(error, asyncio.CancelledError):
                    group.committed.cancel()
                elif not group.committed.done():
                    group.committed.set_exception(error)
                    group.committed.exception()  # retrieved here: the joiners may all have failed
                raise
            finally:
                if self._open is group:
                    self._open = None
            if failure is not None:
                raise failure

    @staticmethod
    async def _let_the_others_run(group: _Group) -> None:
        """Until no unit is left: those ready to run now join before the commit."""
        while True:
            await asyncio.sleep(0)  # commands already received start their units and join
            if not group.waiting:
                return
            await group.idle.wait()
