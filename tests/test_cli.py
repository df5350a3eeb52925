"""The `wgbot` program as a newcomer and an operator use it: a fresh directory, the installed
entry point, commands piped into the console, and admin commands with their exit codes."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from storage import notices
from storage.db import Database

WGBOT = str(Path(sys.executable).with_name("wgbot"))


@pytest.fixture
def fresh(tmp_path, monkeypatch) -> Path:
    """A fresh working directory with no config: wgbot falls back to the embedded SQLite."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("WGBOT_"):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture(scope="session")
def upgraded(tmp_path_factory) -> Path:
    """The embedded database as `wgbot db upgrade` leaves it, made once."""
    where = tmp_path_factory.mktemp("upgraded")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
    subprocess.run([WGBOT, "db", "upgrade"], cwd=where, env=environment, check=True, capture_output=True)
    return where / "wgbot.sqlite3"


@pytest.fixture
def home(fresh, upgraded) -> Path:
    """A fresh working directory whose operator has run `wgbot db upgrade`, as the README says."""
    shutil.copyfile(upgraded, fresh / "wgbot.sqlite3")
    return fresh


def wgbot(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [WGBOT, *args], input=stdin, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def blocks(stdout: str) -> list[str]:
    """The console prints one block per command, separated by a blank line."""
    return [b for b in stdout.split("\n\n") if b.strip()]


def test_a_fresh_console_answers_help_whoami_and_lists_the_three_groups(fresh):
    done = wgbot("console", stdin="/help\n/whoami\nhello, is this on?\n/wg list\n")
    assert done.returncode == 0, done.stderr
    help_, whoami, wg_list = blocks(done.stdout)
    assert help_.startswith("Commands you can use here")
    assert "not yet known to the alliance" in whoami
    assert wg_list.splitlines()[0] == "3 working groups:"
    assert {"• PFAS (pfas)", "• Skills (skills)", "• Supply Chains (supply-chains)"} == {
        line.split(" —")[0] for line in wg_list.splitlines()[1:4]
    }
    assert (fresh / "wgbot.sqlite3").exists()
    assert "Traceback" not in done.stderr


def test_an_admin_command_in_the_wrong_directory_makes_no_database_there(fresh):
    done = wgbot("org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "wgbot: no database at sqlite+aiosqlite:///wgbot.sqlite3: run `wgbot db upgrade` first or set "
        "[database] url (or WGBOT_DATABASE__URL)\n"
    )
    assert wgbot("backup", "kept").returncode == 1
    assert list(fresh.iterdir()) == []  # no wgbot.sqlite3 left behind, no backup of nothing
    empty = fresh / "empty.sqlite3"
    sqlite3.connect(empty).close()  # a file that holds no alliance: another program's, or a typo's
    other = wgbot("person", "list", env={"WGBOT_DATABASE__URL": f"sqlite+aiosqlite:///{empty}"})
    assert other.returncode == 1 and other.stderr.startswith(f"wgbot: no database at sqlite+aiosqlite:///{empty}")
    assert sqlite3.connect(empty).execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    assert wgbot("db", "upgrade").stdout.endswith("database schema is up to date\n")
    assert wgbot("org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry").returncode == 0


def test_run_on_a_terminal_without_chat_credentials_keeps_the_log_out_of_the_conversation(home):
    """On a terminal `wgbot run` serves the console: INFO lines (the scheduler starting, each
    command routed) would land in the prompt; warnings still may."""
    import pty
    import select

    pid, terminal = pty.fork()
    if pid == 0:
        os.execv(WGBOT, [WGBOT, "run"])
    seen = b""

    def read_until(wanted: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while wanted not in seen and time.monotonic() < deadline:
            if select.select([terminal], [], [], 0.5)[0]:
                try:
                    seen += os.read(terminal, 4096)
                except OSError:  # the other end closed
                    return

    try:
        read_until(b"> ")
        os.write(terminal, b"/wg list\n")
        read_until(b"3 working groups")
        os.write(terminal, b":quit\n")
        read_until(b"\0")  # to the end
    finally:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(terminal)
    said = seen.decode()
    assert "3 working groups" in said and "you@plenary> " in said, said
    assert " INFO " not in said, said


def test_run_without_chat_credentials_and_without_a_terminal_refuses_in_one_line(fresh):
    done = wgbot("run", stdin="/wg list\n")  # as under systemd: the secrets did not arrive
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("wgbot: no chat platform is configured") and "`wgbot console`" in line
    assert wgbot("console", stdin="/wg list\n").stdout.startswith("3 working groups")


def test_an_operator_sets_up_a_representative_who_then_sees_themselves(home):
    assert wgbot("org", "add", "ACME GmbH", "--country", "de", "--kind", "industry", "--group", "pfas").returncode == 0
    added = wgbot(
        "person", "add", "Jana Novak", "--org", "acme gmbh", "--role", "chair:pfas", "--account", "console:jana"
    )
    assert added.stdout.strip() == "added person #1 Jana Novak", added.stderr
    listed = wgbot("person", "list").stdout
    assert listed.strip() == "#1\tJana Novak\tACME GmbH\tchair:pfas\tconsole:jana"
    assert "ACME GmbH\tDE\tindustry\tmember\tpfas" in wgbot("org", "list").stdout

    done = wgbot("console", "--as", "jana", "--room", "pfas", stdin="/whoami\n/wg info pfas\n")
    whoami, info = blocks(done.stdout)
    assert "Roles: chair of PFAS." in whoami
    assert "Chair: Jana Novak" in info and "Member organisations (1): ACME GmbH" in info


def test_console_steering_switches_person_and_room(home):
    wgbot("person", "add", "Sam", "--role", "secretariat", "--account", "console:sam")
    done = wgbot("console", stdin=":as sam\n:room skills\n/whoami\n:direct\n/whoami\n")
    first, second = blocks(done.stdout)
    assert first.startswith("── in skills ──\nYou are Sam") and "Roles: secretariat." in first
    assert second.startswith("── in direct:sam ──\nYou are Sam")


def test_every_console_message_after_one_in_another_room_says_its_room(home):
    wgbot("announce", "--to", "pfas", "Drafts are due on Friday.")
    done = wgbot("console", stdin="/wg list\n/wg list\n")
    first, again = blocks(done.stdout)  # the announcement goes out as the console starts
    announced, listed = first.split("── in plenary ──\n")  # the answer is not read as pfas's
    assert announced == "── in pfas ──\nFrom the Secretariat:\nDrafts are due on Friday.\n"
    assert listed.startswith("3 working groups") and again.startswith("3 working groups")


def test_bad_admin_input_is_one_line_and_writes_nothing(home):
    done = wgbot("org", "add", "ACME", "--country", "Atlantis", "--kind", "industry")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "wgbot: Unknown country 'Atlantis': give an ISO code such as DE or FR."
    )
    assert wgbot("org", "list").stdout == ""

    wgbot("org", "add", "Café Ltd", "--country", "FR", "--kind", "research")
    twin = wgbot("org", "add", "CAFE LTD", "--country", "FR", "--kind", "research")
    assert twin.returncode == 1 and "Café Ltd is already known" in twin.stderr


def test_the_shell_says_what_wgbot_is_counts_in_english_and_points_to_its_own_commands(home):
    about = wgbot("--help").stdout
    assert "wgbot is the chat bot of an industrial alliance's working groups" in about
    assert "This module" not in about  # not a developer's docstring
    wgbot("org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry", "--group", "pfas")
    groups = dict(line.split("\t")[0::2] for line in wgbot("wg", "list").stdout.splitlines())
    assert groups == {
        "pfas": "1 member organisation",
        "skills": "0 member organisations",
        "supply-chains": "0 member organisations",
    }
    missing = wgbot("votes", "export", "7")
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "wgbot: no vote 7; `wgbot decisions export` lists the closed ones",
    )
    assert wgbot("deliverable", "export", "3", "-o", "d.zip").stderr.strip() == (
        "wgbot: no deliverable 3; `wgbot export deliverables` lists them"
    )
    assert "/" not in wgbot("announce", "--status", "9").stderr  # no chat command in the shell's answer


