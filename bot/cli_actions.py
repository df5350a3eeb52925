"""`wgbot`: run the bot, try it in the console, and administer the alliance's records."""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import io
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from importlib.metadata import version as package_version
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import (
    App,
    DatabaseUnavailable,
    SchemaBehind,
    chat_transports,
    matrix_transport,
    open_database,
    reachable,
)
from bot.areas import registry_of
from bot.backup import Where, backup, restore
from bot.config import ConfigError, Settings, load_settings, matrix_store_path, stray_variables
from bot.logs import keep_secrets_out
from bot.markdown import to_html
from bot.timeparse import parse_when, shown
from bot.transports.base import TransportUnavailable
from bot.transports.console import ConsoleTransport
from handlers import AREAS
from handlers.announcements import groups_named
from storage import (
    announcements,
    audit,
    ballot_record,
    checkpoints,
    deliverables,
    groups,
    imports,
    migrate,
    notices,
    organisations,
    people,
    rooms,
    votes,
)
from storage.db import Database
from storage.errors import Refused
from storage.files import FileStore
from storage.models import AnnouncementStatus, OrganisationStatus, RoomPurpose, utcnow
from storage.transport_state import TransportMemory

log = logging.getLogger("wgbot")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(_config_first(sys.argv[1:] if argv is None else argv))
    try:
        settings = load_settings(args.config, platforms=args.action in (_run, _matrix_cross_sign, _matrix_setup))
    except ConfigError as error:
        print(f"wgbot: configuration problem:\n{error}", file=sys.stderr)
        return 2
    level = logging.getLevelName(settings.logging.level)
    if args.action is _console:
        level = max(level, logging.WARNING)  # the conversation, not the log, is the point here
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
    try:
        return asyncio.run(args.action(settings, args))
    except (Refused, SchemaBehind, TransportUnavailable, DatabaseUnavailable) as error:
        print(f"wgbot: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _config_first(argv: list[str]) -> list[str]:
    """`--config` may follow the subcommand too (`wgbot db upgrade -c prod.toml`), as operators
    type it: it is moved before the subcommand, where the parser reads it."""
    rest, moved = list(argv), []
    for index, word in enumerate(argv):
        if word in ("-c", "--config") and index + 1 < len(argv):
            moved = [word, argv[index + 1]]
            del rest[index : index + 2]
            break
        if word.startswith("--config="):
            moved = [word]
            del rest[index]
            break
    return moved + rest


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wgbot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"wgbot {package_version('wgbot')}")
    parser.add_argument("-c", "--config", type=Path, help="TOML settings (default: $WGBOT_CONFIG or ./config.toml)")
    commands = parser.add_subparsers(required=True, metavar="command")

    run = commands.add_parser(
        "run",
        help="serve every configured chat platform",
        description="Serve every configured chat platform (Matrix, Telegram) from one process, until SIGTERM "
        "or SIGINT. With no platform it serves the console, if there is a terminal; without one it refuses.",
    )
    run.set_defaults(action=_run)

    console = commands.add_parser("console", help="try the bot locally, as a chosen person and room")
    console.add_argument("--as", dest="user", help="console user to speak as")
    console.add_argument("--room", help="console room to speak in (e.g. pfas)")
    console.set_defaults(action=_console)

    db = commands.add_parser("db", help="database schema").add_subparsers(required=True)
    db.add_parser(
        "upgrade",
        help="apply pending migrations",
        description="Bring the database's schema up to date (a deployment step before `wgbot run` when "
        "[database] upgrade_on_start is false); says which migrations it applied.",
    ).set_defaults(action=_db_upgrade)
    revision = db.add_parser("revision", help="(developers) write a migration for model changes")
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(action=_db_revision)

    org = commands.add_parser("org", help="member organisations").add_subparsers(required=True)
    org_add = org.add_parser("add", help="add an organisation")
    org_add.add_argument("name")
    org_add.add_argument("--country", required=True, help="ISO code, e.g. DE")
    org_add.add_argument("--kind", required=True, help="industry, research, university, association or cluster")
    org_add.add_argument(
        "--status",
        default=OrganisationStatus.MEMBER.value,
        choices=[s.value for s in OrganisationStatus],
    )
    org_add.add_argument("--group", action="append", default=[], help="a working group it joins (repeatable)")
    org_add.add_argument(
        "--look-alike-ok",
        action="store_true",
        help="add it although its name reads like a known organisation's (after checking it is another)",
    )
    org_add.set_defaults(action=_admin(_org_add))
    org.add_parser("list", help="list organisations").set_defaults(action=_admin(_org_list))

    person = commands.add_parser("person", help="people and their accounts").add_subparsers(required=True)
    person_add = person.add_parser("add", help="add a person")
    person_add.add_argument("name")
    person_add.add_argument("--org", help="the organisation they represent (name or #id)")
    person_add.add_argument(
        "--role", action="append", default=[], help="secretariat, commission or chair:<group> (repeatable)"
    )
    person_add.add_argument(
        "--account", action="append", default=[], help="platform:user, e.g. telegram:12345 (repeatable)"
    )
    person_add.set_defaults(action=_admin(_person_add))
    person.add_parser("list", help="list people").set_defaults(action=_admin(_person_list))

    wg = commands.add_parser("wg", help="working groups").add_subparsers(required=True)
    wg_add = wg.add_parser("add", help="add a working group")
    wg_add.add_argument("name")
    wg_add.add_argument("--slug", help="short id (default: from the name)")
    wg_add.add_argument("--mandate", default="")
    wg_add.set_defaults(action=_admin(_wg_add))
    wg.add_parser("list", help="list working groups").set_defaults(action=_admin(_wg_list))

    room = commands.add_parser("room", help="bind chat rooms to groups").add_subparsers(required=True)
    bind = room.add_parser("bind", help="bind a room")
    bind.add_argument("room", help="platform:room, e.g. matrix:!abc:example.org or telegram:-100123")
    target = bind.add_mutually_exclusive_group(required=True)
    target.add_argument("--group", help="the working group the room belongs to")
    target.add_argument("--secretariat", action="store_true")
    target.add_argument("--plenary", action="store_true")
    bind.set_defaults(action=_admin(_room_bind))
    unbind = room.add_parser("unbind", help="unbind a room")
    unbind.add_argument("room")
    unbind.set_defaults(action=_admin(_room_unbind))
    room.add_parser("list", help="list bound rooms").set_defaults(action=_admin(_room_list))

    importing = commands.add_parser("import", help="bulk imports").add_subparsers(required=True)
    members = importing.add_parser("members", help="organisations and representatives from a CSV file")
    members.add_argument("file", type=Path, help="columns: " + ", ".join(imports.COLUMNS))
    members.set_defaults(action=_import_members)

    votes_cmd = commands.add_parser("votes", help="votes").add_subparsers(required=True)
    export = votes_cmd.add_parser("export", help="a vote's electorate, ballots, result and audit hashes")
    export.add_argument("id", type=int)
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(action=_votes_export)

    deliverable = commands.add_parser("deliverable", help="deliverables").add_subparsers(required=True)
    archive = deliverable.add_parser("export", help="every version, manifest.json and README.md as a zip")
    archive.add_argument("id", type=int)
    archive.add_argument("-o", "--output", type=Path, required=True, help="the zip file to write")
    archive.set_defaults(action=_deliverable_export)

    announce = commands.add_parser(
        "announce",
        help="post an announcement to the groups' rooms (the running bot delivers it)",
        description="Queue an announcement, or show or cancel one. The running bot delivers it.",
    )
    announce.add_argument("text", nargs="?", help="the announcement (Markdown)")
    announce.add_argument("--to", default="all", help="all (default), or groups separated by commas: pfas,skills")
    announce.add_argument("--at", help="when to send it, e.g. '2026-12-03 09:00 Europe/Brussels' (default: now)")
    announce.add_argument("--pin", action="store_true", help="pin it where the bot may pin")
    announce.add_argument("--status", metavar="ID", type=int, help="show an announcement's delivery report")
    announce.add_argument("--cancel", metavar="ID", type=int, help="withdraw a scheduled announcement")
    announce.set_defaults(action=_announce)

    audit_cmd = commands.add_parser("audit", help="the audit log").add_subparsers(required=True)
    verify = audit_cmd.add_parser(
        "verify", help="check the hash chain, a checkpoint it must hold, and every vote's ballots against its casts"
    )
    verify.add_argument(
        "--checkpoint", metavar="COUNT:HASH", help="a checkpoint posted earlier (default: the last one posted)"
    )
    verify.set_defaults(action=_audit_verify)

    backing_up = commands.add_parser(
        "backup",
        help="the database, the file store and the Matrix crypto store, with a manifest of sha256s",
        description="A consistent copy while the bot runs: SQLite through its online backup API, PostgreSQL "
        "through pg_dump. The recovery key is never included; keep it elsewhere.",
    )
    backing_up.add_argument("dir", type=Path, help="a new (or empty) directory")
    backing_up.set_defaults(action=_backup)
    restoring = commands.add_parser(
        "restore",
        help="bring a backup back, into an empty database and empty stores",
        description="Checks every file against the manifest first; refuses a database or store that is not "
        "empty. Run `wgbot audit verify` afterwards.",
    )
    restoring.add_argument("dir", type=Path, help="a directory written by `wgbot backup`")
    restoring.set_defaults(action=_restore)

    outbox = commands.add_parser("outbox", help="notices not delivered yet").add_subparsers(required=True)
    outbox.add_parser("list", help="pending and failed notices, oldest first").set_defaults(action=_admin(_outbox_list))
    retry = outbox.add_parser("retry", help="try undelivered notices again now (the running bot sends them)")
    retry_which = retry.add_mutually_exclusive_group(required=True)
    retry_which.add_argument("ids", type=int, nargs="*", default=[], help="notice numbers from `outbox list`")
    retry_which.add_argument("--failed", action="store_true", help="every failed notice")
    retry.set_defaults(action=_admin(_outbox_retry))
    drop = outbox.add_parser("drop", help="give up an undelivered notice (kept on record as dropped)")
    drop.add_argument("id", type=int)
    drop.set_defaults(action=_admin(_outbox_drop))

    matrix = commands.add_parser("matrix", help="the bot's Matrix account").add_subparsers(required=True)
    cross_sign = matrix.add_parser(
        "cross-sign",
        help="make sure the bot's device is cross-signed (done at every start too)",
        description="Creates the account's cross-signing keys if it has none (and prints their recovery key, "
        "once), or signs this device with the keys in the store. After a lost store: --recover asks for the "
        "recovery key and takes the keys back; --reset makes new ones (the homeserver asks for the password). "
        "Stop the bot first: this uses its crypto store.",
    )
    choice = cross_sign.add_mutually_exclusive_group()
    choice.add_argument("--recover", action="store_true", help="read the recovery key from the terminal or stdin")
    choice.add_argument("--reset", action="store_true", help="replace the keys: members re-verify the bot")
    cross_sign.set_defaults(action=_matrix_cross_sign)
    setup = matrix.add_parser(
        "setup",
        help="the alliance as a Matrix Space: a room per working group, plenary and secretariat, bound",
        description="Creates (once) a Space named after the alliance and, in it, a room for each working group "
        "and for the plenary (joinable by the Space's members) and the secretariat (by invitation), binds each "
        "room, and invites the secretariat's Matrix accounts. Run again, it adds only what is missing.",
    )
    setup.set_defaults(action=_matrix_setup)
    return parser


