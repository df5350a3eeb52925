"""Shared fixtures: real databases (SQLite and PostgreSQL), and an alliance to fill them with.

Each backend is migrated and seeded once per test session into a template; every test gets its
own copy (a file copy for SQLite, CREATE DATABASE … TEMPLATE for PostgreSQL), so tests never
share state and never pay for migrations twice.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from bot.config import Settings
from bot.router import Router
from bot.transports.base import Incoming
from handlers import build_registry
from storage import groups, migrate
from storage.db import Database
from storage.models import utcnow
from tests.alliance import message
from tests.synapse import Synapse, synapse_python

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_DSN = os.environ.get("WGBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def pg_url(database: str) -> str:
    """The asyncpg SQLAlchemy URL of one database on the test server."""
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


async def _pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _require_postgres() -> None:
    try:
        await _pg_admin("SELECT 1")
    except (OSError, asyncpg.PostgresError) as error:
        message = f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {error}"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must test PostgreSQL, never skip it silently
        pytest.skip(message)


async def _prepare(url: str, seed: bool) -> None:
    db = Database.connect(url)
    try:
        await migrate.upgrade(db)
        if seed:
            async with db.transaction() as session:
                await groups.seed_founding_groups(session)
    finally:
        await db.close()


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> dict[str, str]:
    """backend → a migrated, seeded template (a file path for SQLite, a database name for PG)."""
    made: dict[str, str] = {}
    yield made
    for backend, name in made.items():
        if backend == "postgres":
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}"'))


async def _template(templates: dict[str, str], backend: str, tmp_path_factory) -> str:
    if backend not in templates:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("template") / "template.sqlite3"
            await _prepare(f"sqlite+aiosqlite:///{path}", seed=True)
            templates[backend] = str(path)
        else:
            await _require_postgres()
            name = f"wgbot_template_{uuid.uuid4().hex[:8]}"
            await _pg_admin(f'CREATE DATABASE "{name}"')
            templates[backend] = name
            await _prepare(pg_url(name), seed=True)
    return templates[backend]


@pytest.fixture
async def database_url(request, templates, tmp_path, tmp_path_factory) -> AsyncIterator[str]:
    """A fresh, migrated and seeded database of the backend the test is parametrized with."""
    backend = getattr(request, "param", "sqlite")
    template = await _template(templates, backend, tmp_path_factory)
    if backend == "sqlite":
        path = tmp_path / "wgbot.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    async with _throwaway_postgres(template) as url:
        yield url


@pytest.fixture
async def empty_database_url(request, tmp_path) -> AsyncIterator[str]:
    """A database with no tables at all, for migration tests."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    await _require_postgres()
    async with _throwaway_postgres() as url:
        yield url


@asynccontextmanager
async def _throwaway_postgres(template: str | None = None) -> AsyncIterator[str]:
    """A database of its own for one test, cloned from `template` if given, dropped after."""
    name = f"wgbot_test_{uuid.uuid4().hex[:10]}"
    clone = f' TEMPLATE "{template}"' if template else ""
    await _pg_admin(f'CREATE DATABASE "{name}"{clone}')
    try:
        yield pg_url(name)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url) -> AsyncIterator[Database]:
    database = Database.connect(database_url)
    yield database
    await database.close()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory):
    """One real Synapse for the whole run (tests register their own users on it)."""
    if not synapse_python().exists():
        message = f"no Synapse at {synapse_python()}; .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = Synapse(tmp_path_factory.mktemp("synapse"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.model_validate(
        {"console": {"downloads": str(tmp_path / "downloads")}, "files": {"path": str(tmp_path / "files")}}
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def clock() -> Callable[[], datetime]:
    """What time it is for the router: now. A module that tells a story on its own calendar
    overrides this fixture (`return lambda: NOW`)."""
    return utcnow


@pytest.fixture
def router(db, settings, clock) -> Router:
    """wgbot's router over every area, on the test's database: what the console transport
    feeds. A module that needs another file source overrides this fixture."""
    return Router(db, build_registry(), settings, clock=clock)


class Say:
    """Someone writes to the bot; the answer's text comes back (and there must be one)."""

    def __init__(self, router: Router) -> None:
        self.router = router

    async def __call__(self, said: str | Incoming, sender: str = "jana", room: str = "pfas", **kwargs) -> str:
        incoming = said if isinstance(said, Incoming) else message(said, sender=sender, room=room, **kwargs)
        reply = await self.router.handle(incoming)
        assert reply is not None, f"no answer to {incoming.text!r}"
        return reply.text

    def using(self, router: Router) -> Say:
        """The same, through another router (e.g. one on the real clock)."""
        return Say(router)


@pytest.fixture
def say(router) -> Say:
    return Say(router)


def pytest_generate_tests(metafunc):
    """Tests that take `database_url` (directly or via `db`) run on both backends."""
    if "empty_database_url" in metafunc.fixturenames:
        metafunc.parametrize("empty_database_url", BACKENDS, indirect=True)
    elif "database_url" in metafunc.fixturenames and not metafunc.definition.get_closest_marker("sqlite_only"):
        metafunc.parametrize("database_url", BACKENDS, indirect=True)
