"""`wgbot backup <dir>` and `wgbot restore <dir>`: everything a bot needs to come back, in one
directory with a manifest of SHA-256s.

- The database: SQLite through its online backup API (a consistent copy while the bot runs), or
  PostgreSQL through `pg_dump --format=custom` (restored with `pg_restore`).
- The file store: drafts and minutes, as they are.
- The Matrix crypto store, when Matrix is configured: its SQLite files through the backup API,
  the rest copied. The recovery key is never in it: it belongs somewhere else.

A restore checks every file against the manifest first. It goes only into an empty database, an
empty file store and an empty crypto store, so it can never mix two alliances' records.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import sqlite3
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TypedDict

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage import migrate
from storage.db import Database
from storage.errors import Refused
from storage.models import utcnow

MANIFEST = "manifest.json"
SQLITE_COPY = "wgbot.sqlite3"
PG_DUMP = "wgbot.pgdump"
FILES = "files"
MATRIX_STORE = "matrix-store"
NEVER_BACKED_UP = {"RECOVERY-KEY.txt"}  # kept apart from backups, by design


@dataclass(frozen=True)
class Where:
    """What a bot is made of, on this machine."""

    db: Database
    files: Path
    matrix_store: Path | None


class Manifest(TypedDict):
    """What a backup holds (manifest.json), written at backup and checked before a restore."""

    wgbot: str  # the version that wrote it
    created_at: str
    database: str  # "postgresql" or "sqlite"
    schema: list[str]  # the Alembic revisions it is at
    sha256: dict[str, str]  # each file's, by its path in the backup


async def backup(where: Where, target: Path) -> Manifest:
    """Write the backup into `target` (new or empty); the manifest."""
    await asyncio.to_thread(_new_directory, target)
    revision = sorted(await migrate.current(where.db))
    if where.db.is_postgres:
        await _pg("pg_dump", "--format=custom", "--no-owner", f"--file={target / PG_DUMP}", _libpq(where.db))
    else:
        await asyncio.to_thread(_sqlite_copy, _sqlite_path(where.db), target / SQLITE_COPY)
    return await asyncio.to_thread(_copy_stores_and_write_manifest, where, target, revision)


async def restore(where: Where, source: Path) -> Manifest:
    """Bring a backup back into an empty database (and empty stores); the manifest."""
    manifest = await asyncio.to_thread(_checked, source)
    if manifest["database"] != ("postgresql" if where.db.is_postgres else "sqlite"):
        raise Refused(f"{source} holds a {manifest['database']} database; the configured one is not")
    if not await _empty(where.db):
        raise Refused("the configured database is not empty: restore into a new, empty database")
    await asyncio.to_thread(_stores_empty, where, source)
    if where.db.is_postgres:
        await _pg("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq(where.db)}", str(source / PG_DUMP))
    else:
        await where.db.close()  # the file is replaced whole; the next use reopens it
        await asyncio.to_thread(shutil.copy2, source / SQLITE_COPY, _sqlite_path(where.db))
    await asyncio.to_thread(_restore_stores, where, source)
    return manifest


def _new_directory(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise Refused(f"{target} is a file: back up into a new directory")
    if target.exists() and any(target.iterdir()):
        raise Refused(f"{target} is not empty: back up into a new directory")
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise Refused(f"cannot make {target}: {error.strerror or error}") from None


def _copy_stores_and_write_manifest(where: Where, target: Path, revision: list[str]) -> Manifest:
    if where.files.is_dir():
        _copy_tree(where.files, target / FILES)
    if where.matrix_store is not None and where.matrix_store.is_dir():
        _copy_tree(where.matrix_store, target / MATRIX_STORE)
    manifest: Manifest = {
        "wgbot": package_version("wgbot"),
        "created_at": utcnow().isoformat(),
        "database": "postgresql" if where.db.is_postgres else "sqlite",
        "schema": revision,
        "sha256": {
            str(path.relative_to(target)): _sha256(path) for path in sorted(target.rglob("*")) if path.is_file()
        },
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _restore_stores(where: Where, source: Path) -> None:
    if (source / FILES).is_dir():
        shutil.copytree(source / FILES, where.files, dirs_exist_ok=True)
    if where.matrix_store is not None and (source / MATRIX_STORE).is_dir():
        shutil.copytree(source / MATRIX_STORE, where.matrix_store, dirs_exist_ok=True)


def _checked(source: Path) -> Manifest:
    """The backup's manifest, every file checked against it."""
    try:
        manifest: Manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError):
        raise Refused(f"{source} holds no wgbot backup (no readable {MANIFEST})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), dict) or "database" not in manifest:
        raise Refused(f"{source} holds no wgbot backup ({MANIFEST} is not one wgbot wrote)")
    for name, expected in manifest["sha256"].items():
        path = source / name
        if not path.is_file() or _sha256(path) != expected:
            raise Refused(f"{source} is damaged: {name} is missing or not what was backed up; nothing was restored")
    return manifest


def _stores_empty(where: Where, source: Path) -> None:
    for store, name in ((where.files, FILES), (where.matrix_store, MATRIX_STORE)):
        if store is not None and (source / name).is_dir() and store.exists() and any(store.iterdir()):
            raise Refused(f"{store} is not empty: restore into a new, empty directory")


async def _empty(db: Database) -> bool:
    async with db.transaction() as session:
        if db.is_postgres:
            count = await session.scalar(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
            )
        else:
            count = await session.scalar(text("SELECT count(*) FROM sqlite_master WHERE type = 'table'"))
    return not count


def _sqlite_path(db: Database) -> Path:
    database = make_url(db.url).database
    if not database or database == ":memory:":
        raise Refused("an in-memory database cannot be backed up or restored")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy even while another process writes."""
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)


def _copy_tree(source: Path, target: Path) -> None:
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.name in NEVER_BACKED_UP or path.suffix in (".partial", ".db-journal"):
            continue
        copied = target / path.relative_to(source)
        copied.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".db":
            _sqlite_copy(path, copied)
        else:
            shutil.copy2(path, copied)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as read:
        for block in iter(lambda: read.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _libpq(db: Database) -> str:
    """The database's address as PostgreSQL's own tools take it."""
    return make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg(tool: str, *args: str) -> None:
    if shutil.which(tool) is None:
        raise Refused(
            f"{tool} is not installed: install PostgreSQL's client tools (e.g. apt install postgresql-client)"
        )
    done = await asyncio.create_subprocess_exec(
        tool, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await done.communicate()
    if done.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise Refused(f"{tool} failed: {last[0]}")
