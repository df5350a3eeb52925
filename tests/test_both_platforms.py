"""One wgbot process serves Matrix and Telegram at once, from one database: the same person is
the same person on both, and each platform's rooms get their answers."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile

import pytest

from bot.app import App, chat_transports
from bot.config import Settings
from handlers import AREAS, build_registry
from storage import groups, people, rooms
from storage.models import RoomPurpose
from tests.alliance import member_organisation, person
from tests.matrix_peers import WAIT, Member, matrix_section
from tests.telegram_emulator import BotApiEmulator, FloodControl

pytestmark = pytest.mark.sqlite_only
TELEGRAM_GROUP = -1009876543210


def both(synapse, emulator: BotApiEmulator, bot_user, inviters: tuple[str, ...] = (), **telegram) -> Settings:
    return Settings.model_validate(
        {
            "matrix": matrix_section(synapse, bot_user, allowed_inviters=list(inviters)),
            "telegram": emulator.bot_settings(**telegram),
        }
    )


async def bind_pfas(db, matrix_room: str) -> None:
    """PFAS's rooms: the Matrix room and the Telegram group."""
    async with db.transaction() as session:
        pfas = await groups.find_group(session, "pfas")
        for platform, room_id in (("matrix", matrix_room), ("telegram", str(TELEGRAM_GROUP))):
            await rooms.bind_room(
                session, actor="test", platform=platform, room_id=room_id, purpose=RoomPurpose.GROUP, group=pfas
            )


async def test_one_process_answers_in_matrix_and_telegram_rooms_of_one_group(synapse, db):
    emulator = BotApiEmulator()
    await emulator.start()
    bot_user, jana_user, sam_user = await synapse.register(), await synapse.register(), await synapse.register()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    jana = await person(
        db, "Jana Novak", organisation=acme, accounts=(f"matrix:{jana_user.user_id}",), roles=("chair:pfas",)
    )
    await person(db, "Sam", accounts=(f"matrix:{sam_user.user_id}",), roles=("secretariat",))
    async with db.transaction() as session:  # Jana's Telegram account is linked to the same person
        await people.add_account(
            session,
            actor="test",
            person=await people.find_person(session, str(jana.id)),
            platform="telegram",
            user_id="1001",
        )
    settings = both(synapse, emulator, bot_user)
    registry = build_registry()
    app = App(settings, db, chat_transports(settings, db, registry), AREAS)
    app.live.every = 0.2  # edit the vote messages soon after each ballot
    running = asyncio.create_task(app.run())
    sam, jana_mx = Member(synapse, sam_user), Member(synapse, jana_user)
    try:
        await asyncio.wait_for(app.started.wait(), WAIT)
        assert set(app.transports) == {"matrix", "telegram"}
        await sam.start()
        await jana_mx.start()
        matrix_room = await sam.create_room(invite=[bot_user.user_id, jana_user.user_id])
        await jana_mx.client.join(matrix_room)
        await sam.wait_until_joined(matrix_room, bot_user.user_id)
        jana_tg = emulator.person(1001, "Jana")
        emulator.group(TELEGRAM_GROUP, "PFAS", jana_tg)
        await bind_pfas(db, matrix_room)

        on_matrix = await jana_mx.reply_from(bot_user.user_id, await jana_mx.say(matrix_room, "/whoami"))
        on_telegram = await emulator.answer_to(await emulator.say(jana_tg, TELEGRAM_GROUP, "/whoami"))
        for text in (on_matrix["content"]["body"], on_telegram.text):
            assert text.startswith(f"You are Jana Novak (person #{jana.id}).")
            assert f"matrix {jana_user.user_id}, telegram 1001" in text
        info = await emulator.answer_to(await emulator.say(jana_tg, TELEGRAM_GROUP, "/wg info pfas"))
        assert "Rooms: 2" in info.text  # the Matrix room and this chat: no console room beside a chat bot

        # A vote opened on Telegram is posted in both rooms: a keyboard there, reactions here.
        await emulator.say(jana_tg, TELEGRAM_GROUP, '/vote open "Adopt the PFAS roadmap v2?"')
        posted = next(
            m for m in await emulator.wait_for_bot(TELEGRAM_GROUP, count=4) if m.text.startswith("Vote #1 (PFAS)")
        )
        assert posted.buttons() == [("yes", "/vote 1 yes"), ("no", "/vote 1 no"), ("abstain", "/vote 1 abstain")]
        on_matrix = await jana_mx.wait_for(
            lambda e: e["sender"] == bot_user.user_id and e["content"].get("body", "").startswith("Vote #1 (PFAS)")
        )
        toast = await emulator.wait_for_toast(await emulator.press(jana_tg, posted, "yes"))
        assert toast["text"] == "Recorded: yes for ACME GmbH"
        await jana_mx.react(matrix_room, on_matrix["event_id"], "👎")
        changed = await jana_mx.wait_for(
            lambda e: e["sender"] == bot_user.user_id and e["content"].get("body", "").startswith("Recorded: no")
        )
        assert changed["content"]["body"] == "Recorded: no for ACME GmbH (replaces yes by Jana Novak)"

        # The vote message in both rooms is edited to show how the vote stands, keeping its buttons.
        standing = "So far: Turnout: 1 of 1 organisation (quorum 1: met).\nTally: yes 0 · no 1 · abstain 0"
        async with asyncio.timeout(WAIT):
            while not posted.text.endswith(standing):
                await asyncio.sleep(0.05)
        assert posted.text.startswith("Vote #1 (PFAS): Adopt the PFAS roadmap v2?")
        assert posted.buttons() == [("yes", "/vote 1 yes"), ("no", "/vote 1 no"), ("abstain", "/vote 1 abstain")]
        edited = await jana_mx.wait_for(
            lambda e: (
                e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
                and e["content"]["m.relates_to"]["event_id"] == on_matrix["event_id"]
                and e["content"]["m.new_content"]["body"].endswith(standing)
            )
        )
        assert edited["sender"] == bot_user.user_id
    finally:
        app.request_stop()
        await asyncio.wait_for(running, WAIT)
        await sam.stop()
        await jana_mx.stop()
        await emulator.stop()


