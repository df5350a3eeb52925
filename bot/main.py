"""What each `wgbot` command does (`bot.cli` reads the command line and calls `perform`). The
composition root: the one bot/ module that hands the areas of handlers/ to the bot.

It keeps what belongs to the running program itself: serving (`run`, `console`), the schema
(`db upgrade`, `db revision`), backups, the bot's Matrix account and the outbox. Every other
shell command is its area's (each `Area.shell`, e.g. `wgbot org add` in handlers/members.py).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.backup import Manifest, Where, backup, restore
from bot.config import ConfigError, Settings, load_settings, matrix_store_path, stray_variables
from bot.database import DatabaseUnavailable, SchemaBehind, reachable, refuse_a_new_file
from bot.logs import keep_secrets_out
from bot.shell import Declined, ShellAction, admin, database, operator
from bot.transports.base import TransportUnavailable
from storage import migrate, notices
from storage.db import Database
from storage.errors import Refused
from storage.rules.text import counted

if TYPE_CHECKING:
    from bot.transports.console import ConsoleTransport

log = logging.getLogger("wgbot")


def perform(args: argparse.Namespace, *, platforms: bool) -> int:
    """Carry out the command `bot.cli` read, with its settings loaded and logging set up."""
    try:
        settings = load_settings(args.config, platforms=platforms)
    except ConfigError as error:
        problems = str(error).splitlines()  # one line for one problem; a list for several
        said = f" {problems[0]}" if len(problems) == 1 else "\n" + "\n".join(problems)
        print(f"wgbot: configuration problem:{said}", file=sys.stderr)
        return 2
    serves_console = args.action == "console" or (
        args.action == "run" and not settings.matrix and not settings.telegram
    )
    _log_as_configured(settings, quiet=serves_console)
    try:
        return asyncio.run(commands()[args.action](settings, args))
    except Refused as refused:
        print(f"wgbot: {refused.shell or refused}", file=sys.stderr)
        return 1
    except (SchemaBehind, TransportUnavailable, DatabaseUnavailable) as error:
        print(f"wgbot: {error}", file=sys.stderr)
        return 1


def commands() -> Mapping[str, ShellAction]:
    """Every shell command by the name bot/cli.py gives it: the program's own, then each area's
    (a name two of them claim is a mistake, stopped here)."""
    from handlers import AREAS

    owned: dict[str, ShellAction] = dict(PROGRAM)
    for area in AREAS:
        for name, action in area.shell.items():
            if name in owned:
                raise RuntimeError(f"two owners for the shell command {name!r}")
            owned[name] = action
    return owned


def _log_as_configured(settings: Settings, *, quiet: bool) -> None:
    level = logging.getLevelName(settings.logging.level)
    if quiet:  # a console: the conversation, not the log, is the point (warnings still say what went wrong)
        level = max(level, logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if settings.logging.format == "json":
        from pythonjsonlogger.json import JsonFormatter

        json_lines = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
        for handler in logging.getLogger().handlers:
            handler.setFormatter(json_lines)
    keep_secrets_out(logging.getLogger().handlers, settings)
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))  # db upgrade says what it did
    for stray in stray_variables(dict(os.environ)):
        log.warning("%s", stray)


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    if settings.matrix is None and settings.telegram is None and not sys.stdin.isatty():
        # Under systemd or in a container this is a deployment whose secrets did not arrive.
        print(
            "wgbot: no chat platform is configured ([matrix] or [telegram], or WGBOT_TELEGRAM__TOKEN…) and "
            "there is no terminal for the console; `wgbot console` serves the console on purpose",
            file=sys.stderr,
        )
        return 2
    from bot.app import App, chat_transports
    from bot.areas import registry_of
    from handlers import AREAS

    async with database(settings, may_create=True) as db:
        transports = chat_transports(settings, db, registry_of(AREAS))
        if not transports:
            log.info("no chat platform is configured: serving the console")
            transports = [_console_transport(settings, args)]
        app = App(settings, db, transports, AREAS)
        await app.run()
    if app.ended_by is not None:  # the log says why; exit 1 has the supervisor start it again
        print(f"wgbot: the {app.ended_by} connection ended; stopped", file=sys.stderr)
        return 1
    return 0


async def _console(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import App
    from handlers import AREAS

    transport = _console_transport(settings, args)
    async with database(settings, may_create=True) as db:
        await App(settings, db, [transport], AREAS).run()
    return 0


def _console_transport(settings: Settings, args: argparse.Namespace) -> ConsoleTransport:
    from bot.transports.console import ConsoleTransport

    chosen = {"user": getattr(args, "user", None), "room": getattr(args, "room", None)}
    transport = ConsoleTransport(settings.console.model_copy(update={k: v for k, v in chosen.items() if v}))
    if transport.interactive:
        import readline  # noqa: F401  (line editing and history for input())
    return transport


async def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    db = Database.connect(settings.database.url)
    await reachable(db)
    try:
        before = await migrate.current(db)
        await migrate.upgrade(db)
        applied = await migrate.applied_since(db, before)
    finally:
        await db.close()
    print(f"applied {', '.join(applied)}; " if applied else "nothing to apply; ", end="")
    print("database schema is up to date")
    return 0


async def _db_revision(settings: Settings, args: argparse.Namespace) -> int:
    db = Database.connect(settings.database.url)
    try:
        await migrate.new_revision(db, args.message)
    finally:
        await db.close()
    return 0


async def _backup(settings: Settings, args: argparse.Namespace) -> int:
    refuse_a_new_file(settings.database.url)
    manifest = await _with_parts(settings, args, backup)
    print(
        f"backed up to {args.dir}: {counted(len(manifest['sha256']), 'file')}, schema {', '.join(manifest['schema'])}"
    )
    print("manifest.json lists their sha256; keep the store key and the recovery key apart from this backup")
    return 0


async def _restore(settings: Settings, args: argparse.Namespace) -> int:
    manifest = await _with_parts(settings, args, restore)
    print(f"restored the backup of {manifest['created_at']} ({counted(len(manifest['sha256']), 'file')} checked)")
    print("next: wgbot db upgrade (if this wgbot is newer), then wgbot audit verify")
    return 0


async def _with_parts(
    settings: Settings, args: argparse.Namespace, act: Callable[[Where, Path], Awaitable[Manifest]]
) -> Manifest:
    """Backup and restore work on the database as it is: no schema check, no migration."""
    db = Database.connect(settings.database.url)
    try:
        await reachable(db)
        return await act(Where(db, settings.files.path, matrix_store_path(args.config)), args.dir)
    finally:
        await db.close()


async def _matrix_setup(settings: Settings, args: argparse.Namespace) -> int:
    from bot.transports.matrix_setup import set_up  # nio loads only for the commands that need it

    async with database(settings) as db:
        done = await set_up(db, settings, actor=operator())
    print("\n".join(done.report()))
    return 0


async def _matrix_cross_sign(settings: Settings, args: argparse.Namespace) -> int:
    if settings.matrix is None:
        raise Declined("no [matrix] section is configured")
    if not settings.matrix.encryption:
        raise Declined("Matrix encryption is off (encryption = false): there is nothing to cross-sign")
    recovery_key = ""
    if args.recover:
        prompt = "recovery key: "
        recovery_key = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline().strip()
    from bot.app import matrix_transport

    async with database(settings) as db:
        transport = matrix_transport(settings, db)
        new_key = await transport.set_up_identity(recovery_key=recovery_key, reset=args.reset)
        device = transport.client.device_id
    if new_key is not None:
        print(f"device {device} is cross-signed with new keys. Their recovery key, shown this once; keep it safe:")
        print(new_key)
    elif recovery_key:
        print(f"cross-signing keys recovered into {settings.matrix.store_path}; device {device} is signed")
    else:
        print(f"device {device} is cross-signed; nothing to do")
    return 0


async def _outbox_list(session: AsyncSession, actor: str, args: argparse.Namespace) -> None:
    waiting = await notices.undelivered(session)
    for notice in waiting:
        where = f"{notice.platform}:{'user ' if notice.direct else ''}{notice.target}"
        # A private message may carry a secret (a link code): the operator sees that there is one.
        shown = "(private message)" if notice.direct else _one_line(notice.text, 60)
        why = f"\t{notice.last_error}" if notice.last_error else ""
        tries = counted(notice.attempts, "try", "tries")
        print(f"#{notice.id}\t{notice.status.value}\t{tries}\t{where}\t{shown}{why}")
    print(f"{len(waiting)} undelivered" if waiting else "the outbox is empty: everything was delivered")


async def _outbox_retry(session: AsyncSession, actor: str, args: argparse.Namespace) -> None:
    wanted = await notices.failed_ids(session) if args.failed else args.ids
    found = await notices.retry(session, wanted, actor=actor)
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise Declined(f"no undelivered notice {', '.join(f'#{n}' for n in missing)}; nothing was changed")
    print(f"{counted(len(found), 'notice')} due again now; the running bot sends them")


async def _outbox_drop(session: AsyncSession, actor: str, args: argparse.Namespace) -> None:
    await notices.drop(session, args.id, actor=actor)
    print(f"notice #{args.id} dropped; it stays on record as failed")


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# The program's own shell commands, by the names bot/cli.py gives them.
PROGRAM: Mapping[str, ShellAction] = {
    "run": _run,
    "console": _console,
    "db_upgrade": _db_upgrade,
    "db_revision": _db_revision,
    "backup": _backup,
    "restore": _restore,
    "matrix_setup": _matrix_setup,
    "matrix_cross_sign": _matrix_cross_sign,
    "outbox_list": admin(_outbox_list),
    "outbox_retry": admin(_outbox_retry),
    "outbox_drop": admin(_outbox_drop),
}
