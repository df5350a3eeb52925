"""No traceback anywhere, as an operator meets wgbot's edges with real processes: a reader that
closes the pipe early, Ctrl-C or SIGTERM at any moment of a console burst, a database file that
cannot be written or a folder that does not exist, two processes starting together on a new
PostgreSQL database. Each ends in one line or silence, with an exit status that says what
happened, and the audit log verifies after."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from storage import audit, migrate
from storage.db import Database
from storage.models import Organisation, OrganisationKind, OrganisationStatus, WorkingGroup
from tests.conftest import _pg_admin, _require_postgres, pg_url

WGBOT = str(Path(sys.executable).with_name("wgbot"))
pytestmark = pytest.mark.sqlite_only  # each test picks its database itself


def environment(url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
    return clean | {"WGBOT_DATABASE__URL": url, "WGBOT_LOGGING__LEVEL": "WARNING"}


async def wgbot(*args: str, url: str, cwd: Path, stdin: bytes = b"") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        WGBOT,
        *args,
        cwd=cwd,
        env=environment(url),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    return process.returncode, out.decode(), err.decode()


async def a_database(path: Path, organisations: int = 0) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    db = Database.connect(url)
    try:
        await migrate.upgrade(db)
        if organisations:
            async with db.transaction() as session:
                await session.execute(
                    insert(Organisation),
                    [
                        {
                            "name": f"Organisation {n:05d} of a rather long name, for a long line",
                            "name_key": f"organisation {n:05d}",
                            "country": "DE",
                            "kind": OrganisationKind.INDUSTRY,
                            "status": OrganisationStatus.MEMBER,
                        }
                        for n in range(organisations)
                    ],
                )
    finally:
        await db.close()
    return url


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(tmp_path):
    """`wgbot org list | head -3`, with more to print than a pipe holds."""
    url = asyncio.run(a_database(tmp_path / "wgbot.sqlite3", organisations=3000))
    for _ in range(3):
        listing = subprocess.Popen(
            [WGBOT, "org", "list"], cwd=tmp_path, env=environment(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        first = [listing.stdout.readline() for _ in range(3)]
        listing.stdout.close()  # the reader goes, as `head` does
        errors = listing.stderr.read().decode()
        listing.wait(30)
        assert all(line.startswith(b"#") for line in first)
        assert errors == "" and listing.returncode == 128 + signal.SIGPIPE, errors


async def test_sigint_or_sigterm_at_any_moment_of_a_console_burst_ends_cleanly(tmp_path):
    """Ten Ctrl-C in the middle of a burst (the console answering, a command's transaction, the
    wait for the next line) and four SIGTERM at any moment, start-up included. Silence on
    stderr; 130 or 143 (or, for a SIGTERM in the interpreter's first milliseconds, before wgbot
    runs a line, the death by the signal that shells also report as 143)."""
    template = tmp_path / "template.sqlite3"
    await a_database(template)
    burst = b"/whoami\n/wg list\n/tz Europe/Rome\n/decisions\n" * 200

    async def interrupted(run: int, signum: int) -> tuple[int, str, int]:
        home = tmp_path / f"run-{run}"
        home.mkdir()
        shutil.copyfile(template, home / "wgbot.sqlite3")
        process = await asyncio.create_subprocess_exec(
            WGBOT,
            "console",
            cwd=home,
            env=environment(f"sqlite+aiosqlite:///{home / 'wgbot.sqlite3'}"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        process.stdin.write(burst)
        answered = b""
        if signum == signal.SIGINT:  # mid-burst: once it answers
            answered = await asyncio.wait_for(process.stdout.readline(), 60)
        await asyncio.sleep(random.uniform(0.0, 1.5 if answered else 4.0))
        process.send_signal(signum)
        out, err = await asyncio.wait_for(process.communicate(), 60)
        return process.returncode, err.decode(), len(answered + out)

    runs = [(n, signal.SIGINT) for n in range(10)] + [(n, signal.SIGTERM) for n in range(10, 14)]
    slots = asyncio.Semaphore(4)

    async def one(run: int, signum: int) -> tuple[int, str, int]:
        async with slots:
            return await interrupted(run, signum)

    ended = await asyncio.gather(*(one(run, signum) for run, signum in runs))
    for (run, signum), (status, errors, _) in zip(runs, ended, strict=True):
        assert errors == "", f"run {run}: {errors[-1500:]}"
        assert status in (128 + signum, -signum), f"run {run} ended with {status}"
        db = Database.connect(f"sqlite+aiosqlite:///{tmp_path / f'run-{run}' / 'wgbot.sqlite3'}")
        try:
            async with db.transaction() as session:
                assert (await audit.verify(session)).intact
        finally:
            await db.close()
    assert any(size > 0 for *_, size in ended), "no run answered a command before its signal"


def writable(path: Path) -> None:
    subprocess.run(["chattr", "-i", str(path)], capture_output=True)  # so that pytest can remove it


def read_only(path: Path) -> None:
    """A file this process cannot write, even as root (which ignores permissions but not the
    immutable attribute)."""
    path.chmod(0o444)
    if os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without chattr: no file here is read-only")


async def test_a_database_that_cannot_be_written_or_found_is_one_line_every_time(tmp_path):
    """Twenty starts each on a read-only file and in a missing folder, by `wgbot org list`,
    `wgbot console` and `wgbot run` (with a platform configured, so it gets as far as the database)."""
    frozen = tmp_path / "frozen.sqlite3"
    await a_database(frozen)
    await asyncio.to_thread(read_only, frozen)
    config = tmp_path / "config.toml"
    config.write_text('[telegram]\ntoken = "123456:ABC-the-database-comes-first"\n')
    missing = tmp_path / "no" / "such" / "folder" / "wgbot.sqlite3"
    commands = [("console",), ("-c", str(config), "run")] + [("org", "list")] * 8  # a run loads the most
    starts = [(where, commands[n % len(commands)]) for where in (frozen, missing) for n in range(20)]
    slots = asyncio.Semaphore(6)

    async def start(path: Path, command: tuple[str, ...]) -> tuple[int, str, str]:
        async with slots:
            return await wgbot(*command, url=f"sqlite+aiosqlite:///{path}", cwd=tmp_path, stdin=b"/whoami\n")

    try:
        ended = await asyncio.gather(*(start(path, command) for path, command in starts))
    finally:
        await asyncio.to_thread(writable, frozen)
    for (path, command), (status, _, errors) in zip(starts, ended, strict=True):
        lines = errors.strip().splitlines()
        assert status == 1 and len(lines) == 1, f"{' '.join(command)} on {path.name}: {errors[-1500:]}"
        if path == frozen:
            wanted = "cannot write to the database"
        else:  # an admin command does not begin a new database; the bot would, but cannot
            wanted = "no database at" if command == ("org", "list") else "cannot open the database"
        assert lines[0].startswith(f"wgbot: {wanted}"), lines[0]
    assert not missing.parent.exists()  # and nothing was made where nothing was asked for


@pytest.mark.postgres
async def test_two_processes_starting_together_on_a_new_postgresql_database_both_start(tmp_path):
    """Twenty new databases, each with two `wgbot console` started at the same instant: both
    migrate in turn, one seeds the founding groups, neither fails. (An admin command refuses a
    database wgbot has not set up; `db upgrade`, `run` and `console` may begin one.)"""
    await _require_postgres()
    names = [f"wgbot_pair_{uuid.uuid4().hex[:10]}" for _ in range(20)]
    slots = asyncio.Semaphore(4)

    async def pair(name: str) -> list[tuple[int, str, str]]:
        async with slots:
            await _pg_admin(f'CREATE DATABASE "{name}"')
            return list(
                await asyncio.gather(
                    *(wgbot("console", url=pg_url(name), cwd=tmp_path, stdin=b"/wg list\n") for _ in range(2))
                )
            )

    try:
        started = await asyncio.gather(*(pair(name) for name in names))
        for name, both in zip(names, started, strict=True):
            for status, _, errors in both:
                assert (status, errors) == (0, ""), f"{name}: {errors[-1500:]}"
            db = Database.connect(pg_url(name))
            try:
                async with db.transaction() as session:
                    assert await session.scalar(select(func.count()).select_from(WorkingGroup)) == 3
                    assert (await audit.verify(session)).intact
            finally:
                await db.close()
    finally:
        for name in names:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
