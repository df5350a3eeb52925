"""`wgbot`: run the bot, try it in the console, and administer the alliance's records.

This module only reads the command line: `wgbot --help`, a mistyped command and `--version`
answer without loading the database layer or any chat library. What a command does is in
`bot.main`, imported once the command is known.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from importlib.metadata import version as package_version
from pathlib import Path
from typing import NoReturn

from bot import shutdown
from storage.rules.access import OrganisationStatus
from storage.rules.ids import LARGEST_ID, record_number
from storage.rules.imports import COLUMNS as IMPORT_COLUMNS

# Commands that act on the chat platforms' accounts and so need their settings.
ON_PLATFORMS = {"run", "matrix_cross_sign", "matrix_setup"}


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    for word in given:
        if not _text(word):  # bytes that are not UTF-8 reach Python as lone surrogates; argv holds no NUL
            print(
                f"wgbot: {word.encode('utf-8', 'replace')[:60]!r} is not UTF-8 text; nothing was done", file=sys.stderr
            )
            return 2
    args = _parser().parse_args(_config_first(given))
    try:
        from bot.main import perform  # the database layer and chat libraries load only now

        status = perform(args, platforms=args.action in ON_PLATFORMS)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`wgbot org list | head -3`): what is left to print has no one to read it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 128 + signal.SIGPIPE
    # A service asked to stop (`wgbot run`, SIGTERM from systemd) stopped as asked: success. A
    # console or an admin command that a signal cut short says so, as shells do (130, 143).
    return status if args.action == "run" else shutdown.exit_status(status)


def _text(word: str) -> bool:
    try:
        word.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in word


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake said in one line (what was wrong, and where the help is)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def record_id(text: str) -> int:
    """A record's number, as the databases hold them (1 to 2147483647)."""
    number = record_number(text)
    if not number:
        raise argparse.ArgumentTypeError(f"{text[:30]!r} is not a number from 1 to {LARGEST_ID}")
    return number


def year(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 9999):
        raise argparse.ArgumentTypeError(f"{text[:30]!r} is not a year from 1 to 9999")
    return int(text)


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