async def _run(settings: Settings, args) -> int:
    if settings.matrix is None and settings.telegram is None and not sys.stdin.isatty():
        # Under systemd or in a container this is a deployment whose secrets did not arrive.
        print(
            "wgbot: no chat platform is configured ([matrix] or [telegram], or WGBOT_TELEGRAM__TOKEN…) and "
            "there is no terminal for the console; `wgbot console` serves the console on purpose",
            file=sys.stderr,
        )
        return 2
    db = await open_database(settings)
    try:
        transports = chat_transports(settings, db, registry_of(AREAS))
        if not transports:
            log.info("no chat platform is configured: serving the console")
            transports = [_console_transport(settings, args)]
        await App(settings, db, transports, AREAS).run()
    finally:
        await db.close()
    return 0


async def _console(settings: Settings, args) -> int:
    transport = _console_transport(settings, args)
    db = await open_database(settings)
    try:
        await App(settings, db, [transport], AREAS).run()
    finally:
        await db.close()
    return 0


def _console_transport(settings: Settings, args) -> ConsoleTransport:
    chosen = {"user": getattr(args, "user", None), "room": getattr(args, "room", None)}
    transport = ConsoleTransport(settings.console.model_copy(update={k: v for k, v in chosen.items() if v}))
    if transport.interactive:
        import readline  # noqa: F401  (line editing and history for input())
    return transport


