"""The running bot: storage, router and transports, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta
from collections.abc import Sequence

from bot.config import Settings
from bot.router import Router
from bot.transports.base import Incoming, Transport
from handlers import build_registry
from storage import events, groups, migrate
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)
EVENT_MEMORY = timedelta(days=30)  # how long a handled event's id is remembered


class SchemaBehind(Exception):
    """The database needs `wgbot db upgrade` and the config forbids doing it on start."""


async def open_database(settings: Settings) -> Database:
    """Connect, bring the schema up to date (or refuse to run on an old one), seed a new alliance."""
    db = Database.connect(settings.database.url)
    try:
        if settings.database.upgrade_on_start:
            await migrate.upgrade(db)
        elif await migrate.pending(db):
            raise SchemaBehind("the database schema is behind: run `wgbot db upgrade` first")
        async with db.transaction() as session:
            for group in await groups.seed_founding_groups(session):
                log.info("created the founding working group %s", group.name)
            await events.forget_before(session, utcnow() - EVENT_MEMORY)
    except BaseException:
        await db.close()
        raise
    return db


class App:
    """One process serving every configured platform from one database."""

    def __init__(self, settings: Settings, db: Database, transports: Sequence[Transport]) -> None:
        self.settings = settings
        self.db = db
        self.transports = list(transports)
        self.router = Router(db, build_registry(), settings)
        self._stopping = asyncio.Event()

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Serve until a signal arrives or a transport ends (the console at end of input)."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.request_stop)
        started: list[Transport] = []
        try:
            for transport in self.transports:
                await transport.start(self._receiver(transport))
                started.append(transport)
                log.info("%s transport started", transport.platform)
            waits = [asyncio.create_task(self._stopping.wait())]
            waits += [asyncio.create_task(t.finished.wait()) for t in started]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for wait in waits:
                wait.cancel()
        finally:
            for transport in reversed(started):
                try:
                    await transport.stop()
                except Exception:
                    log.exception("%s transport did not stop cleanly", transport.platform)
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)

    def _receiver(self, transport: Transport):
        async def on_incoming(incoming: Incoming) -> None:
            reply = await self.router.handle(incoming)
            if reply is None:
                return
            try:
                await transport.send(incoming.room, reply)
            except Exception:
                log.exception("could not answer %s in %s", incoming.event_id, incoming.room)

        return on_incoming