def test_rooms_are_bound_listed_and_never_bound_twice(home):
    bound = wgbot("room", "bind", "matrix:!abc:example.org", "--group", "skills")
    assert bound.stdout.strip() == "bound matrix:!abc:example.org to the Skills working group"
    again = wgbot("room", "bind", "matrix:!abc:example.org", "--plenary")
    assert again.returncode == 1 and "already bound to the Skills working group" in again.stderr
    assert "matrix:!abc:example.org\tthe Skills working group" in wgbot("room", "list").stdout
    wrong = wgbot("room", "bind", "irc:#chan", "--plenary")
    assert wrong.returncode == 1 and "platform one of matrix, telegram, console" in wrong.stderr


def test_audit_verify_passes_then_names_a_tampered_entry(home):
    wgbot("org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry")
    ok = wgbot("audit", "verify")
    assert ok.returncode == 0 and ok.stdout.startswith("audit log intact: 4 entries")
    with sqlite3.connect(home / "wgbot.sqlite3") as connection:
        connection.execute("UPDATE audit_log SET actor = 'someone else' WHERE id = 4")
    broken = wgbot("audit", "verify")
    assert broken.returncode == 1
    assert broken.stdout.splitlines()[0] == (
        "audit log broken at entry 4: its content (organisation.added organisation:1) was changed"
    )