async def _db_upgrade(settings: Settings, args) -> int:
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


async def _matrix_cross_sign(settings: Settings, args) -> int:
    if settings.matrix is None:
        raise Refused("no [matrix] section is configured")
    if not settings.matrix.encryption:
        raise Refused("Matrix encryption is off (encryption = false): there is nothing to cross-sign")
    recovery_key = ""
    if args.recover:
        prompt = "recovery key: "
        recovery_key = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline().strip()
    db = await open_database(settings)
    try:
        transport = matrix_transport(settings, db)
        new_key = await transport.set_up_identity(recovery_key=recovery_key, reset=args.reset)
        device = transport.client.device_id
    finally:
        await db.close()
    if new_key is not None:
        print(f"device {device} is cross-signed with new keys. Their recovery key, shown this once; keep it safe:")
        print(new_key)
    elif recovery_key:
        print(f"cross-signing keys recovered into {settings.matrix.store_path}; device {device} is signed")
    else:
        print(f"device {device} is cross-signed; nothing to do")
    return 0


async def _backup(settings: Settings, args) -> int:
    manifest = await _with_parts(settings, args, backup)
    print(f"backed up to {args.dir}: {len(manifest['sha256'])} files, schema {', '.join(manifest['schema'])}")
    print("manifest.json lists their sha256; keep the store key and the recovery key apart from this backup")
    return 0