async def test_an_announcement_to_all_arrives_once_in_every_bound_room_of_both_platforms(synapse, db):
    """PFAS meets on Matrix and Telegram, Skills on Telegram, the plenary on Matrix; the bot may pin
    in the plenary room and in the Telegram groups, but not in the PFAS Matrix room."""
    emulator = BotApiEmulator()
    await emulator.start()
    bot_user, sam_user = await synapse.register(), await synapse.register()
    await person(db, "Sam", accounts=(f"matrix:{sam_user.user_id}",), roles=("secretariat",))
    registry = build_registry()
    settings = both(synapse, emulator, bot_user, rate_limiter=True)
    app = App(settings, db, chat_transports(settings, db, registry), AREAS)
    running = asyncio.create_task(app.run())
    sam = Member(synapse, sam_user)
    emulator.flood_control = FloodControl()  # Telegram's limits, strictly
    try:
        await asyncio.wait_for(app.started.wait(), WAIT)
        await sam.start()
        pfas_room = await sam.create_room(invite=[bot_user.user_id])
        plenary = await sam.create_room(invite=[bot_user.user_id], moderators=(bot_user.user_id,))
        secretariat = await sam.create_room(invite=[bot_user.user_id])
        for room in (pfas_room, plenary, secretariat):
            await sam.wait_until_joined(room, bot_user.user_id)
        emulator.group(TELEGRAM_GROUP, "PFAS")
        emulator.group(TELEGRAM_GROUP - 1, "Skills")
        async with db.transaction() as session:
            for platform, room_id, purpose, slug in (
                ("matrix", pfas_room, RoomPurpose.GROUP, "pfas"),
                ("matrix", plenary, RoomPurpose.PLENARY, None),
                ("matrix", secretariat, RoomPurpose.SECRETARIAT, None),
                ("telegram", str(TELEGRAM_GROUP), RoomPurpose.GROUP, "pfas"),
                ("telegram", str(TELEGRAM_GROUP - 1), RoomPurpose.GROUP, "skills"),
            ):
                group = await groups.find_group(session, slug) if slug else None
                await rooms.bind_room(
                    session, actor="test", platform=platform, room_id=room_id, purpose=purpose, group=group
                )
            for console_room in await rooms.list_bindings(session):
                if console_room.platform == "console":
                    await session.delete(console_room)

        asked = await sam.say(secretariat, "/announce all pin **Plenary** on 3 December:\n- agenda\n- budget")
        answer = await sam.reply_from(bot_user.user_id, asked)
        assert (
            answer["content"]["body"]
            == "Announcement #1 to all groups and the plenary is on its way; a delivery report follows."
        )
        report = await sam.wait_for(
            lambda e: (
                e["room_id"] == secretariat and e["content"].get("body", "").startswith("Announcement #1: delivered")
            )
        )
        lines = report["content"]["body"].splitlines()
        assert lines[0] == "Announcement #1: delivered to 4 of 4 rooms."
        assert sorted(lines[1:]) == sorted(
            [
                f"✓ PFAS (matrix {pfas_room}); not pinned: MatrixError: could not pin in {pfas_room}: "
                "You don't have permission to post that to the room. user_level (0) < send_level (50)",
                f"✓ Plenary (matrix {plenary})",
                f"✓ PFAS (telegram {TELEGRAM_GROUP})",
                f"✓ Skills (telegram {TELEGRAM_GROUP - 1})",
            ]
        )

        for room in (pfas_room, plenary):
            posted = [
                e
                for e in sam.from_sender(bot_user.user_id, room)
                if e["content"]["body"].startswith("From the Secretariat:\n**Plenary**")
            ]
            assert len(posted) == 1
            assert posted[0]["content"]["formatted_body"] == (
                "<p><b>From the Secretariat:</b></p>\n"
                "<p><strong>Plenary</strong> on 3 December:</p>\n<ul>\n<li>agenda</li>\n<li>budget</li>\n</ul>"
            )
        for chat in (TELEGRAM_GROUP, TELEGRAM_GROUP - 1):
            [posted] = emulator.bot_messages(chat)
            assert posted.text == "From the Secretariat:\n\nPlenary on 3 December:\n\n• agenda\n• budget"
            assert {"type": "bold", "offset": 0, "length": 21} in posted.entities  # the header
            assert {"type": "bold", "offset": 23, "length": 7} in posted.entities  # **Plenary**
            assert emulator.pinned[chat] == [posted.message_id]
        assert emulator.rate_limited == 0
        pinned = await sam.client.room_get_state_event(plenary, "m.room.pinned_events")
        assert pinned.content["pinned"] == [
            next(
                e["event_id"]
                for e in sam.from_sender(bot_user.user_id, plenary)
                if e["content"]["body"].startswith("From the Secretariat:\n**Plenary**")
            )
        ]
        copies_here = [
            e
            for e in sam.from_sender(bot_user.user_id, secretariat)
            if e["content"]["body"].startswith("From the Secretariat:\n**Plenary**")
        ]
        assert copies_here == [], "the secretariat's room is not an audience of 'all'"
    finally:
        app.request_stop()
        await asyncio.wait_for(running, WAIT)
        await sam.stop()
        await emulator.stop()