def test_a_malformed_config_is_named_and_nothing_starts(fresh):
    (fresh / "config.toml").write_text("[database\nurl = 1\n")
    done = wgbot("console", stdin="/help\n")
    assert done.returncode == 2
    assert "config.toml: not valid TOML" in done.stderr and "line 1" in done.stderr
    assert done.stdout == "" and not (fresh / "wgbot.sqlite3").exists()


def test_an_old_schema_is_refused_when_upgrades_are_manual(fresh):
    (fresh / "config.toml").write_text("[database]\nupgrade_on_start = false\n")
    refused = wgbot("console", stdin="/help\n")
    assert refused.returncode == 1
    assert "schema is behind: run `wgbot db upgrade` first" in refused.stderr
    assert wgbot("db", "upgrade").stdout.strip().endswith("; database schema is up to date")  # and says what it applied
    assert "3 working groups" in wgbot("console", stdin="/wg list\n").stdout


def test_importing_members_is_idempotent_and_reports_what_it_did(home):
    (home / "members.csv").write_text(
        "organisation,country,kind,groups,representative,accounts,roles\n"
        "ACME GmbH,DE,industry,pfas;skills,Jana Novak,telegram:1001;matrix:@jana:example.org,chair:pfas\n"
        "Fab Nord AS,NO,industry,supply-chains,Ola Nordmann,telegram:1002,\n"
        "Nowhere Ltd,Atlantis,industry,pfas,Ann,,\n"
        "Clash BV,NL,research,pfas,Kees,telegram:1001,\n",
        encoding="utf-8",
    )
    first = wgbot("import", "members", "members.csv")
    assert first.returncode == 1  # rejected rows make the exit code say so
    lines = first.stdout.splitlines()
    assert "created\tline 2: role chair:pfas for Jana Novak" in lines
    assert "rejected\tline 4: Unknown country 'Atlantis': give an ISO code such as DE or FR." in lines
    assert "rejected\tline 5: The telegram account 1001 already belongs to Jana Novak." in lines
    assert lines[-1] == "11 created, 0 skipped, 2 rejected"
    assert "Clash BV" not in wgbot("org", "list").stdout  # a rejected row leaves nothing behind

    again = wgbot("import", "members", "members.csv")
    assert again.stdout.splitlines()[-1] == "0 created, 11 skipped, 2 rejected"
    done = wgbot("console", "--as", "jana", stdin="/whoami\n")
    assert "You are Jana Novak" not in done.stdout  # the console account was not in the file
    people_list = wgbot("person", "list").stdout
    assert "Jana Novak\tACME GmbH\tchair:pfas\ttelegram:1001, matrix:@jana:example.org" in people_list