async def _restore(settings: Settings, args) -> int:
    manifest = await _with_parts(settings, args, restore)
    print(f"restored the backup of {manifest['created_at']} ({len(manifest['sha256'])} files checked)")
    print("next: wgbot db upgrade (if this wgbot is newer), then wgbot audit verify")
    return 0


async def _with_parts(settings: Settings, args, act: Callable[[Where, Path], Awaitable[dict]]) -> dict:
    """Backup and restore work on the database as it is: no schema check, no migration."""
    db = Database.connect(settings.database.url)
    try:
        await reachable(db)
        return await act(Where(db, settings.files.path, matrix_store_path(args.config)), args.dir)
    finally:
        await db.close()


async def _matrix_setup(settings: Settings, args) -> int:
    if settings.matrix is None:
        raise Refused("no [matrix] section is configured")
    from bot.matrix_setup import furnish  # nio loads only for the commands that need it
    from bot.transports.matrix import MatrixError

    db = await open_database(settings)
    try:
        token = settings.matrix.access_token or await TransportMemory(db, "matrix").get("access_token")
        if not token:
            raise Refused("the bot has no Matrix device yet: start it once (wgbot run), then run this again")
        try:
            done = await furnish(db, settings, token, create_space=True, actor=f"cli:{getpass.getuser()}")
        except MatrixError as error:
            raise Refused(f"matrix: {error}") from None
    finally:
        await db.close()
    print("\n".join(done.report()))
    return 0


async def _db_revision(settings: Settings, args) -> int:
    db = Database.connect(settings.database.url)
    try:
        await migrate.new_revision(db, args.message)
    finally:
        await db.close()
    return 0


async def _import_members(settings: Settings, args) -> int:
    if not args.file.is_file():
        raise Refused(f"no file at {args.file}")
    db = await open_database(settings)
    try:
        report = await imports.import_members(db, args.file, f"cli:{getpass.getuser()} import")
    finally:
        await db.close()
    for heading, lines in (("created", report.created), ("skipped", report.skipped), ("rejected", report.rejected)):
        for line in lines:
            print(f"{heading}\t{line}")
    print(report.summary())
    return 1 if report.rejected else 0


async def _votes_export(settings: Settings, args) -> int:
    db = await open_database(settings)
    try:
        async with db.transaction() as session:
            record = await votes.export_record(session, args.id)
    finally:
        await db.close()
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n" if args.format == "json" else _vote_csv(record)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


async def _deliverable_export(settings: Settings, args) -> int:
    db = await open_database(settings)
    try:
        async with db.transaction() as session:
            item = await deliverables.find(session, args.id)
            archive = await deliverables.export_archive(session, item, FileStore(settings.files.path))
            count = len(await deliverables.versions(session, item.id))
    finally:
        await db.close()
    args.output.write_bytes(archive)
    print(f"wrote {args.output}: deliverable {item.id} ({item.title}), {count} versions, {len(archive)} bytes")
    return 0