ABOUT = """\
wgbot is the chat bot of an industrial alliance's working groups: meetings, member-only votes
(one vote per member organisation), deliverables and the Secretariat's announcements, on Matrix
and Telegram at once. `wgbot run` serves the configured platforms (or the console, with none);
`wgbot console` tries it locally; the other commands administer the alliance's records.
"""
EPILOG = "Settings: ./config.toml, --config FILE or $WGBOT_CONFIG; see config.example.toml and the README."


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wgbot", description=ABOUT, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"wgbot {package_version('wgbot')}")
    parser.add_argument("-c", "--config", type=Path, help="TOML settings (default: $WGBOT_CONFIG or ./config.toml)")
    commands = parser.add_subparsers(required=True, metavar="command")

    run = commands.add_parser(
        "run",
        help="serve every configured chat platform",
        description="Serve every configured chat platform (Matrix, Telegram) from one process, until SIGTERM "
        "or SIGINT. With no platform it serves the console, if there is a terminal; without one it refuses.",
    )
    run.set_defaults(action="run")

    console = commands.add_parser("console", help="try the bot locally, as a chosen person and room")
    console.add_argument("--as", dest="user", help="console user to speak as")
    console.add_argument("--room", help="console room to speak in (e.g. pfas)")
    console.set_defaults(action="console")

    db = commands.add_parser("db", help="database schema").add_subparsers(required=True)
    db.add_parser(
        "upgrade",
        help="apply pending migrations",
        description="Bring the database's schema up to date (a deployment step before `wgbot run` when "
        "[database] upgrade_on_start is false); says which migrations it applied.",
    ).set_defaults(action="db_upgrade")
    revision = db.add_parser("revision", help="(developers) write a migration for model changes")
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(action="db_revision")

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
    org_add.set_defaults(action="org_add")
    org.add_parser("list", help="list organisations").set_defaults(action="org_list")

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
    person_add.add_argument(
        "--same-name-ok",
        action="store_true",
        help="add them although a person of that name is in that organisation (another person, same name)",
    )
    person_add.set_defaults(action="person_add")
    person_link = person.add_parser("link", help="give a person another chat account")
    person_link.add_argument("person", help="#id, platform:user or exact name")
    person_link.add_argument("account", help="platform:user, e.g. telegram:12345 or matrix:@sofia:example.org")
    person_link.set_defaults(action="person_link")
    person_unlink = person.add_parser("unlink", help="take a chat account from a person")
    person_unlink.add_argument("person", help="#id, platform:user or exact name")
    person_unlink.add_argument("account", help="platform:user")
    person_unlink.set_defaults(action="person_unlink")
    person_merge = person.add_parser(
        "merge",
        help="make two records of one person one",
        description="Everything the other record holds (accounts, roles, casts, drafts, comments, RSVPs, agenda "
        "items, invitations) moves to the kept one; where both hold the same, the kept one's stays. Audited. "
        "Refused when they represent different organisations, unless --force (the kept one's stays).",
    )
    person_merge.add_argument("keep", help="the record that stays: #id, platform:user or exact name")
    person_merge.add_argument("other", help="the record merged into it, then removed")
    person_merge.add_argument(
        "--force", action="store_true", help="merge although they represent different organisations"
    )
    person_merge.set_defaults(action="person_merge")
    person.add_parser("list", help="list people").set_defaults(action="person_list")
    person_export = person.add_parser("export", help="everything wgbot holds about a person, as JSON")
    person_export.add_argument("person", help="#id, platform:user or exact name")
    person_export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    person_export.set_defaults(action="person_export")
    person_erase = person.add_parser(
        "erase", help="remove or pseudonymise everything wgbot holds about a person (the audit log stays whole)"
    )
    person_erase.add_argument("person", help="#id, platform:user or exact name")
    person_erase.add_argument(
        "--yes", action="store_true", help="do it (without: show what it would do, change nothing)"
    )
    person_erase.set_defaults(action="person_erase")

    wg = commands.add_parser("wg", help="working groups").add_subparsers(required=True)
    wg_add = wg.add_parser("add", help="add a working group")
    wg_add.add_argument("name")
    wg_add.add_argument("--slug", help="short id (default: from the name)")
    wg_add.add_argument("--mandate", default="")
    wg_add.set_defaults(action="wg_add")
    wg.add_parser("list", help="list working groups").set_defaults(action="wg_list")

    room = commands.add_parser("room", help="bind chat rooms to groups").add_subparsers(required=True)
    bind = room.add_parser("bind", help="bind a room")
    bind.add_argument("room", help="platform:room, e.g. matrix:!abc:example.org or telegram:-100123")
    target = bind.add_mutually_exclusive_group(required=True)
    target.add_argument("--group", help="the working group the room belongs to")
    target.add_argument("--secretariat", action="store_true")
    target.add_argument("--plenary", action="store_true")
    bind.set_defaults(action="room_bind")
    unbind = room.add_parser("unbind", help="unbind a room")
    unbind.add_argument("room")
    unbind.set_defaults(action="room_unbind")
    room.add_parser("list", help="list bound rooms").set_defaults(action="room_list")

    importing = commands.add_parser("import", help="bulk imports").add_subparsers(required=True)
    members = importing.add_parser("members", help="organisations and representatives from a spreadsheet")
    members.add_argument(
        "file", type=Path, help=".csv (comma, semicolon or tab) or .xlsx; columns: " + ", ".join(IMPORT_COLUMNS)
    )
    members.set_defaults(action="import_members")

    votes_cmd = commands.add_parser("votes", help="votes").add_subparsers(required=True)
    export = votes_cmd.add_parser("export", help="a vote's electorate, ballots, result and audit hashes")
    export.add_argument("id", type=record_id)
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(action="votes_export")

    decisions = commands.add_parser("decisions", help="the register of decisions").add_subparsers(required=True)
    register = decisions.add_parser(
        "export", help="every closed vote with its outcome, turnout, tally and audit hash, newest first"
    )
    register.add_argument("--format", choices=("csv", "json", "md"), default="csv")
    register.add_argument("--group", help="one working group (short id or name), or 'alliance' for alliance-wide votes")
    register.add_argument("--year", type=year, help="the year the votes closed in (UTC), e.g. 2026")
    register.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    register.set_defaults(action="decisions_export")

    listing = commands.add_parser("export", help="a list as a file: members, attendance or deliverables")
    listing.add_argument("list", choices=("members", "attendance", "deliverables"))
    listing.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    listing.add_argument(
        "--standing",
        choices=("all", *(s.value for s in OrganisationStatus)),
        help="members: which organisations (default: members, suspended ones too; all: every organisation)",
    )
    listing.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    listing.set_defaults(action="export")

    deliverable = commands.add_parser("deliverable", help="deliverables").add_subparsers(required=True)
    archive = deliverable.add_parser("export", help="every version, manifest.json and README.md as a zip")
    archive.add_argument("id", type=record_id)
    archive.add_argument("-o", "--output", type=Path, required=True, help="the zip file to write")
    archive.set_defaults(action="deliverable_export")

    announce = commands.add_parser(
        "announce",
        help="post an announcement to the groups' rooms (the running bot delivers it)",
        description="Queue an announcement, or show or cancel one. The running bot delivers it.",
    )
    announce.add_argument("text", nargs="?", help="the announcement (Markdown)")
    announce.add_argument("--to", default="all", help="all (default), or groups separated by commas: pfas,skills")
    announce.add_argument("--at", help="when to send it, e.g. '2026-12-03 09:00 Europe/Brussels' (default: now)")
    announce.add_argument("--pin", action="store_true", help="pin it where the bot may pin")
    announce.add_argument("--status", metavar="ID", type=record_id, help="show an announcement's delivery report")
    announce.add_argument("--cancel", metavar="ID", type=record_id, help="withdraw a scheduled announcement")
    announce.set_defaults(action="announce")

    audit_cmd = commands.add_parser("audit", help="the audit log").add_subparsers(required=True)
    verify = audit_cmd.add_parser(
        "verify", help="check the hash chain, a checkpoint it must hold, and every vote's ballots against its casts"
    )
    verify.add_argument(
        "--checkpoint", metavar="COUNT:HASH", help="a checkpoint posted earlier (default: the last one posted)"
    )
    verify.set_defaults(action="audit_verify")

    backing_up = commands.add_parser(
        "backup",
        help="the database, the file store and the Matrix crypto store, with a manifest of sha256s",
        description="A consistent copy while the bot runs: SQLite through its online backup API, PostgreSQL "
        "through pg_dump. The recovery key is never included; keep it elsewhere.",
    )
    backing_up.add_argument("dir", type=Path, help="a new (or empty) directory")
    backing_up.set_defaults(action="backup")
    restoring = commands.add_parser(
        "restore",
        help="bring a backup back, into an empty database and empty stores",
        description="Checks every file against the manifest first; refuses a database or store that is not "
        "empty. Run `wgbot audit verify` afterwards.",
    )
    restoring.add_argument("dir", type=Path, help="a directory written by `wgbot backup`")
    restoring.set_defaults(action="restore")

    outbox = commands.add_parser("outbox", help="notices not delivered yet").add_subparsers(required=True)
    outbox.add_parser("list", help="pending and failed notices, oldest first").set_defaults(action="outbox_list")
    retry = outbox.add_parser("retry", help="try undelivered notices again now (the running bot sends them)")
    retry_which = retry.add_mutually_exclusive_group(required=True)
    retry_which.add_argument("ids", type=record_id, nargs="*", default=[], help="notice numbers from `outbox list`")
    retry_which.add_argument("--failed", action="store_true", help="every failed notice")
    retry.set_defaults(action="outbox_retry")
    drop = outbox.add_parser("drop", help="give up an undelivered notice (kept on record as dropped)")
    drop.add_argument("id", type=record_id)
    drop.set_defaults(action="outbox_drop")

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
    cross_sign.set_defaults(action="matrix_cross_sign")
    setup = matrix.add_parser(
        "setup",
        help="the alliance as a Matrix Space: a room per working group, plenary and secretariat, bound",
        description="Creates (once) a Space named after the alliance and, in it, a room for each working group "
        "and for the plenary (joinable by the Space's members) and the secretariat (by invitation), binds each "
        "room, and invites the secretariat's Matrix accounts. Run again, it adds only what is missing.",
    )
    setup.set_defaults(action="matrix_setup")
    return parser
