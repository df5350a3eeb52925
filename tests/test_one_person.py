"""One person, many accounts: a second account is linked to the person, never made a second
person; a person added twice is noticed; two records of one person are merged into one, with
everything the other held. The shell as an operator types it, the chat as the secretariat uses
it, and the merge itself on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage import audit, groups, merging, people, personal_data
from storage.models import (
    AuditEntry,
    BallotCast,
    ChatAccount,
    DraftVersion,
    LinkCode,
    Notice,
    Person,
    RoleAssignment,
    RoleName,
    Rsvp,
)
from tests.alliance import member_organisation, message, person

WGBOT = str(Path(sys.executable).with_name("wgbot"))


def wgbot(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    return subprocess.run(
        [WGBOT, *args], input=stdin, capture_output=True, text=True, timeout=60, cwd=home, env=environment
    )


def test_an_operator_links_a_second_account_instead_of_making_a_second_person(tmp_path):
    assert wgbot(tmp_path, "db", "upgrade").returncode == 0
    assert wgbot(tmp_path, "org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry").returncode == 0
    first = wgbot(tmp_path, "person", "add", "Sofia Marchetti", "--org", "ACME GmbH", "--account", "console:sofia")
    assert first.stdout.strip() == "added person #1 Sofia Marchetti", first.stderr

    # Meant to add her Telegram account: refused, naming her and the command that does it.
    again = wgbot(tmp_path, "person", "add", "sofia  MARCHETTI", "--org", "acme gmbh", "--account", "telegram:123456")
    assert again.returncode == 1
    assert again.stderr.strip() == (
        "wgbot: Sofia Marchetti (#1) is already known for ACME GmbH: nothing was added. To give them another "
        "account: wgbot person link '#1' telegram:123456. If this is another person of the same name, add "
        "--same-name-ok."
    )
    assert wgbot(tmp_path, "person", "list").stdout.count("Sofia") == 1

    linked = wgbot(tmp_path, "person", "link", "#1", "telegram:123456")
    assert linked.stdout.strip() == "linked telegram:123456 to Sofia Marchetti (#1)", linked.stderr
    assert wgbot(tmp_path, "person", "link", "#1", "telegram:123456").stdout.startswith("telegram:123456 is already")
    assert wgbot(tmp_path, "person", "list").stdout.strip() == (
        "#1\tSofia Marchetti\tACME GmbH\t-\tconsole:sofia, telegram:123456"
    )
    unlinked = wgbot(tmp_path, "person", "unlink", "#1", "telegram:123456")
    assert unlinked.stdout.strip() == "unlinked telegram:123456 from Sofia Marchetti (#1)"
    wrong = wgbot(tmp_path, "person", "unlink", "#1", "telegram:123456")
    assert (wrong.returncode, wrong.stderr.count("\n")) == (1, 1) and "is not Sofia Marchetti's" in wrong.stderr

    other = wgbot(tmp_path, "person", "add", "Sofia Marchetti", "--org", "ACME GmbH", "--same-name-ok")
    assert other.stdout.strip() == "added person #2 Sofia Marchetti"
    assert wgbot(tmp_path, "person", "link", "#2", "telegram:777").returncode == 0
    taken = wgbot(tmp_path, "person", "link", "#1", "telegram:777")
    assert taken.stderr.strip() == (
        "wgbot: telegram:777 belongs to Sofia Marchetti (#2). If that is the same person: wgbot person merge '#1' '#2'"
    )
    merged = wgbot(tmp_path, "person", "merge", "#1", "#2")
    assert merged.stdout.startswith("merged #2 into Sofia Marchetti (#1)"), merged.stderr
    assert wgbot(tmp_path, "person", "list").stdout.strip() == (
        "#1\tSofia Marchetti\tACME GmbH\t-\tconsole:sofia, telegram:777"
    )
    assert "intact" in wgbot(tmp_path, "audit", "verify").stdout


@pytest.fixture
async def acme(db):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Sam", accounts=("console:sam",), roles=("secretariat",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    return acme


async def count_people(db, name: str) -> int:
    async with db.transaction() as session:
        return await session.scalar(select(func.count()).select_from(Person).where(Person.name == name))


async def test_member_add_twice_adds_one_person_and_says_so(db, say, acme):
    first = await say('/member add "ACME GmbH" Ingrid Holm', sender="sam", room="sam", direct=True)
    assert first.startswith("Added Ingrid Holm (#3) for ACME GmbH.")
    again = await say('/member add "ACME GmbH" ingrid holm', sender="sam", room="sam", direct=True)
    assert again.startswith(
        "Ingrid Holm (#3) already represents ACME GmbH: no one was added. If this is another person of the same "
        "name: /member add … same-name-ok. They have not linked a chat account yet; here is a new code for them: "
        "/link "
    )
    assert await count_people(db, "Ingrid Holm") == 1
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(LinkCode).where(LinkCode.person_id == 3)) == 2

    from_the_room = await say('/member add "ACME GmbH" Ingrid Holm', sender="sam", room="pfas")
    assert from_the_room.startswith("I have sent Ingrid Holm's link code to you in a private chat")

    async with db.transaction() as session:
        ingrid = await session.get_one(Person, 3)
        await people.add_account(session, actor="t", person=ingrid, platform="console", user_id="ingrid")
    linked = await say('/member add "ACME GmbH" Ingrid Holm', sender="sam", room="sam", direct=True)
    assert linked.endswith("They have linked a chat account already (/member list shows it).")

    another = await say('/member add "ACME GmbH" same-name-ok Ingrid Holm', sender="sam", room="sam", direct=True)
    assert another.startswith("Added Ingrid Holm (#4) for ACME GmbH.")
    assert await count_people(db, "Ingrid Holm") == 2


async def test_a_merge_moves_everything_the_other_record_held_and_the_kept_ones_stay(db, say, acme):
    """Sofia was added twice: #3 with her console account, #4 (made for her Telegram account)
    who chaired, voted, drafted and answered. After the merge, #3 holds all of it; where both
    answered the same meeting, #3's answer stays; the log verifies and her export names #4's acts."""
    await person(db, "Sofia Marchetti", organisation=acme, accounts=("console:sofia",))
    async with db.transaction() as session:
        twin = await people.add_person(session, actor="t", name="Sofia Marchetti", organisation=acme, same_name_ok=True)
        await people.add_account(session, actor="t", person=twin, platform="telegram", user_id="123456")
    await say('/meeting schedule "2099-01-12 10:00" Budget')
    await say('/vote open "Adopt the roadmap?"')
    await say('/deliverable new "Roadmap"')
    await say("/rsvp 1 yes", sender="sofia")
    telegram = {"platform": "telegram", "sender": "123456"}
    assert (await say("/rsvp 1 no", room="-100", **telegram)).startswith("Noted")
    assert (await say("/vote 1 no", room="-100", **telegram)).startswith("Recorded: no for ACME GmbH")
    assert (await say("/draft 1 the plan", room="-100", **telegram)).startswith("Recorded as version 1")
    async with db.transaction() as session:
        twin, pfas = await session.get_one(Person, 4), await groups.find_group(session, "pfas")
        await people.assign_role(session, actor="t", person=twin, role=RoleName.CHAIR, group=pfas)

    async with db.transaction() as session:
        keep, other = await session.get_one(Person, 3), await session.get_one(Person, 4)
        merged = await merging.merge(session, actor="cli:op", keep=keep, other=other)
    assert merged.moved["chat_accounts"] == merged.moved["role_assignments"] == 1
    assert merged.dropped == {"rsvps": 1}

    async with db.transaction() as session:
        assert await session.get(Person, 4) is None
        assert set(await session.scalars(select(ChatAccount.platform_user_id).where(ChatAccount.person_id == 3))) == {
            "sofia",
            "123456",
        }
        assert await session.scalar(select(BallotCast.person_id)) == 3
        assert await session.scalar(select(DraftVersion.person_id)) == 3
        assert list(await session.scalars(select(Rsvp.answer).where(Rsvp.person_id == 3))) == ["yes"]
        assert list(await session.scalars(select(Rsvp.answer).where(Rsvp.person_id == 4))) == []
        held = (
            await session.execute(select(AuditEntry.action, AuditEntry.details).order_by(AuditEntry.id.desc()))
        ).first()
        assert held[0] == "person.merged" and held[1]["merged"] == 4
        assert (await audit.verify(session)).intact
        exported = await personal_data.export(session, await people.find_person(session, "#3"))
    assert exported["merged_records"] == [4]
    assert {e["action"] for e in exported["audit_entries"]} >= {
        "ballot.cast",
        "deliverable.draft",
    }
    whoami = await say("/whoami", room="-100", **telegram)
    assert "You are Sofia Marchetti (person #3)" in whoami and "Roles: chair of PFAS." in whoami
    assert json.dumps(exported)  # plain JSON, as `wgbot person export` writes it


