"""Opening the database for the bot and for admin commands, with one clear line when it fails.

Kept apart from `bot.app` so that an admin command at the shell loads the database layer only,
not the router, the transports and the HTTP server.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from storage import events, groups, migrate
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)
EVENT_MEMORY = timedelta(days=30)  # how long a handled event's id is remembered


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened; the message says where and what to check."""


FAILURES = (OSError, SQLAlchemyError, asyncpg.PostgresError)  # how a database that is away or locked fails


async def reachable(db: Database) -> None:
    """A first round trip, so that an unreachable or missing database is one clear line."""
    try:
        async with db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except FAILURES as error:
        await db.close()
        raise DatabaseUnavailable(
            f"cannot open the database {_where(db)} ({_cause(error)}); check [database] url (or "
            "WGBOT_DATABASE__URL) and that the server runs"
        ) from None


def _where(db: Database) -> str:
    return make_url(db.url).render_as_string(hide_password=True)


def _cause(error: BaseException) -> str:
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0]


class SchemaBehind(Exception):
    """The database needs `wgbot db upgrade` and the config forbids doing it on start."""


def _no_database(where: str) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"no database at {where}: run `wgbot db upgrade` first or set [database] url (or WGBOT_DATABASE__URL)"
    )


def refuse_a_new_file(url: str) -> None:
    """Refuse an SQLite URL whose file is not there yet: connecting would make a new, empty one."""
    parsed = make_url(url)
    name = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and name not in ("", ":memory:") and not Path(name).exists():
        raise _no_database(parsed.render_as_string(hide_password=True))


async def open_database(settings: Settings, *, may_create: bool = False) -> Database:
    """Connect, bring the schema up to date (or refuse to run on an old one), seed a new alliance.

    Only the bot itself (`run`, `console`) may begin a new alliance here (`may_create`): an admin
    command run in the wrong directory, or against the wrong database, would otherwise make an
    empty one there and report its changes as done."""
    url = settings.database.url
    if not may_create:
        refuse_a_new_file(url)
    db = Database.connect(url)
    await reachable(db)
    if not may_create and not await migrate.current(db):
        await db.close()
        raise _no_database(_where(db))
    try:
        if settings.database.upgrade_on_start:
            await migrate.upgrade(db, store_key=settings.matrix.store_key if settings.matrix else "")
        elif await migrate.pending(db):
            raise SchemaBehind("the database schema is behind: run `wgbot db upgrade` first")
        async with db.transaction() as session:
            for group in await groups.seed_founding_groups(session):
                log.info("created the founding working group %s", group.name)
            await events.forget_before(session, utcnow() - EVENT_MEMORY)
    except FAILURES as error:  # it answers but cannot be written: a read-only file, a full disk, no rights
        await db.close()
        raise DatabaseUnavailable(
            f"cannot write to the database {_where(db)} ({_cause(error)}); check that this user may write the "
            "database (for SQLite: the file and its folder) and that it has room"
        ) from None
    except BaseException:
        await db.close()
        raise
    return db
