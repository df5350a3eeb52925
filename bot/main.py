"""What each `wgbot` command does (`bot.cli` reads the command line and calls `perform`). The
composition root: the one bot/ module that hands the areas of handlers/ to the bot."""

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
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.backup import Where, backup, restore
from bot.config import ConfigError, Settings, load_settings, matrix_store_path, stray_variables
from bot.database import DatabaseUnavailable, SchemaBehind, open_database, reachable
from bot.logs import keep_secrets_out
from bot.markdown import to_html
from bot.timeparse import parse_when, shown
from bot.transports.base import TransportUnavailable
from storage import (
    announcements,
    audit,
    ballot_record,
    checkpoints,
    deliverables,
    groups,
    imports,
    merging,
    migrate,
    notices,
    organisations,
    people,
    personal_data,
    rooms,
    votes,
)
from storage.db import Database
from storage.errors import Refused
from storage.files import FileStore
from storage.models import AnnouncementStatus, OrganisationStatus, RoomPurpose, utcnow
from storage.rules.text import counted
from storage.transport_state import TransportMemory

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
    level = logging.getLevelName(settings.logging.level)
    if args.action == "console":
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
        action = globals()[f"_{args.action}"]
        return asyncio.run((_admin(action) if getattr(args, "admin", False) else action)(settings, args))
    except Refused as refused:
        print(f"wgbot: {refused.shell or refused}", file=sys.stderr)
        return 1
    except (SchemaBehind, TransportUnavailable, DatabaseUnavailable) as error:
        print(f"wgbot: {error}", file=sys.stderr)
        return 1


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
        from bot.app import App, chat_transports
        from bot.areas import registry_of
        from handlers import AREAS

        transports = chat_transports(settings, db, registry_of(AREAS))
        if not transports:
            log.info("no chat platform is configured: serving the console")
            transports = [_console_transport(settings, args)]
        await App(settings, db, transports, AREAS).run()
    finally:
        await db.close()
    return 0


async def _console(settings: Settings, args) -> int:
    from bot.app import App
    from handlers import AREAS

    transport = _console_transport(settings, args)
    db = await open_database(settings)
    try:
        await App(settings, db, [transport], AREAS).run()
    finally:
        await db.close()
    return 0


def _console_transport(settings: Settings, args) -> ConsoleTransport:
    from bot.transports.console import ConsoleTransport

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
        from bot.app import matrix_transport

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
    print(
        f"backed up to {args.dir}: {counted(len(manifest['sha256']), 'file')}, schema {', '.join(manifest['schema'])}"
    )
    print("manifest.json lists their sha256; keep the store key and the recovery key apart from this backup")
    return 0


async def _restore(settings: Settings, args) -> int:
    manifest = await _with_parts(settings, args, restore)
    print(f"restored the backup of {manifest['created_at']} ({counted(len(manifest['sha256']), 'file')} checked)")
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
        memory = TransportMemory(db, "matrix", settings.matrix.store_key)
        token = settings.matrix.access_token or await memory.get_secret("access_token")
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
        _write_file(args.output, text.encode())
    else:
        sys.stdout.write(text)
    return 0


async def _decisions_export(settings: Settings, args) -> int:
    from handlers.votes import register

    db = await open_database(settings)
    try:
        async with db.transaction() as session:
            scope = await register.resolve_scope(session, args.group, args.year)
            content = register.as_file(await register.register(session, scope), args.format)
    finally:
        await db.close()
    return _write(content, args.output)


async def _person_export(settings: Settings, args) -> int:
    db = await open_database(settings)
    try:
        async with db.transaction() as session:
            person = await people.find_person(session, args.person)
            held = await personal_data.export(session, person)
            await audit.record(
                session,
                actor=f"cli:{getpass.getuser()}",
                action="person.exported",
                subject=f"person:{person.id}",
            )
    finally:
        await db.close()
    return _write((json.dumps(held, indent=2, ensure_ascii=False) + "\n").encode(), args.output)


async def _person_erase(settings: Settings, args) -> int:
    db = await open_database(settings)
    try:
        async with db.sessions() as session:
            person = await people.find_person(session, args.person)
            who = f"{person.name} (#{person.id})"
            erased = await personal_data.erase(session, person)
            await (session.commit() if args.yes else session.rollback())
        if args.yes:
            await db.forget_overwritten()
    finally:
        await db.close()
    if not args.yes:
        print(f"Would erase {who}; nothing was changed. Run again with --yes to do it.")
        print(erased.describe(only_shown=True))
        return 1
    print(erased.describe())
    return 0


async def _export(settings: Settings, args) -> int:
    from handlers import exports

    if args.standing and args.list != "members":
        raise Refused("--standing chooses the organisations of `wgbot export members`; the other lists have none")

    db = await open_database(settings)
    try:
        async with db.transaction() as session:
            table = await exports.table(session, args.list, args.standing)
    finally:
        await db.close()
    return _write(exports.as_file(table, args.format), args.output)


def _write(content: bytes, output: Path | None) -> int:
    """A file the command made: to `output`, or to standard output as it is (bytes)."""
    if output:
        _write_file(output, content)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    return 0


def _write_file(path: Path, content: bytes) -> None:
    """Write a file the operator named; a folder that is not there or not writable is one line."""
    try:
        path.write_bytes(content)
    except OSError as error:
        raise Refused(f"cannot write {path}: {error.strerror or error}; nothing was written") from None


