"""Schema migrations (Alembic), run from the program rather than from an alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from storage.db import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(connection: Connection, store_key: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["store_key"] = store_key  # for a migration that seals credentials (0023)
    return config


MIGRATION_LOCK = 0x77676D69  # any fixed number: the PostgreSQL advisory lock that serialises upgrades


async def upgrade(db: Database, revision: str = "head", store_key: str = "") -> None:
    """Bring the schema to `revision`. Processes starting at once take turns (on PostgreSQL an
    advisory lock held until the migration commits; SQLite's write lock does the same), so the
    second finds the work done instead of creating the same types and tables again. The bot
    passes its `store_key`, with which credentials are sealed."""
    async with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await connection.run_sync(lambda sync: command.upgrade(_config(sync, store_key), revision))


async def downgrade(db: Database, revision: str, store_key: str = "") -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(_config(sync, store_key), revision))


async def new_revision(db: Database, message: str) -> None:
    """Write a migration for whatever the models have that the database lacks (for developers)."""
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: command.revision(_config(sync), message=message, autogenerate=True))


async def current(db: Database) -> set[str]:
    """The revisions the database is at."""
    async with db.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads()))


async def applied_since(db: Database, before: set[str]) -> list[str]:
    """The revisions between `before` and where the database is now, oldest first."""
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

    def check(sync: Connection) -> bool:
        current = MigrationContext.configure(sync).get_current_heads()
        heads = ScriptDirectory.from_config(_config(sync)).get_heads()
        return set(current) != set(heads)

    async with db.engine.connect() as connection:
        return await connection.run_sync(check)
