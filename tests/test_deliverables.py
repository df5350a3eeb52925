"""Deliverables: drafts from chat become numbered versions with their hashes, comments, a status
the chair moves, reminders before the due date, an approval vote on one version, and an export
whose hashes match what was sent. Bad input leaves nothing behind. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.config import DeliverableSettings
from bot.router import Router
from bot.transports.base import AttachmentRef, TooLarge
from handlers import build_registry
from handlers.deliverables.due_dates import DueDateReminders
from storage import deliverables
from storage.files import FileStore
from storage.models import AuditEntry, Deliverable, DraftVersion, Notice, Vote, utcnow
from tests.alliance import member_organisation, message, person

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
MARKDOWN = b"# PFAS roadmap\n\nPhase-out by 2030.\n"


def docx(text: str) -> bytes:
    """A minimal DOCX package; the same text gives the same bytes (fixed timestamps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, content in (
            ("[Content_Types].xml", "<Types/>"),
            ("word/document.xml", f"<w:document>{text}</w:document>"),
        ):
            package.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 25, 0, 0, 0)), content)
    return buffer.getvalue()


class Uploads:
    """What people attach: the tests' transport hands the router these bytes by file id."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def attach(self, name: str, data: bytes, size: int | None = None) -> AttachmentRef:
        file_id = f"file-{len(self.files)}"
        self.files[file_id] = data
        return AttachmentRef("console", file_id, name, "application/octet-stream", size)

    async def fetch(self, attachment: AttachmentRef, limit: int) -> bytes:
        data = self.files[attachment.file_id]
        if len(data) > limit:
            raise TooLarge(limit)
        return data


@pytest.fixture
def uploads() -> Uploads:
    return Uploads()


@pytest.fixture
def settings(settings, tmp_path):
    return settings.model_copy(
        update={"files": settings.files.model_copy(update={"path": tmp_path / "files", "max_mb": 1})}
    )


@pytest.fixture
def router(db, settings, uploads) -> Router:
    return Router(db, build_registry(), settings, fetch=uploads.fetch)


@pytest.fixture
async def pfas(db):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    await member_organisation(db, "Skilled BV", joins=("skills",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=("console:ola",))


def stored_files(settings) -> list[str]:
    root = settings.files.path
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_drafts_become_numbered_versions_with_author_organisation_and_hash(say, db, pfas, uploads, settings):
    created = await say('/deliverable new "PFAS roadmap" due=2027-03-31 The alliance\'s view on PFAS')
    assert created == (
        "Deliverable 1 (PFAS roadmap) is open for drafts, due Wed 31 Mar 2027 23:59 CEST (Europe/Brussels, the "
        "alliance's zone; /tz sets yours): /draft 1 with a file or text."
    )
    first = await say("/draft 1", sender="ola", attachments=(uploads.attach("roadmap.pdf", PDF),))
    assert (
        first
        == f"Recorded as version 1 of deliverable 1: roadmap.pdf, {len(PDF)} bytes, sha256 {hashlib.sha256(PDF).hexdigest()}."
    )
    second = await say("/draft 1 # PFAS roadmap\n\nPhase-out by 2030.")
    assert second.startswith("Recorded as version 2 of deliverable 1: deliverable-1-draft.md")
    assert (
        await say("/comment 1 2 Please add the 2035 milestone.", sender="ola")
        == "Comment added to version 2 of deliverable 1."
    )
    info = (await say("/deliverable info 1", sender="ola")).splitlines()
    assert info[0] == "Deliverable 1: PFAS roadmap — PFAS, drafting, due Wed 31 Mar 2027 23:59 CEST"
    assert info[2].startswith("v1 roadmap.pdf — Ola Nordmann (Fab Nord AS), ")
    assert info[3].startswith("v2 deliverable-1-draft.md — Jana Novak (ACME GmbH), ")
    assert info[4] == "   💬 Ola Nordmann: Please add the 2035 milestone."
    assert stored_files(settings) == sorted(
        [hashlib.sha256(PDF).hexdigest(), hashlib.sha256(MARKDOWN[:-1]).hexdigest()]
    )
    assert "1. PFAS roadmap — drafting, due Wed 31 Mar 2027" in await say("/deliverable list")
    async with db.transaction() as session:
        logged = list(
            await session.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "deliverable.draft").order_by(AuditEntry.id)
            )
        )
    assert [(d["version"], d["organisation"]) for d in logged] == [(1, "Fab Nord AS"), (2, "ACME GmbH")]


@pytest.mark.parametrize(
    ("command", "attachment", "reason"),
    [
        ("/draft 1", ("huge.pdf", PDF, 5 * 1024 * 1024), "huge.pdf is larger than the 1 MB limit."),
        (
            "/draft 1",
            ("tool.exe", b"MZ\x90\x00", None),
            "tool.exe is not a draft type: send PDF, DOCX, ODT, Markdown (.md) or plain text (.txt).",
        ),
        (
            "/draft 1",
            ("fake.pdf", b"MZ\x90\x00", None),
            "fake.pdf does not contain what its name says (application/pdf).",
        ),
        ("/draft 1", ("empty.md", b"", None), "empty.md is empty."),
        ("/draft 1", None, "Attach the draft, or write it after the command: /draft 1 <text>."),
        ("/draft 9 Some text", None, "No deliverable '9'; /deliverable list shows them."),
        ("/comment 1 7 Looks good", None, "Deliverable 1 has no version 7; /deliverable info 1 lists them."),
    ],
)
async def test_bad_drafts_are_refused_with_the_reason_and_leave_nothing_behind(
    say, db, pfas, uploads, settings, command, attachment, reason
):
    await say('/deliverable new "PFAS roadmap"')
    attachments = (uploads.attach(*attachment),) if attachment else ()
    answer = await say(command, sender="ola", attachments=attachments)
    assert answer.startswith(reason) and "Usage" not in answer, answer  # written right: no usage line
    assert stored_files(settings) == []
    async with db.transaction() as session:
        assert (await session.scalars(select(DraftVersion))).all() == []


async def test_the_same_file_twice_is_recognised_and_not_a_new_version(say, db, pfas, uploads, settings):
    await say('/deliverable new "PFAS roadmap"')
    await say("/draft 1", attachments=(uploads.attach("roadmap.docx", docx("v1")),))
    again = await say("/draft 1", sender="ola", attachments=(uploads.attach("copy.docx", docx("v1")),))
    assert again.startswith("That is exactly version 1 (sha256 ")
    assert len(stored_files(settings)) == 1


async def test_only_organisations_of_the_group_send_drafts(say, db, pfas, uploads):
    await person(
        db,
        "Sven Skill",
        organisation=(await member_organisation(db, "Outside AB", joins=("skills",))),
        accounts=("console:sven",),
    )
    await say('/deliverable new "PFAS roadmap"')
    refused = await say("/draft 1 My text", sender="sven", room="skills")
    assert refused.startswith("Only organisations taking part in PFAS send its drafts.")


async def test_a_file_written_by_a_transaction_that_rolls_back_is_removed(db, tmp_path):
    store = FileStore(tmp_path / "files")
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            sha256, new = store.put(session, b"half a draft")
            assert new and store.path(sha256).exists()
            raise RuntimeError("the database refused the rest")
    assert not store.path(sha256).exists()


async def test_two_drafts_at_the_same_instant_become_two_versions(say, db, pfas, uploads):
    await say('/deliverable new "PFAS roadmap"')
    answers = await asyncio.gather(say("/draft 1 First text", sender="jana"), say("/draft 1 Second text", sender="ola"))
    assert sorted(a.split(" of ")[0] for a in answers) == ["Recorded as version 1", "Recorded as version 2"]


async def test_the_chair_moves_the_status_and_everyone_is_told(say, db, pfas):
    await say('/deliverable new "PFAS roadmap"')
    assert (await say("/deliverable status 1 final")).startswith("Deliverable 1 is drafting; it can move to in review.")
    await say("/draft 1 The text.")
    assert (
        await say("/deliverable status 1 review") == "Deliverable 1 (PFAS roadmap) is now in review; it was drafting."
    )
    assert (
        await say("/deliverable status 1 final 1")
        == "Deliverable 1 (PFAS roadmap) is now final (version 1); it was in review."
    )
    assert (await say("/draft 1 Late text", sender="ola")).startswith(
        "Deliverable 1 is final; it takes no more drafts."
    )
    assert (await say("/deliverable status 1 review", sender="ola")).startswith("Only the chair of this working group")
    async with db.transaction() as session:
        told = list(
            await session.scalars(select(Notice.target).where(Notice.text.like("Deliverable 1 (PFAS roadmap) is now%")))
        )
        moves = list(await session.scalars(select(AuditEntry.details).where(AuditEntry.action == "deliverable.status")))
    assert told == []  # PFAS's one room is where the chair typed: the answer is the only copy there
    assert [(m["from"], m["to"], m["version"]) for m in moves] == [
        ("drafting", "in review", None),
        ("in review", "final", 1),
    ]


async def test_a_passed_approval_vote_makes_exactly_that_version_final(say, db, pfas, uploads):
    await say('/deliverable new "PFAS roadmap"')
    await say("/draft 1", sender="ola", attachments=(uploads.attach("v1.pdf", PDF),))
    await say("/draft 1", attachments=(uploads.attach("v2.docx", docx("second")),))
    await say("/draft 1 A third text")
    opened = await say('/vote open "Approve version 2 of the roadmap?" approve=1.2')
    assert opened.startswith("Vote #1 is open")
    async with db.transaction() as session:
        posted = (await session.scalars(select(Notice.text).where(Notice.text.like("Vote #1 (PFAS)%")))).first()
    assert (
        f"version 2 of deliverable 1 (PFAS roadmap: v2.docx, sha256 {hashlib.sha256(docx('second')).hexdigest()}) becomes final"
        in posted
    )
    await say("/vote 1 yes")
    await say("/vote 1 yes", sender="ola")
    closed = await say("/vote close 1")
    assert closed.startswith("Vote #1 is closed")
    async with db.transaction() as session:
        deliverable = await session.get(Deliverable, 1)
        result = (await session.get(Vote, 1)).result
    assert (deliverable.status.value, deliverable.final_version) == ("final", 2)
    assert result["action"] == "version 2 of deliverable 1 is final"
    refused = await say('/vote open "Approve?" approve=1.9')
    assert refused.startswith("Deliverable 1 has no version 9")


async def test_the_export_holds_every_version_with_a_manifest_whose_hashes_match(
    router, db, pfas, uploads, settings, say
):
    await say('/deliverable new "PFAS roadmap"')
    sent = {"v1.pdf": PDF, "v2.docx": docx("second")}
    await say("/draft 1", sender="ola", attachments=(uploads.attach("v1.pdf", sent["v1.pdf"]),))
    await say("/draft 1", attachments=(uploads.attach("v2.docx", sent["v2.docx"]),))
    await say("/comment 1 v1 Fine by us.")
    reply = await router.handle(message("/deliverable export 1", sender="ola"))
    assert reply.file.name == "deliverable-1.zip"
    with zipfile.ZipFile(io.BytesIO(reply.file.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        files = {name: archive.read(name) for name in archive.namelist() if name.startswith("versions/")}
        readme = archive.read("README.md").decode()
    assert sorted(files) == ["versions/v1-v1.pdf", "versions/v2-v2.docx"]
    for version in manifest["versions"]:
        assert hashlib.sha256(files[version["file"]]).hexdigest() == version["sha256"]
        assert files[version["file"]] == sent[version["original_name"]]
    assert manifest["versions"][0]["comments"][0]["text"] == "Fine by us."
    assert [h["to"] for h in manifest["status_history"]] == ["drafting"]
    assert readme.startswith("# PFAS roadmap") and "sha256 `" in readme


async def test_due_date_reminders_list_the_contributors_once(say, db, pfas, settings):
    await say('/deliverable new "PFAS roadmap" due=2027-03-31')
    await say("/draft 1 Our text", sender="ola")
    async with db.transaction() as session:
        await session.execute(update(Deliverable).values(due_at=utcnow() + timedelta(hours=20)))
    planner = DueDateReminders(db, DeliverableSettings(reminder_days=[7, 1]), "Europe/Brussels")
    assert sorted(job.id for job in await planner.plan()) == ["deliverable:due:1:1.0", "deliverable:due:1:7.0"]
    assert await planner.remind(1, 7.0) is True and await planner.remind(1, 7.0) is False
    async with db.transaction() as session:
        reminders = list(await session.scalars(select(Notice.text).where(Notice.text.like("Reminder: deliverable 1%"))))
    assert len(reminders) == 1 and "Contributions so far: Fab Nord AS (v1)." in reminders[0]
    assert [job.id for job in await planner.plan()] == ["deliverable:due:1:1.0"]


def odt_bomb(inflated: int) -> bytes:
    """An ODT whose `mimetype` member inflates from a few hundred kilobytes to `inflated` bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as package:
        with package.open("mimetype", "w") as member:
            member.write(b"application/vnd.oasis.opendocument.text")
            chunk = b"\0" * (1 << 20)
            for _ in range(inflated >> 20):
                member.write(chunk)
        package.writestr("content.xml", "<office:document-content/>")
    return buffer.getvalue()


