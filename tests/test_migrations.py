"""The schema comes from migrations alone, on both databases, and matches the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from storage import migrate
from storage.db import Database
from storage.models import Base


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def _drift(db: Database) -> list:
    async with db.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata)
        )


async def test_migrations_build_the_whole_schema_from_empty(empty_database_url):
    db = Database.connect(empty_database_url)
    try:
        assert await migrate.pending(db)
        await migrate.upgrade(db)
        assert not await migrate.pending(db)
        assert set(Base.metadata.tables) <= await _tables(db)
        assert await _drift(db) == [], "the models changed without a migration"
    finally:
        await db.close()


async def test_migrations_go_down_to_nothing_and_up_again(empty_database_url):
    db = Database.connect(empty_database_url)
    try:
        await migrate.upgrade(db)
        await migrate.downgrade(db, "base")
        assert await _tables(db) <= {"alembic_version"}
        await migrate.upgrade(db)
        assert await _drift(db) == []
    finally:
        await db.close()
