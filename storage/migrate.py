"""Schema migrations (Alembic), run from the program rather than from an alembic.ini.

Every wgbot process opens the database through `upgrade` (or `pending`); when the schema is
already at the newest revision, which is nearly always, that is one SELECT and Alembic is never
loaded (it takes longer to import than an admin command takes to run). The newest revision is
the highest-numbered file in migrations/versions/ (`HEAD`); a test holds Alembic to the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from storage.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
# Revisions are numbered files (0023_sealed_credentials.py is revision "0023"), one after another.
HEAD = max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))
MIGRATION_LOCK = 0x77676D69  # any fixed number: the PostgreSQL advisory lock that serialises upgrades


def _config(connection: Connection, store_key: str = "") -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["store_key"] = store_key  # for a migration that seals credentials (0023)
    return config


async def at_head(db: Database) -> bool:
    """Whether the schema is at the newest revision, without loading Alembic."""
    try:
        async with db.engine.connect() as connection:
            found = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except SQLAlchemyError:  # a new database: no alembic_version table yet
        return False
    return list(found) == [HEAD]


async def upgrade(db: Database, revision: str = "head", store_key: str = "") -> None:
    """Bring the schema to `revision`. Processes starting at once take turns (on PostgreSQL an
    advisory lock held until the migration commits; SQLite's write lock does the same), so the
    second finds the work done instead of creating the same types and tables again. The bot
    passes its `store_key`, with which credentials are sealed."""
    if revision == "head" and await at_head(db):
        return
    from alembic import command

    async with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await connection.run_sync(lambda sync: command.upgrade(_config(sync, store_key), revision))


async def downgrade(db: Database, revision: str, store_key: str = "") -> None:
    from alembic import command

    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(_config(sync, store_key), revision))


async def new_revision(db: Database, message: str) -> None:
    """Write a migration for whatever the models have that the database lacks (for developers)."""
    from alembic import command

    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: command.revision(_config(sync), message=message, autogenerate=True))


async def current(db: Database) -> set[str]:
    """The revisions the database is at."""
    from alembic.migration import MigrationContext

    async with db.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads()))


async def applied_since(db: Database, before: set[str]) -> list[str]:
    """The revisions between `before` and where the database is now, oldest first."""
    from alembic.script import ScriptDirectory

    now = await current(db)
    async with db.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: [
                script.revision
                for script in reversed(
                    list(
                        ScriptDirectory.from_config(_config(sync)).iterate_revisions(
                            tuple(now), tuple(before) or "base"
                        )
                    )
                )
                if script.revision not in before
            ]
        )


async def pending(db: Database) -> bool:
    """True when the database is behind the newest migration."""
    return not await at_head(db)