def test_a_vote_is_exported_with_its_ballots_and_audit_hashes(home):
    import json

    wgbot("org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry", "--group", "pfas")
    wgbot("org", "add", "Fab Nord AS", "--country", "NO", "--kind", "industry", "--group", "pfas")
    wgbot("person", "add", "Jana Novak", "--org", "ACME GmbH", "--role", "chair:pfas", "--account", "console:jana")
    done = wgbot(
        "console",
        "--as",
        "jana",
        "--room",
        "pfas",
        stdin='/vote open "Adopt the roadmap?"\n/vote 1 no\n/vote 1 yes\n/vote close 1\n',
    )
    assert "Outcome: NOT ADOPTED — quorum not met." not in done.stdout and "Outcome: ADOPTED." in done.stdout
    record = json.loads(wgbot("votes", "export", "1").stdout)
    assert record["result"]["tally"] == {"yes": 1, "no": 0, "abstain": 0}
    assert [c["option"] for c in record["casts"]] == ["no", "yes"]
    assert record["audited_casts"] == record["ballots"] == [{"organisation_id": 1, "option": "yes"}]
    assert record["disagreements"] == []
    assert [a["action"] for a in record["audit"]] == ["vote.opened", "ballot.cast", "ballot.cast", "vote.closed"]
    table = wgbot("votes", "export", "1", "--format", "csv").stdout.splitlines()
    assert table[0] == "\ufeffvote,organisation_id,organisation,ballot,cast_by,platform,cast_at"
    assert table[1].startswith("1,1,ACME GmbH,yes,Jana Novak,console,")
    assert table[2] == "1,2,Fab Nord AS,,,,"


def test_the_register_and_the_lists_are_exported_from_the_shell(home):
    import json

    wgbot("org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry", "--group", "pfas")
    wgbot("person", "add", "Jana Novak", "--org", "ACME GmbH", "--role", "chair:pfas", "--account", "console:jana")
    votes_cast = '/vote open "Adopt the roadmap?"\n/vote 1 yes\n/vote close 1\n/vote open "Meet in Lisbon?"\n'
    wgbot("console", "--as", "jana", "--room", "pfas", stdin=votes_cast)
    entries = json.loads(wgbot("decisions", "export", "--format", "json", "--group", "pfas").stdout)
    assert [(e["vote"], e["group"], e["outcome"], e["tally"]) for e in entries] == [
        (1, "PFAS", "ADOPTED", "yes 1 · no 0 · abstain 0")
    ]
    closed = json.loads(wgbot("votes", "export", "1").stdout)["audit"][-1]
    assert closed["action"] == "vote.closed" and entries[0]["audit_hash"] == closed["hash"]
    table = wgbot("decisions", "export", "--year", "1999").stdout
    assert (
        table
        == "\ufeffvote,closed,group,question,outcome,turnout,electorate,by_mandate,tally,secret,consequence,audit_hash\n"
    )
    markdown = wgbot("decisions", "export", "--format", "md").stdout.splitlines()
    assert markdown[0].startswith("| vote | closed | group |") and markdown[2].startswith("| 1 | ")
    members = wgbot("export", "members").stdout.splitlines()
    assert members[0] == "\ufefforganisation,country,kind,standing,groups,representatives"
    assert members[1] == "ACME GmbH,DE,industry,member,pfas,Jana Novak"
    assert wgbot("export", "deliverables", "--format", "xlsx", "-o", "d.xlsx").returncode == 0
    assert (home / "d.xlsx").read_bytes()[:2] == b"PK"  # a workbook is a zip
    unknown = wgbot("decisions", "export", "--group", "nonesuch")
    assert unknown.returncode == 1 and unknown.stderr.startswith("wgbot: ") and "Traceback" not in unknown.stderr