async def test_records_of_two_organisations_merge_only_when_told_and_the_kept_organisation_stays(db, acme):
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    await person(db, "Ola Nordmann", organisation=acme, accounts=("console:ola-acme",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=("console:ola",), roles=("chair:pfas",))
    async with db.transaction() as session:
        keep, other = await session.get_one(Person, 3), await session.get_one(Person, 4)
        with pytest.raises(merging.Conflict):
            await merging.merge(session, actor="cli:op", keep=keep, other=other)
    async with db.transaction() as session:
        assert await session.get(Person, 4) is not None  # refused: nothing was merged
        keep, other = await session.get_one(Person, 3), await session.get_one(Person, 4)
        merged = await merging.merge(session, actor="cli:op", keep=keep, other=other, force=True)
    assert merged.notes == [f"#4 represented organisation #{fab.id}; #3's stays"]
    async with db.transaction() as session:
        kept = await session.get_one(Person, 3)
        assert kept.organisation_id == acme.id
        assert list(await session.scalars(select(RoleAssignment).where(RoleAssignment.person_id == 3))) == []
        assert await session.scalar(select(func.count()).select_from(Notice)) is not None


async def test_a_stranger_s_whoami_gives_the_secretariat_the_command_that_adds_them(database_url, say, tmp_path):
    """The first secretariat member cannot know their Telegram id: /whoami in a private chat
    says it, with the command to paste; pasted at the shell, it adds them; in a room, no command."""
    stranger = message("/whoami", sender="123456789", platform="telegram", room="123456789", direct=True)
    stranger = dataclasses.replace(stranger, sender_name="Sam O'Neill")
    answer = await say(stranger)
    assert "not yet known to the alliance" in answer
    lines = answer.splitlines()
    add = next(line for line in lines if line.startswith("wgbot person add"))
    assert add == "wgbot person add 'Sam O'\"'\"'Neill' --account telegram:123456789"
    assert "wgbot person link '#<number>' telegram:123456789" in lines
    in_room = await say(dataclasses.replace(stranger, is_direct=False, room_id="-100", event_id="in-room"))
    assert "wgbot person" not in in_room

    pasted = await asyncio.create_subprocess_exec(
        WGBOT, *shlex.split(add)[1:], "--role", "secretariat",
        cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "WGBOT_DATABASE__URL": database_url},
    )  # fmt: skip
    _, refused = await asyncio.wait_for(pasted.communicate(), 60)
    assert pasted.returncode == 0, refused
    known = await say(dataclasses.replace(stranger, event_id="again"))
    assert known.startswith("You are Sam O'Neill (person #") and "Roles: secretariat." in known