def _vote_csv(record: dict) -> str:
    """One row per electorate organisation: its counted ballot (blank for a secret vote)."""
    counted = {b["organisation_id"]: b["option"] for b in record.get("ballots", [])}
    last = {c["organisation_id"]: c for c in record.get("casts", [])}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["vote", "organisation_id", "organisation", "ballot", "cast_by", "platform", "cast_at"])
    for member in record["electorate"]:
        cast = last.get(member["organisation_id"], {})
        writer.writerow(
            [
                record["vote"]["id"],
                member["organisation_id"],
                member["organisation"],
                counted.get(member["organisation_id"], ""),
                cast.get("cast_by", ""),
                cast.get("platform", ""),
                cast.get("cast_at", ""),
            ]
        )
    return out.getvalue()


async def _audit_verify(settings: Settings, args) -> int:
    """The chain, the checkpoint it must still hold, and every vote's ballots against its casts."""
    db = await open_database(settings)
    try:
        async with db.transaction() as session:
            report = await audit.verify(session)
            anchor: checkpoints.Checkpoint | None = None
            source = "the checkpoint given"
            if args.checkpoint:
                anchor = checkpoints.Checkpoint.read(args.checkpoint)
            elif posted := await checkpoints.last_published(session):
                anchor, source = posted[0], "the last checkpoint posted"
            cut = await checkpoints.holds(session, anchor) if anchor else None
            votes_wrong = await ballot_record.problems_of_every_vote(session)
            now = await checkpoints.current(session)
    finally:
        await db.close()
    print(report.describe())
    if cut:
        print(f"audit log fails {source}: {cut}")
    elif anchor:
        print(f"{source} ({anchor.count} entries) is still held, unchanged")
    else:
        print("no checkpoint to check the log's end against: give one with --checkpoint")
    for problem in votes_wrong:
        print(f"ballots disagree with the audit log: {problem}")
    if not votes_wrong:
        print("every vote's ballots agree with its audited casts")
    print(f"checkpoint now: {now}" if now else "checkpoint now: none (the log is empty)")
    return 0 if report.intact and not cut and not votes_wrong else 1


AdminAction = Callable[[AsyncSession, str, argparse.Namespace], Awaitable[None]]


def _admin(action: AdminAction):
    """Run an admin command in one transaction, audited as the operator at the shell."""

    async def run(settings: Settings, args) -> int:
        db = await open_database(settings)
        try:
            async with db.transaction() as session:
                await action(session, f"cli:{getpass.getuser()}", args)
        finally:
            await db.close()
        return 0

    return run


async def _announce(settings: Settings, args) -> int:
    zone = settings.alliance.timezone
    return await _admin(lambda session, actor, args: _announcing(session, actor, args, zone))(settings, args)


async def _announcing(session: AsyncSession, actor: str, args, zone: str) -> None:
    now = utcnow()
    if args.status:
        found = await announcements.find(session, args.status)
        if found.status in (AnnouncementStatus.SCHEDULED, AnnouncementStatus.CANCELLED):
            print(f"announcement #{found.id} is {found.status.value} (due {shown(found.due_at, zone)})")
        else:
            print(await announcements.delivery_report(session, found))
        return
    if args.cancel:
        cancelled = await announcements.cancel(session, args.cancel, actor=actor, now=now)
        print(f"announcement #{cancelled.id} is cancelled")
        return
    if not args.text:
        raise Refused("give the announcement's text, or --status ID, or --cancel ID")
    created = await announcements.create(
        session,
        author=actor,
        author_person_id=None,
        text=args.text,
        html=to_html(args.text),
        group_refs=groups_named(args.to),
        due_at=parse_when(args.at, zone, now) if args.at else now,
        pin=args.pin,
        report_to=None,
        now=now,
    )
    when = "now" if created.status != AnnouncementStatus.SCHEDULED else shown(created.due_at, zone)
    print(f"announcement #{created.id} queued for {when}; `wgbot announce --status {created.id}` shows its delivery")


async def _org_add(session: AsyncSession, actor: str, args) -> None:
    organisation = await organisations.add_organisation(
        session,
        actor=actor,
        name=args.name,
        country=args.country,
        kind=organisations.organisation_kind(args.kind),
        status=OrganisationStatus(args.status),
        look_alike_ok=args.look_alike_ok,
    )
    for ref in args.group:
        group = await groups.find_group(session, ref)
        await organisations.join_group(
            session, actor=actor, organisation=organisation, group_id=group.id, group_slug=group.slug
        )
    print(f"added organisation #{organisation.id} {organisation.name}")


