"""The shell's commands (`wgbot org add`, `wgbot decisions export`, …), as the areas contribute
them: each is a `ShellAction`, given the settings and the parsed command line, that returns the
exit status. `bot/cli.py` keeps the command line's tables (so `wgbot --help` loads nothing
else); an area's `shell` maps each of its commands' names there to what it does.

What most of them share lives here: opening the database and closing it after (`database`),
one audited transaction acting as the operator at the shell (`admin`), and writing a file the
operator named, or standard output (`write`).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.database import open_database
from storage.db import Database
from storage.errors import Refused


class Declined(Refused):
    """A shell command's refusal. The shell speaks to the operator in English, so these are not
    offered for translation (bot/i18n.py extracts `Refused`, not `Declined`)."""


# A shell command: the settings and the parsed command line in, the exit status out.
ShellAction = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]
# An administrative change in one transaction, as `operator()`; what it prints is its report.
AdminAction = Callable[[AsyncSession, str, argparse.Namespace], Awaitable[None]]


def operator() -> str:
    """How records name whoever acts at the shell: `cli:<login>`."""
    return f"cli:{getpass.getuser()}"


@asynccontextmanager
async def database(settings: Settings, *, may_create: bool = False) -> AsyncIterator[Database]:
    """The database, up to date (see bot/database.py), closed when the command is done."""
    db = await open_database(settings, may_create=may_create)
    try:
        yield db
    finally:
        await db.close()


def admin(action: AdminAction) -> ShellAction:
    """An administrative change run in one transaction as the operator (every change it makes
    writes its own audit line); a refusal undoes it whole."""

    async def run(settings: Settings, args: argparse.Namespace) -> int:
        async with database(settings) as db, db.transaction() as session:
            await action(session, operator(), args)
        return 0

    return run


def write(content: bytes, output: Path | None) -> int:
    """A file the command made: to `output`, or to standard output as it is (bytes)."""
    if output:
        write_file(output, content)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    return 0


def write_file(path: Path, content: bytes) -> None:
    """Write a file the operator named; a folder that is not there or not writable is one line."""
    try:
        path.write_bytes(content)
    except OSError as error:
        raise Declined(f"cannot write {path}: {error.strerror or error}; nothing was written") from None