def test_an_operator_announces_from_the_shell_and_the_running_bot_delivers_it(home):
    queued = wgbot("announce", "--to", "pfas,skills", "Drafts are due on **Friday**.")
    assert queued.stdout.strip() == "announcement #1 queued for now; `wgbot announce --status 1` shows its delivery"
    assert wgbot("announce", "--status", "1").stdout.splitlines() == [
        "Announcement #1: delivered to 0 of 2 rooms.",
        "… PFAS (console pfas): not sent yet",
        "… Skills (console skills): not sent yet",
    ]
    later = wgbot("announce", "--at", "2099-01-05 09:00", "--to", "all", "New year.")
    assert "queued for Mon 05 Jan 2099 09:00 CET" in later.stdout
    assert wgbot("announce", "--cancel", "2").stdout.strip() == "announcement #2 is cancelled"

    delivered = wgbot("console", "--as", "nobody", stdin="/whoami\n")  # the bot starts: the outbox goes out
    assert "── in pfas ──\nFrom the Secretariat:\nDrafts are due on **Friday**." in delivered.stdout
    assert "── in skills ──\nFrom the Secretariat:\nDrafts are due on **Friday**." in delivered.stdout
    assert "New year." not in delivered.stdout
    assert wgbot("announce", "--status", "1").stdout.splitlines() == [
        "Announcement #1: delivered to 2 of 2 rooms.",
        "✓ PFAS (console pfas)",
        "✓ Skills (console skills)",
    ]
    wrong = wgbot("announce", "--to", "pfass", "Hello")
    assert wrong.returncode == 1
    assert wrong.stderr.strip().endswith(
        "wgbot: No working group 'pfass'. Did you mean pfas? Known groups: pfas, skills, supply-chains."
    )


def test_an_operator_exports_a_deliverable_as_a_zip(home):
    assert wgbot("org", "add", "ACME GmbH", "--country", "de", "--kind", "industry", "--group", "pfas").returncode == 0
    wgbot("person", "add", "Jana Novak", "--org", "acme gmbh", "--role", "chair:pfas", "--account", "console:jana")
    (home / "roadmap.md").write_text("# Roadmap\n")
    wgbot(
        "console",
        "--as",
        "jana",
        "--room",
        "pfas",
        stdin='/deliverable new "PFAS roadmap"\n:attach roadmap.md\n/draft 1\n/draft 1 A second text\n',
    )
    done = wgbot("deliverable", "export", "1", "-o", "roadmap.zip")
    assert done.stdout.startswith("wrote roadmap.zip: deliverable 1 (PFAS roadmap), 2 versions"), done.stderr
    with zipfile.ZipFile(home / "roadmap.zip") as archive:
        assert archive.read("versions/v1-roadmap.md") == b"# Roadmap\n"
        assert {"manifest.json", "README.md"} <= set(archive.namelist())
    missing = wgbot("deliverable", "export", "9", "-o", "x.zip")
    assert missing.returncode == 1 and "no deliverable 9" in missing.stderr