async def _org_list(session: AsyncSession, actor: str, args) -> None:
    for org in await organisations.list_organisations(session):
        joined = ", ".join(p.group.slug for p in org.participations) or "-"
        print(f"#{org.id}\t{org.name}\t{org.country}\t{org.kind.value}\t{org.status.value}\t{joined}")


async def _person_add(session: AsyncSession, actor: str, args) -> None:
    organisation = await organisations.find_organisation(session, args.org) if args.org else None
    person = await people.add_person(session, actor=actor, name=args.name, organisation=organisation)
    for text in args.role:
        role, group_ref = people.parse_role(text)
        group = await groups.find_group(session, group_ref) if group_ref else None
        await people.assign_role(session, actor=actor, person=person, role=role, group=group)
    for text in args.account:
        platform, user_id = people.parse_account(text)
        await people.add_account(session, actor=actor, person=person, platform=platform, user_id=user_id)
    print(f"added person #{person.id} {person.name}")


async def _person_list(session: AsyncSession, actor: str, args) -> None:
    for person in await people.list_people(session):
        org = person.organisation.name if person.organisation else "-"
        roles = ", ".join(f"chair:{r.group.slug}" if r.group else r.role.value for r in person.roles)
        accounts = ", ".join(f"{a.platform}:{a.platform_user_id}" for a in person.accounts)
        print(f"#{person.id}\t{person.name}\t{org}\t{roles or '-'}\t{accounts or '-'}")


async def _wg_add(session: AsyncSession, actor: str, args) -> None:
    group = await groups.add_group(session, actor=actor, name=args.name, slug=args.slug, mandate=args.mandate)
    print(f"added working group {group.name} ({group.slug})")


async def _wg_list(session: AsyncSession, actor: str, args) -> None:
    counts = await groups.member_counts(session)
    for group in await groups.list_groups(session):
        print(f"{group.slug}\t{group.name}\t{counts.get(group.id, 0)} member organisations")


async def _room_bind(session: AsyncSession, actor: str, args) -> None:
    platform, room_id = rooms.parse_room(args.room)
    if args.group:
        group = await groups.find_group(session, args.group)
        purpose = RoomPurpose.GROUP
    else:
        group = None
        purpose = RoomPurpose.SECRETARIAT if args.secretariat else RoomPurpose.PLENARY
    binding = await rooms.bind_room(
        session, actor=actor, platform=platform, room_id=room_id, purpose=purpose, group=group
    )
    print(f"bound {platform}:{room_id} to {rooms.describe(binding)}")


async def _room_unbind(session: AsyncSession, actor: str, args) -> None:
    platform, room_id = rooms.parse_room(args.room)
    await rooms.unbind_room(session, actor=actor, platform=platform, room_id=room_id)
    print(f"unbound {platform}:{room_id}")


async def _outbox_list(session: AsyncSession, actor: str, args) -> None:
    waiting = await notices.undelivered(session)
    for notice in waiting:
        where = f"{notice.platform}:{'user ' if notice.direct else ''}{notice.target}"
        # A private message may carry a secret (a link code): the operator sees that there is one.
        shown = "(private message)" if notice.direct else _one_line(notice.text, 60)
        why = f"\t{notice.last_error}" if notice.last_error else ""
        tries = f"{notice.attempts} {'try' if notice.attempts == 1 else 'tries'}"
        print(f"#{notice.id}\t{notice.status.value}\t{tries}\t{where}\t{shown}{why}")
    print(f"{len(waiting)} undelivered" if waiting else "the outbox is empty: everything was delivered")


async def _outbox_retry(session: AsyncSession, actor: str, args) -> None:
    wanted = await notices.failed_ids(session) if args.failed else args.ids
    found = await notices.retry(session, wanted, actor=actor)
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise Refused(f"no undelivered notice {', '.join(f'#{n}' for n in missing)}; nothing was changed")
    print(f"{len(found)} notice{'s' if len(found) != 1 else ''} due again now; the running bot sends them")


async def _outbox_drop(session: AsyncSession, actor: str, args) -> None:
    await notices.drop(session, args.id, actor=actor)
    print(f"notice #{args.id} dropped; it stays on record as failed")


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


async def _room_list(session: AsyncSession, actor: str, args) -> None:
    for binding in await rooms.list_bindings(session):
        print(f"{binding.platform}:{binding.room_id}\t{rooms.describe(binding)}")


if __name__ == "__main__":
    sys.exit(main())