async def test_two_organisations_draft_from_matrix_and_telegram_then_approve_version_2_and_export(
    synapse, db, tmp_path
):
    """ACME sends a PDF in the Matrix room, Fab Nord a DOCX in the Telegram group; a comment,
    a vote approving version 2, and the export: its hashes are those of the uploads."""
    emulator = BotApiEmulator()
    await emulator.start()
    bot_user, jana_user = await synapse.register(), await synapse.register()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=(f"matrix:{jana_user.user_id}",), roles=("chair:pfas",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=("telegram:2002",))
    registry = build_registry()
    settings = both(synapse, emulator, bot_user, inviters=(jana_user.user_id,)).model_copy(
        update={"files": Settings().files.model_copy(update={"path": tmp_path / "files"})}
    )
    app = App(settings, db, chat_transports(settings, db, registry), AREAS)
    running = asyncio.create_task(app.run())
    jana = Member(synapse, jana_user)
    ola = emulator.person(2002, "Ola")
    emulator.group(TELEGRAM_GROUP, "PFAS", ola)
    pdf = b"%PDF-1.7\n% ACME's first draft\n%%EOF\n"
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as package:
        package.writestr("word/document.xml", "<w:document>Fab Nord's revision</w:document>")
    docx = docx.getvalue()
    try:
        await asyncio.wait_for(app.started.wait(), WAIT)
        await jana.start()
        room = await jana.create_room(invite=[bot_user.user_id])
        await jana.wait_until_joined(room, bot_user.user_id)
        async with db.transaction() as session:
            pfas = await groups.find_group(session, "pfas")
            for platform, room_id in (("matrix", room), ("telegram", str(TELEGRAM_GROUP))):
                await rooms.bind_room(
                    session, actor="test", platform=platform, room_id=room_id, purpose=RoomPurpose.GROUP, group=pfas
                )

        async def matrix_says(text: str) -> str:
            answer = await jana.reply_from(bot_user.user_id, await jana.say(room, text))
            return answer["content"]["body"]

        assert (await matrix_says('/deliverable new "PFAS roadmap"')).startswith("Deliverable 1 (PFAS roadmap) is open")
        sent = await jana.send_file(room, pdf, "roadmap.pdf", caption="/draft 1")
        first = (await jana.reply_from(bot_user.user_id, sent))["content"]["body"]
        assert first.startswith(
            f"Recorded as version 1 of deliverable 1: roadmap.pdf, {len(pdf)} bytes, sha256 {hashlib.sha256(pdf).hexdigest()}"
        )
        uploaded = await emulator.upload(
            ola,
            TELEGRAM_GROUP,
            docx,
            "roadmap-fab.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            caption="/draft 1",
        )
        second = await emulator.answer_to(uploaded)
        assert second.text.startswith(
            f"Recorded as version 2 of deliverable 1: roadmap-fab.docx, {len(docx)} bytes, sha256 {hashlib.sha256(docx).hexdigest()}"
        )
        commented = await emulator.answer_to(
            await emulator.say(ola, TELEGRAM_GROUP, "/comment 1 1 We prefer our wording in v2.")
        )
        assert commented.text == "Comment added to version 1 of deliverable 1."

        assert (await matrix_says('/vote open "Adopt version 2 of the PFAS roadmap?" approve=1.2')).startswith(
            "Vote #1 is open"
        )
        assert await matrix_says("/vote 1 yes") == "Recorded: yes for ACME GmbH"
        ballot = await emulator.answer_to(await emulator.say(ola, TELEGRAM_GROUP, "/vote 1 yes"))
        assert ballot.text == "Recorded: yes for Fab Nord AS"
        assert (await matrix_says("/vote close 1")).startswith("Vote #1 is closed")
        assert "PFAS, final (version 2)" in await matrix_says("/deliverable info 1")

        exported = await emulator.answer_to(await emulator.say(ola, TELEGRAM_GROUP, "/deliverable export 1"))
        async with asyncio.timeout(WAIT):  # the file follows the answer's text
            while not (zipped := [m for m in emulator.bot_messages(TELEGRAM_GROUP) if m.document]):
                await asyncio.sleep(0.05)
        assert [m.document["file_name"] for m in zipped] == ["deliverable-1.zip"]
        zipped = zipped[0]
        assert exported.text.startswith("Deliverable 1 (PFAS roadmap): 2 versions")
        with zipfile.ZipFile(io.BytesIO(emulator.files[zipped.document["file_id"]][0])) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            assert archive.read("versions/v1-roadmap.pdf") == pdf
            assert archive.read("versions/v2-roadmap-fab.docx") == docx
        assert [(v["sha256"], v["organisation"], v["platform"]) for v in manifest["versions"]] == [
            (hashlib.sha256(pdf).hexdigest(), "ACME GmbH", "matrix"),
            (hashlib.sha256(docx).hexdigest(), "Fab Nord AS", "telegram"),
        ]
        assert manifest["deliverable"]["final_version"] == 2
        assert manifest["status_history"][-1] == {
            **manifest["status_history"][-1],
            "to": "final",
            "version": 2,
            "by": "vote:1",
        }
    finally:
        app.request_stop()
        await asyncio.wait_for(running, WAIT)
        await jana.stop()
        await emulator.stop()


