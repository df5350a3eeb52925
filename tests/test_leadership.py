"""With several wgbot processes on one PostgreSQL database, exactly one runs the scheduler and
the postman, and another takes over when it dies. With SQLite the one bot always leads."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from bot.leadership import Leadership
from storage.db import Database


class Process:
    """One wgbot process's leadership, on its own engine (its own connections)."""

    def __init__(self, url: str) -> None:
        self.db = Database.connect(url)
        self.events: list[str] = []
        self.leadership = Leadership(self.db, self._elected, self._deposed, check_every=0.05)

    async def _elected(self) -> None:
        self.events.append("leads")

    async def _deposed(self) -> None:
        self.events.append("steps down")

    @property
    def leads(self) -> bool:
        return self.leadership.leading.is_set()

    async def close(self) -> None:
        await self.leadership.stop()
        await self.db.close()


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_one_process_leads_and_another_takes_over_when_it_dies_or_stops(database_url, db):
    first, second = Process(database_url), Process(database_url)
    try:
        await first.leadership.start()
        await second.leadership.start()
        assert first.leads and not second.leads  # SQLite too: a lock file beside the database
        if not db.is_postgres:
            await first.close()  # its process ends: the operating system releases the lock
            await until(lambda: second.leads)
            assert second.events == ["leads"]
            return
        await asyncio.sleep(0.3)  # the follower keeps trying, and keeps failing while the leader lives
        assert not second.leads and second.events == []

        # The leader's database session dies (its process was killed, its network went away).
        async with db.transaction() as session:
            killed = await session.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
        assert killed == 1
        await until(lambda: second.leads)
        await until(lambda: not first.leads)
        assert first.events == ["leads", "steps down"] and second.events == ["leads"]

        # The one that stepped down follows now: it does not take the lead back...
        await asyncio.sleep(0.3)
        assert not first.leads and second.leads
        # ...until the new leader stops (a clean shutdown hands over at the next try).
        await second.close()
        await until(lambda: first.leads)
        assert first.events == ["leads", "steps down", "leads"]
    finally:
        await first.close()
        await second.close()
