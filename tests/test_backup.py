"""`wgbot backup` and `wgbot restore` round-trip a populated alliance, on SQLite and PostgreSQL,
through the real CLI: the restored database passes `audit verify` and lists the same people; a
damaged backup or a database that is not empty is refused in one line."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from storage.db import Database
from tests.alliance import member_organisation, person
from tests.conftest import _throwaway_postgres

WGBOT = str(Path(sys.executable).with_name("wgbot"))


def wgbot(*args: str, cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")} | variables
    return subprocess.run([WGBOT, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=environment)


@contextlib.asynccontextmanager
async def empty_database(like: str, tmp_path: Path, name: str):
    if like.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / name}.sqlite3"
    else:
        async with _throwaway_postgres() as url:
            yield url


async def test_a_backup_restores_into_an_empty_database_whole_and_verified(database_url, db, say, tmp_path):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    assert (await say('/vote open "Adopt the PFAS roadmap?"')).startswith("Vote #1 is open")
    assert await say("/vote 1 yes") == "Recorded: yes for ACME GmbH"
    (tmp_path / "files" / "ab").mkdir(parents=True)
    (tmp_path / "files" / "ab" / "draft.pdf").write_bytes(b"%PDF-1.7 a draft")
    store = tmp_path / "matrix-store"
    store.mkdir()
    with sqlite3.connect(store / "@wgbot:example.org_DEVICE.db") as keys:
        keys.execute("CREATE TABLE olm (account TEXT)")
        keys.execute("INSERT INTO olm VALUES ('pickled account')")
    (store / "RECOVERY-KEY.txt").write_text("EsT… never in a backup")
    source = {
        "WGBOT_DATABASE__URL": database_url,
        "WGBOT_FILES__PATH": str(tmp_path / "files"),
        "WGBOT_MATRIX__STORE_PATH": str(store),
    }

    made = wgbot("backup", "backup-1", cwd=tmp_path, **source)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("backed up to backup-1: 3 files")
    assert not (tmp_path / "backup-1" / "matrix-store" / "RECOVERY-KEY.txt").exists()
    again = wgbot("backup", "backup-1", cwd=tmp_path, **source)
    assert (again.returncode, again.stderr.strip()) == (1, "wgbot: backup-1 is not empty: back up into a new directory")

    async with empty_database(database_url, tmp_path, "restored") as target_url:
        target = {
            "WGBOT_DATABASE__URL": target_url,
            "WGBOT_FILES__PATH": str(tmp_path / "files-2"),
            "WGBOT_MATRIX__STORE_PATH": str(tmp_path / "store-2"),
        }
        restored = wgbot("restore", "backup-1", cwd=tmp_path, **target)
        assert restored.returncode == 0, restored.stderr
        verified = wgbot("audit", "verify", cwd=tmp_path, **target)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert (
            wgbot("person", "list", cwd=tmp_path, **target).stdout
            == wgbot("person", "list", cwd=tmp_path, **source).stdout
        )
        assert (tmp_path / "files-2" / "ab" / "draft.pdf").read_bytes() == b"%PDF-1.7 a draft"
        with sqlite3.connect(tmp_path / "store-2" / "@wgbot:example.org_DEVICE.db") as keys:
            assert keys.execute("SELECT account FROM olm").fetchall() == [("pickled account",)]
        restored_db = Database.connect(target_url)
        async with restored_db.transaction() as session:
            assert await session.scalar(text("SELECT count(*) FROM ballots")) == 1
        await restored_db.close()
        twice = wgbot("restore", "backup-1", cwd=tmp_path, **target)
        assert (twice.returncode, twice.stderr.strip()) == (
            1,
            "wgbot: the configured database is not empty: restore into a new, empty database",
        )

    damaged = tmp_path / "backup-1" / "files" / "ab" / "draft.pdf"
    damaged.write_bytes(b"%PDF-1.7 altered")
    async with empty_database(database_url, tmp_path, "restored-2") as target_url:
        refused = wgbot(
            "restore",
            "backup-1",
            cwd=tmp_path,
            WGBOT_DATABASE__URL=target_url,
            WGBOT_FILES__PATH=str(tmp_path / "files-3"),
        )
        assert refused.returncode == 1
        assert refused.stderr.strip() == (
            "wgbot: backup-1 is damaged: files/ab/draft.pdf is missing or not what was backed up; nothing was restored"
        )
        assert not (tmp_path / "files-3").exists()


def test_a_folder_that_holds_no_backup_is_refused_in_one_line(tmp_path):
    """No manifest, one that is not JSON, or JSON that wgbot did not write: one line, nothing restored."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'target.sqlite3'}"
    for name, manifest in [("none", None), ("garbled", "{not json"), ("foreign", "[1, 2]"), ("other", '{"a": 1}')]:
        folder = tmp_path / name
        folder.mkdir()
        if manifest is not None:
            (folder / "manifest.json").write_text(manifest)
        refused = wgbot("restore", name, cwd=tmp_path, WGBOT_DATABASE__URL=url)
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.strip().startswith(f"wgbot: {name} holds no wgbot backup ("), refused.stderr
        assert "Traceback" not in refused.stderr