def test_audit_verify_sees_a_cut_off_log_and_a_changed_ballot(home):
    wgbot("org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry", "--group", "pfas")
    wgbot("person", "add", "Jana Novak", "--org", "ACME GmbH", "--role", "chair:pfas", "--account", "console:jana")
    wgbot("console", "--as", "jana", "--room", "pfas", stdin='/vote open "Adopt?"\n/vote 1 no\n/vote close 1\n')
    ok = wgbot("audit", "verify")
    assert ok.returncode == 0, ok.stdout
    assert "the last checkpoint posted (" in ok.stdout and "is still held, unchanged" in ok.stdout
    given = ok.stdout.split("checkpoint now: ")[1].strip()

    database = home / "wgbot.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE ballots SET option = 'yes'")
    changed = wgbot("audit", "verify")
    assert changed.returncode == 1
    assert "ballots disagree with the audit log: vote #1: ACME GmbH: its ballot reads 'yes'" in changed.stdout
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE ballots SET option = 'no'")
        connection.execute("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
    cut = wgbot("audit", "verify")
    assert cut.returncode == 1 and "1 entry was removed" in cut.stdout
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM audit_log")
        connection.execute("DELETE FROM notices")  # the attacker wipes the bot's memory of its checkpoints too
    wiped = wgbot("audit", "verify", "--checkpoint", given)
    assert wiped.returncode == 1
    assert "audit log fails the checkpoint given: the log has 0 entries" in wiped.stdout


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("postgresql+asyncpg://postgres@127.0.0.1:5999/x", "Connect call failed"),
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/wgbot_no_such_database", "does not exist"),
    ],
)
@pytest.mark.parametrize("command", [("run",), ("org", "list"), ("db", "upgrade")])
def test_a_database_that_cannot_be_opened_is_one_line_and_a_failure(home, monkeypatch, url, cause, command):
    monkeypatch.setenv("WGBOT_DATABASE__URL", url)
    monkeypatch.setenv("WGBOT_TELEGRAM__TOKEN", "123456:not-used")  # `run` needs a platform to try
    done = wgbot(*command)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"wgbot: cannot open the database {url} (") and cause in line
    assert line.endswith("check [database] url (or WGBOT_DATABASE__URL) and that the server runs")


def test_version_and_what_an_upgrade_applied(fresh):
    assert wgbot("--version").stdout.startswith("wgbot ")
    first = wgbot("db", "upgrade")
    assert first.stdout.startswith("applied 0001, 0002") and "alembic" not in first.stderr
    assert wgbot("db", "upgrade").stdout.strip() == "nothing to apply; database schema is up to date"


def test_admin_commands_need_only_the_database_never_the_bot_s_secrets(home):
    """An operator's shell has the config but not the bot's password, token or store key."""
    (home / "config.toml").write_text(
        '[matrix]\nhomeserver = "https://matrix.example.org"\nuser_id = "@wgbot:example.org"\n'
        '[telegram]\nmode = "polling"\n'
    )
    environment = {"WGBOT_MATRIX__PASSWORD_FILE": str(home / "not-here")}
    listed = subprocess.run(
        [WGBOT, "wg", "list"], capture_output=True, text=True, timeout=60, env=os.environ | environment
    )
    assert listed.returncode == 0, listed.stderr
    assert "PFAS" in listed.stdout and "Traceback" not in listed.stderr
    served = subprocess.run([WGBOT, "run"], capture_output=True, text=True, timeout=60, env=os.environ | environment)
    assert served.returncode == 2 and "WGBOT_MATRIX__PASSWORD_FILE" in served.stderr


