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


async def test_two_processes_starting_at_once_on_a_new_database_both_start(empty_database_url, tmp_path):
    """Real processes, as two wgbot instances of a rolling deploy: each runs `wgbot db upgrade`."""
    import asyncio
    import os
    import sys
    from pathlib import Path

    wgbot = str(Path(sys.executable).with_name("wgbot"))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
    environment["WGBOT_DATABASE__URL"] = empty_database_url

    async def upgrade() -> tuple[int, bytes]:
        process = await asyncio.create_subprocess_exec(
            wgbot,
            "db",
            "upgrade",
            cwd=tmp_path,
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        return process.returncode, output

    results = await asyncio.gather(*(upgrade() for _ in range(3)))
    assert [code for code, _ in results] == [0, 0, 0], [output.decode()[-800:] for _, output in results]
    db = Database.connect(empty_database_url)
    try:
        assert not await migrate.pending(db)
    finally:
        await db.close()


def test_the_newest_revision_wgbot_checks_without_alembic_is_alembic_s_own_head():
    """storage.migrate reads the newest revision from the files' numbers (to skip loading Alembic
    when the schema is up to date): it must be the head Alembic's own history ends at."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [migrate.HEAD]