async def _deliverable_export(settings: Settings, args) -> int:
    db = await open_database(settings)
    try:
        async with db.transaction() as session:
            item = await deliverables.find(session, args.id)
            archive = await deliverables.export_archive(session, item, FileStore(settings.files.path))
            count = len(await deliverables.versions(session, item.id))
    finally:
        await db.close()
    _write_file(args.output, archive)
    print(
        f"wrote {args.output}: deliverable {item.id} ({item.title}), {counted(count, 'version')}, "
        f"{counted(len(archive), 'byte')}"
    )
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
        print(f"{source} ({counted(anchor.count, 'entry', 'entries')}) is still held, unchanged")
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
    zone, language = settings.alliance.timezone, settings.alliance.language
    return await _admin(lambda session, actor, args: _announcing(session, actor, args, zone, language))(settings, args)


async def _announcing(session: AsyncSession, actor: str, args, zone: str, language: str) -> None:
    from bot.i18n import saying
    from handlers.announcements import groups_named

    now = utcnow()
    if args.status:
        found = await announcements.find(session, args.status)
        if found.status in (AnnouncementStatus.SCHEDULED, AnnouncementStatus.CANCELLED):
            print(f"announcement #{found.id} is {found.status.value} (due {shown(found.due_at, zone)})")
        else:
            print("\n".join(str(line) for line in await announcements.delivery_report(session, found)))
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
        say=saying(language),
    )
    when = "now" if created.status != AnnouncementStatus.SCHEDULED else f"{shown(created.due_at, zone)} ({zone})"
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
    try:
        person = await people.add_person(
            session, actor=actor, name=args.name, organisation=organisation, same_name_ok=args.same_name_ok
        )
    except people.SameName as same:
        known = same.existing
        where = f"for {organisation.name}" if organisation else "with no organisation"
        account = args.account[0] if args.account else "<platform:user>"
        raise Refused(
            f"{known.name} (#{known.id}) is already known {where}: nothing was added. To give them another "
            f"account: wgbot person link '#{known.id}' {account}. If this is another person of the same name, "
            "add --same-name-ok."
        ) from None
    for text in args.role:
        role, group_ref = people.parse_role(text)
        group = await groups.find_group(session, group_ref) if group_ref else None
        await people.assign_role(session, actor=actor, person=person, role=role, group=group)
    for text in args.account:
        platform, user_id = people.parse_account(text)
        await people.add_account(session, actor=actor, person=person, platform=platform, user_id=user_id)
    print(f"added person #{person.id} {person.name}")


async def _person_link(session: AsyncSession, actor: str, args) -> None:
    person = await people.find_person(session, args.person)
    platform, user_id = people.parse_account(args.account)
    owner = await people.owner_of(session, platform, user_id)
    if owner is not None and owner.id == person.id:
        print(f"{platform}:{user_id} is already {person.name}'s (#{person.id}); nothing to do")
        return
    if owner is not None:
        raise Refused(
            f"{platform}:{user_id} belongs to {owner.name} (#{owner.id}). If that is the same person: "
            f"wgbot person merge '#{person.id}' '#{owner.id}'"
        )
    await people.add_account(session, actor=actor, person=person, platform=platform, user_id=user_id)
    print(f"linked {platform}:{user_id} to {person.name} (#{person.id})")


async def _person_unlink(session: AsyncSession, actor: str, args) -> None:
    person = await people.find_person(session, args.person)
    platform, user_id = people.parse_account(args.account)
    owner = await people.owner_of(session, platform, user_id)
    if owner is None or owner.id != person.id:
        whose = f"{owner.name}'s (#{owner.id})" if owner else "nobody's"
        raise Refused(f"{platform}:{user_id} is not {person.name}'s (#{person.id}) but {whose}; nothing was changed")
    await people.unlink_account(session, actor=actor, person=person, platform=platform, user_id=user_id)
    print(f"unlinked {platform}:{user_id} from {person.name} (#{person.id})")


async def _person_merge(session: AsyncSession, actor: str, args) -> None:
    keep = await people.find_person(session, args.keep)
    other = await people.find_person(session, args.other)
    try:
        merged = await merging.merge(session, actor=actor, keep=keep, other=other, force=args.force)
    except merging.Conflict:
        raise Refused(
            f"#{keep.id} and #{other.id} represent different organisations; nothing was merged. If #{keep.id}'s "
            f"organisation is the right one, run again with --force (#{other.id}'s chairs end)."
        ) from None
    print(f"merged #{merged.other_id} into {keep.name} (#{keep.id})")
    for table, count in sorted(merged.moved.items()):
        print(f"  moved\t{table}\t{count}")
    for table, count in sorted(merged.dropped.items()):
        print(f"  held by both, #{keep.id}'s kept\t{table}\t{count}")
    for note in merged.notes:
        print(f"  {note}")


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
        print(f"{group.slug}\t{group.name}\t{counted(counts.get(group.id, 0), 'member organisation')}")


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
        tries = counted(notice.attempts, "try", "tries")
        print(f"#{notice.id}\t{notice.status.value}\t{tries}\t{where}\t{shown}{why}")
    print(f"{len(waiting)} undelivered" if waiting else "the outbox is empty: everything was delivered")


async def _outbox_retry(session: AsyncSession, actor: str, args) -> None:
    wanted = await notices.failed_ids(session) if args.failed else args.ids
    found = await notices.retry(session, wanted, actor=actor)
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise Refused(f"no undelivered notice {', '.join(f'#{n}' for n in missing)}; nothing was changed")
    print(f"{counted(len(found), 'notice')} due again now; the running bot sends them")


async def _outbox_drop(session: AsyncSession, actor: str, args) -> None:
    await notices.drop(session, args.id, actor=actor)
    print(f"notice #{args.id} dropped; it stays on record as failed")


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


async def _room_list(session: AsyncSession, actor: str, args) -> None:
    for binding in await rooms.list_bindings(session):
        print(f"{binding.platform}:{binding.room_id}\t{rooms.describe(binding)}")