def test_the_outbox_shows_what_waits_and_the_operator_retries_or_drops_it(home):
    assert wgbot("db", "upgrade").returncode == 0

    async def queue() -> None:
        db = Database.connect(f"sqlite+aiosqlite:///{home / 'wgbot.sqlite3'}")
        async with db.transaction() as session:
            await notices.to_room(session, "telegram", "-100", "The agenda is out.")
            await notices.to_account(session, "telegram", "42", "Your link code is 123456")
        async with db.transaction() as session:
            first = (await notices.undelivered(session))[0]
            await notices.mark_failed(session, first.id, "Forbidden: bot was kicked from the group chat", final=True)
        await db.close()

    asyncio.run(queue())
    listed = wgbot("outbox", "list")
    assert listed.stdout.splitlines() == [
        "#1\tfailed\t1 try\ttelegram:-100\tThe agenda is out.\tForbidden: bot was kicked from the group chat",
        "#2\tpending\t0 tries\ttelegram:user 42\t(private message)",
        "2 undelivered",
    ]
    assert "123456" not in listed.stdout  # a private message may hold a secret
    assert wgbot("outbox", "retry", "--failed").stdout.strip() == "1 notice due again now; the running bot sends them"
    assert wgbot("outbox", "list").stdout.startswith("#1\tpending\t0 tries\ttelegram:-100\tThe agenda is out.")
    assert wgbot("outbox", "drop", "2").stdout.strip() == "notice #2 dropped; it stays on record as failed"
    missing = wgbot("outbox", "retry", "9")
    assert (missing.returncode, missing.stderr.strip()) == (1, "wgbot: no undelivered notice #9; nothing was changed")
    assert wgbot("audit", "verify").returncode == 0  # the operator's acts are in the audit log, intact


def test_the_config_may_follow_the_subcommand(fresh):
    (fresh / "elsewhere.toml").write_text(f'[database]\nurl = "sqlite+aiosqlite:///{fresh / "other.sqlite3"}"\n')
    for command in (["db", "upgrade", "--config", "elsewhere.toml"], ["-c", "elsewhere.toml", "wg", "list"]):
        done = wgbot(*command)
        assert done.returncode == 0, done.stderr
    assert (fresh / "other.sqlite3").exists() and not (fresh / "wgbot.sqlite3").exists()
    assert wgbot("wg", "list", "--config=elsewhere.toml").stdout.startswith("pfas\tPFAS\t")


def test_a_person_s_data_is_exported_whole_and_the_export_is_audited(home):
    import json

    wgbot("org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry", "--group", "pfas")
    wgbot("person", "add", "Jana Novak", "--org", "ACME GmbH", "--role", "chair:pfas", "--account", "console:jana")
    wgbot("person", "add", "Ola Nordmann", "--org", "ACME GmbH", "--account", "console:ola")
    said = '/vote open "Adopt the roadmap?"\n/vote 1 yes\n/meeting schedule "2099-01-12 10:00" Budget\n/rsvp 1 yes\n'
    wgbot("console", "--as", "jana", "--room", "pfas", stdin=said)
    done = wgbot("person", "export", "console:jana")
    assert done.returncode == 0, done.stderr
    held = json.loads(done.stdout)
    assert held["person"]["name"] == "Jana Novak" and held["person"]["organisation"] == "ACME GmbH"
    assert held["accounts"] == [{"platform": "console", "user_id": "jana", "since": held["accounts"][0]["since"]}]
    assert held["roles"] == [{"role": "chair", "group": "pfas"}]
    assert [(c["vote"], c["option"]) for c in held["casts"]] == [(1, "yes")]
    assert [(r["meeting"], r["answer"]) for r in held["rsvps"]] == [(1, "yes")]
    assert [v["question"] for v in held["votes_opened"]] == ["Adopt the roadmap?"]
    assert "Ola Nordmann" not in done.stdout  # another person's data is not theirs
    assert any(e["action"] == "ballot.cast" for e in held["audit_entries"])
    log = wgbot("audit", "verify")
    assert log.returncode == 0, log.stdout
    assert json.loads(wgbot("person", "export", "#1").stdout)["person"]["name"] == "Jana Novak"
    assert wgbot("person", "export", "#99").stderr.startswith("wgbot: ")