async def test_a_secret_vote_on_both_platforms_leaves_no_choice_in_any_room_or_table(synapse, db):
    """ACME votes from Telegram with a button, Fab Nord by typing in the Matrix room; then every
    room event, every Telegram group message and every row of every table is read."""
    from sqlalchemy import select

    from storage.models import Base

    emulator = BotApiEmulator()
    await emulator.start()
    bot_user, ola_user, sam_user = await synapse.register(), await synapse.register(), await synapse.register()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",), roles=("chair:pfas",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=(f"matrix:{ola_user.user_id}",))
    await person(db, "Sam", accounts=(f"matrix:{sam_user.user_id}",), roles=("secretariat",))
    settings = both(synapse, emulator, bot_user)
    app = App(settings, db, chat_transports(settings, db, build_registry()), AREAS)
    running = asyncio.create_task(app.run())
    sam, ola = Member(synapse, sam_user), Member(synapse, ola_user)
    try:
        await asyncio.wait_for(app.started.wait(), WAIT)
        await sam.start()
        await ola.start()
        matrix_room = await sam.create_room(invite=[bot_user.user_id, ola_user.user_id], moderators=(bot_user.user_id,))
        await ola.client.join(matrix_room)
        await sam.wait_until_joined(matrix_room, bot_user.user_id)
        jana = emulator.person(1001, "Jana")
        emulator.group(TELEGRAM_GROUP, "PFAS", jana)
        await bind_pfas(db, matrix_room)

        await emulator.say(jana, TELEGRAM_GROUP, '/vote open "Elect the vice-chair?" secret')
        posted = next(
            m for m in await emulator.wait_for_bot(TELEGRAM_GROUP, count=2) if m.text.startswith("Vote #1 (PFAS)")
        )
        toast = await emulator.wait_for_toast(await emulator.press(jana, posted, "yes"))
        assert toast["text"] == "Recorded: yes for ACME GmbH"
        typed = await ola.say(matrix_room, "/vote 1 no")
        await ola.wait_for(
            lambda e: e["sender"] == bot_user.user_id and e["content"].get("body", "").startswith("A ballot for")
        )
        closed = await emulator.answer_to(await emulator.say(jana, TELEGRAM_GROUP, "/vote close 1"))
        assert closed.text.startswith("Vote #1 is closed")
        result = await sam.wait_for(
            lambda e: e["room_id"] == matrix_room and e["content"].get("body", "").startswith("Vote #1 is closed")
        )
        assert "Tally: yes 1 · no 1 · abstain 0" in result["content"]["body"]

        # Every room, as the servers keep it: nothing that says who chose what.
        assert (await ola.client.room_get_event(matrix_room, typed)).event.source["content"] == {}
        events = [e["event_id"] for e in sam.seen if e["room_id"] == matrix_room]
        shared = [
            (await sam.client.room_get_event(matrix_room, event_id)).event.source["content"].get("body", "")
            for event_id in events
        ]
        shared += [m.text or m.caption or "" for m in emulator.messages[TELEGRAM_GROUP]]
        assert len(shared) > 5
        for text in shared:
            assert "Recorded" not in text and not text.startswith("/vote 1 "), text
            assert "ACME" not in text and "Fab Nord" not in text, text

        # Every table: no ballot, no cast, no receipt, no key; the audit log keeps seals only.
        async with db.transaction() as session:
            for table in Base.metadata.sorted_tables:
                for row in (await session.execute(select(table))).mappings():
                    if table.name in ("ballots", "ballot_casts"):
                        assert row["vote_id"] != 1, (table.name, dict(row))
                    if table.name == "votes":
                        assert row["seal_key"] is None
                    if table.name == "audit_log" and row["action"] == "ballot.cast":
                        assert set(row["details"]) == {"organisation_id", "seal"}
                    assert "Recorded:" not in " ".join(str(v) for v in row.values()), (table.name, dict(row))
    finally:
        app.request_stop()
        await asyncio.wait_for(running, WAIT)
        await sam.stop()
        await ola.stop()
        await emulator.stop()