async def test_a_compressed_bomb_is_refused_without_inflating_it(say, pfas, uploads):
    import tracemalloc

    await say('/deliverable new "PFAS roadmap"')
    bomb = odt_bomb(300 << 20)
    assert len(bomb) < 1 << 20  # under the 1 MB limit as sent
    tracemalloc.start()
    try:
        refused = await say("/draft 1", attachments=(uploads.attach("roadmap.odt", bomb),))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.startswith("roadmap.odt does not contain what its name says")
    assert peak < 20 << 20  # it never held the 300 MB the member inflates to


async def test_a_package_of_too_many_parts_is_refused(say, pfas, uploads):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("word/document.xml", "<w:document/>")
        for n in range(10_001):
            package.writestr(f"p/{n}", "")
    await say('/deliverable new "PFAS roadmap"')
    refused = await say("/draft 1", attachments=(uploads.attach("roadmap.docx", buffer.getvalue()),))
    assert refused.startswith("roadmap.docx does not contain what its name says")


async def test_a_withdrawn_version_stays_on_record_marked_and_is_never_made_final(say, db, pfas, settings):
    await say('/deliverable new "PFAS roadmap"')
    await say("/draft 1 Ola's first words.", sender="ola")
    await say("/draft 1 Jana's better words.")
    assert (await say("/deliverable withdraw 1.2", sender="ola")).startswith(
        "Only its author, the group's chair or the secretariat may withdraw version 2."
    )
    withdrawn = await say("/deliverable withdraw 1.1", sender="ola")
    assert withdrawn == (
        "Version 1 of deliverable 1 (PFAS roadmap) is withdrawn by Ola Nordmann; it stays on record, marked withdrawn."
    )
    assert (await say("/deliverable withdraw 1.1")).startswith("Version 1 of deliverable 1 was already withdrawn.")
    info = (await say("/deliverable info 1")).splitlines()
    assert "WITHDRAWN" in next(line for line in info if line.startswith("v1 ")) and "WITHDRAWN" not in info[-1]
    assert await say('/vote open "Adopt v1?" approve=1.1') == (
        "Version 1 of deliverable 1 was withdrawn; a vote cannot approve it. Put a version that stands to the vote."
    )  # refused at opening, as the status path refuses it
    assert (await say("/deliverable status 1 review")).startswith("Deliverable 1 (PFAS roadmap) is now in review")
    assert (await say("/deliverable status 1 final 1")).startswith(
        "Version 1 of deliverable 1 was withdrawn; it cannot be final."
    )
    assert (await say("/deliverable status 1 final")).startswith(
        "Deliverable 1 (PFAS roadmap) is now final (version 2)"
    )
    assert (await say("/deliverable withdraw 1.2")).startswith("Version 2 is the final version of deliverable 1;")
    async with db.transaction() as session:
        item = await deliverables.find(session, 1)
        record = await deliverables.manifest(session, item)
        logged = list(
            await session.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "deliverable.version_withdrawn")
            )
        )
    assert [v["withdrawn_by"] is not None for v in record["versions"]] == [True, False]
    assert logged == [{"version": 1, "sha256": record["versions"][0]["sha256"]}]
    versions = [line for line in deliverables.readme(record).splitlines() if line.startswith("- **v")]
    assert "— **WITHDRAWN** " in versions[0] and "WITHDRAWN" not in versions[1]  # the zip's README marks it
    await person(db, "Sam", accounts=("console:sam",), roles=("secretariat",))
    listed = await say.router.handle(message("/export deliverables", sender="sam", room="secretariat"))
    [row] = list(csv.DictReader(io.StringIO(listed.file.content.decode())))
    assert (row["versions"], row["withdrawn"], row["final_version"]) == ("2", "v1", "2")