def test_an_erased_person_s_name_is_gone_from_the_database_file_and_the_log_still_verifies(home):
    wgbot("org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry", "--group", "pfas")
    wgbot(
        "person", "add", "Jana Novak", "--org", "ACME GmbH", "--role", "chair:pfas",
        "--account", "console:jana", "--account", "telegram:987654321",
    )  # fmt: skip
    wgbot("console", "--as", "jana", "--room", "pfas", stdin='/vote open "Adopt the roadmap?"\n/vote 1 yes\n')

    asked = wgbot("person", "erase", "console:jana")
    assert asked.returncode == 1 and "Run again with --yes" in asked.stdout and "chat accounts: 2" in asked.stdout
    assert wgbot("person", "list").stdout.count("Jana Novak") == 1  # nothing was changed

    done = wgbot("person", "erase", "console:jana", "--yes")
    assert done.returncode == 0, done.stderr
    assert "Their name is found nowhere in the database." in done.stdout
    assert wgbot("audit", "verify").returncode == 0
    files = [path for path in home.iterdir() if path.name.startswith("wgbot.sqlite3")]
    for gone in (b"Jana Novak", b"987654321"):
        assert files and not any(gone in path.read_bytes() for path in files), (
            gone
        )  # nor in deleted space or the write-ahead log
    assert "erased person #1" in wgbot("person", "list").stdout


def test_members_are_imported_from_the_files_european_spreadsheets_write(home):
    """Excel in Germany saves its CSV with semicolons in Windows-1252; a workbook types ids as numbers."""
    (home / "excel-de.csv").write_bytes(
        "Organisation;Country;Kind;Groups;Representative;Accounts;Roles\r\n"
        'Microelectrónica Ibérica SL;ES;industry;"pfas;skills";José Müller;telegram:1001;\r\n'
        ";;;;;;\r\n".encode("cp1252")
    )
    read = wgbot("import", "members", "excel-de.csv")
    assert read.returncode == 0, read.stdout + read.stderr
    assert "note\texcel-de.csv is not UTF-8: read as Windows-1252 (Excel's CSV); check accented names" in read.stdout
    assert "created\tline 2: Microelectrónica Ibérica SL in skills" in read.stdout.splitlines()  # "pfas;skills" quoted
    assert read.stdout.splitlines()[-1] == "5 created, 0 skipped, 0 rejected"  # the empty row is no row
    assert "José Müller\tMicroelectrónica Ibérica SL\t-\ttelegram:1001" in wgbot("person", "list").stdout

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["organisation", "country", "kind", "groups", "representative", "accounts"])
    sheet.append(["Fab Nord AS", "NO", "industry", "supply-chains", "Ola Nordmann", None])
    sheet.append(["Fab Nord AS", "NO", "industry", "supply-chains", "Kari Nordmann", "telegram:1002"])
    book.save(home / "members.xlsx")
    read = wgbot("import", "members", "members.xlsx")
    assert read.returncode == 0, read.stdout + read.stderr
    assert "created\tline 3: representative Kari Nordmann" in read.stdout.splitlines()
    assert "Kari Nordmann\tFab Nord AS\t-\ttelegram:1002" in wgbot("person", "list").stdout

    (home / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    old = wgbot("import", "members", "old.xls")
    assert old.returncode == 1 and "Traceback" not in old.stderr
    assert (
        old.stderr.strip()
        == "wgbot: old.xls is an Excel 97–2003 workbook (.xls): save it as .xlsx or CSV and import that."
    )
    (home / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    broken = wgbot("import", "members", "broken.xlsx")
    assert broken.returncode == 1 and broken.stderr.startswith("wgbot: broken.xlsx is not a workbook this can read")


def test_csv_exports_carry_a_byte_order_mark_so_excel_reads_accents(home):
    wgbot("org", "add", "Microelectrónica Ibérica SL", "--country", "ES", "--kind", "industry", "--group", "pfas")
    assert wgbot("export", "members", "-o", "members.csv").returncode == 0
    written = (home / "members.csv").read_bytes()
    assert written.startswith(b"\xef\xbb\xbforganisation,")
    assert "Microelectrónica Ibérica SL,ES" in written.decode("utf-8-sig")
    again = wgbot("import", "members", "members.csv")  # the register, exported, reads back in
    assert again.stdout.splitlines()[-1] == "0 created, 2 skipped, 0 rejected", again.stdout