async def test_fab_nord_mandates_acme_across_matrix_and_telegram_and_its_own_ballot_wins(synapse, db):
    """Ola of Fab Nord, on Matrix, mandates ACME for vote 1 in a private chat; Jana of ACME, on
    Telegram, casts both ballots (Fab Nord's with the button of her private prompt); Ola then
    votes from Matrix and Fab Nord's own ballot replaces the mandated one; Jana hears it on
    Telegram; the close, /decisions and the export say it, and the audit log verifies."""
    from storage import audit, ballot_record, votes

    emulator = BotApiEmulator()
    await emulator.start()
    bot_user, ola_user = await synapse.register(), await synapse.register()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",), roles=("chair:pfas",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=(f"matrix:{ola_user.user_id}",))
    settings = both(synapse, emulator, bot_user, inviters=(ola_user.user_id,))
    app = App(settings, db, chat_transports(settings, db, build_registry()), AREAS)
    running = asyncio.create_task(app.run())
    ola = Member(synapse, ola_user)
    try:
        await asyncio.wait_for(app.started.wait(), WAIT)
        await ola.start()
        matrix_room = await ola.create_room(invite=[bot_user.user_id])
        await ola.wait_until_joined(matrix_room, bot_user.user_id)
        jana = emulator.person(1001, "Jana")
        emulator.group(TELEGRAM_GROUP, "PFAS", jana)
        await bind_pfas(db, matrix_room)
        await emulator.answer_to(await emulator.say(jana, None, "/start"))  # her private chat with the bot
        opened = await emulator.answer_to(await emulator.say(jana, TELEGRAM_GROUP, '/vote open "Adopt the roadmap?"'))
        assert opened.text.startswith("Vote #1 is open")

        private = await ola.create_room(invite=[bot_user.user_id], direct=True)
        await ola.wait_until_joined(private, bot_user.user_id)
        given = await ola.reply_from(bot_user.user_id, await ola.say(private, '/mandate give "ACME GmbH" vote=1'))
        assert given["content"]["body"].startswith("Mandate #1: ACME GmbH may cast Fab Nord AS's ballot in vote #1.")

        prompt = next(
            m
            for m in await emulator.wait_for_bot(jana.id, count=3, timeout=WAIT)
            if m.text.startswith("Vote #1 (Adopt the roadmap?) is open until")
        )
        own = await emulator.answer_to(await emulator.say(jana, TELEGRAM_GROUP, "/vote 1 yes"))
        assert own.text == "Recorded: yes for ACME GmbH"
        pressed = await emulator.press(jana, prompt, "no")
        receipt = await emulator.wait_for_toast(pressed, timeout=WAIT)
        assert receipt["text"] == "Recorded: no for Fab Nord AS, cast by ACME GmbH under mandate #1"

        itself = await ola.reply_from(bot_user.user_id, await ola.say(matrix_room, "/vote 1 abstain"))
        assert itself["content"]["body"] == "Recorded: abstain for Fab Nord AS (replaces no by Jana Novak)"
        told = next(
            m
            for m in await emulator.wait_for_bot(jana.id, count=4, timeout=WAIT)
            if m.text.startswith("Fab Nord AS voted itself")
        )
        assert (
            told.text
            == "Fab Nord AS voted itself in vote #1: its own ballot counts, not the one you cast under mandate #1."
        )

        closed = await emulator.answer_to(await emulator.say(jana, TELEGRAM_GROUP, "/vote close 1"))
        assert closed.text.startswith("Vote #1 is closed")
        register = await ola.reply_from(bot_user.user_id, await ola.say(matrix_room, "/decisions"))
        assert "turnout 2 of 2; yes 1 · no 0 · abstain 1" in register["content"]["body"]
        async with db.transaction() as session:
            record = await votes.export_record(session, 1)
            assert [(c["organisation_id"], c["option"], c["mandate_id"]) for c in record["casts"]] == [
                (acme.id, "yes", None),
                (fab.id, "no", 1),
                (fab.id, "abstain", None),
            ]
            assert [(m["giver_id"], m["holder_id"], m["ended_how"]) for m in record["mandates"]] == [
                (fab.id, acme.id, "closed")
            ]
            assert await ballot_record.problems_of_every_vote(session) == []
            assert (await audit.verify(session)).intact
    finally:
        app.request_stop()
        await asyncio.wait_for(running, WAIT)
        await ola.stop()
        await emulator.stop()
