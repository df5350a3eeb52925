"""wgbot in end-to-end encrypted rooms on the real Synapse, with members whose nio clients keep
their own crypto stores, as Element's do: everything works as in a plain room, nothing travels
in clear, and the bot's device is cross-signed by its account."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from Crypto.Signature import eddsa
from nio import AsyncClient, AsyncClientConfig, LoginResponse, MessageDirection
from sqlalchemy import select

from bot.app import TransportMemory
from bot.transports.base import Reply, UserRef
from bot.transports.matrix import UNDECRYPTABLE_ANSWER, MatrixTransport, MatrixUnavailable
from bot.transports.matrix_keys import canonical_json, from_unpadded, recovery_key_text
from handlers.meetings.reminders import post_reminder
from storage import meetings, rooms
from storage.groups import find_group
from storage.models import RoomPurpose, TransportState, utcnow
from storage.sealing import SEALED
from tests.alliance import member_organisation, person
from tests.matrix_peers import STORE_KEY, Member, bot_settings, start_bot

pytestmark = pytest.mark.sqlite_only  # the transport is under test here; storage is tested elsewhere

PDF = b"%PDF-1.7\n% ACME's encrypted draft\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


class Encrypted:
    """An encrypted PFAS room that Sam (secretariat) made, with Jana (ACME, chair), Omar (ACME)
    and a guest nobody linked; every member's client encrypts with keys of its own."""

    def __init__(self, synapse, db, tmp_path) -> None:
        self.synapse, self.db, self.tmp_path = synapse, db, tmp_path
        self.people: dict[str, Member] = {}
        self.room = ""
        self.bot = None

    async def setup(self) -> None:
        self.bot_user = await self.synapse.register()
        users = {name: await self.synapse.register() for name in ("sam", "jana", "omar", "guest")}
        acme = await member_organisation(self.db, "ACME GmbH", joins=("pfas",))
        await person(
            self.db,
            "Jana Novak",
            organisation=acme,
            accounts=(f"matrix:{users['jana'].user_id}",),
            roles=("chair:pfas",),
        )
        await person(self.db, "Omar Haddad", organisation=acme, accounts=(f"matrix:{users['omar'].user_id}",))
        await person(self.db, "Sam Secretariat", accounts=(f"matrix:{users['sam'].user_id}",), roles=("secretariat",))
        for name, user in users.items():
            self.people[name] = Member(self.synapse, user, store=self.tmp_path / f"{name}-store")
            await self.people[name].start()
        await self.start_bot()
        self.room = await self.sam.create_room(
            invite=[self.bot_id, *(u.user_id for n, u in users.items() if n != "sam")], encrypted=True
        )
        for name in ("jana", "omar", "guest"):
            await self.people[name].client.join(self.room)
        for user_id in (self.bot_id, *(u.user_id for u in users.values())):
            await self.sam.wait_until_joined(self.room, user_id)
        for member in self.people.values():
            await member.wait_until_keys_known(self.bot_id)
        async with self.db.transaction() as session:
            await rooms.bind_room(
                session,
                actor="test",
                platform="matrix",
                room_id=self.room,
                purpose=RoomPurpose.GROUP,
                group=await find_group(session, "pfas"),
            )

    async def start_bot(self, **matrix) -> None:
        self.bot = await start_bot(self.synapse, self.bot_user, self.db, files=self.tmp_path / "files", **matrix)

    @property
    def bot_id(self) -> str:
        return self.bot_user.user_id

    @property
    def sam(self) -> Member:
        return self.people["sam"]

    async def ask(self, who: str, text: str, room: str | None = None) -> dict:
        """`who` says `text` (encrypted); the bot's answer, as their client decrypted it."""
        member = self.people[who]
        event_id = await member.say(room or self.room, text)
        return await member.reply_from(self.bot_id, event_id)

    async def stop(self) -> None:
        if self.bot is not None and not self.bot.task.done():
            await self.bot.stop()
        for member in self.people.values():
            await member.stop()


@pytest.fixture
async def encrypted(synapse, db, tmp_path):
    scene = Encrypted(synapse, db, tmp_path)
    await scene.setup()
    yield scene
    await scene.stop()


def raw_events(member: Member, room: str, sender: str) -> list[dict]:
    return [e for e in member.seen if e["room_id"] == room and e["sender"] == sender]


async def test_an_encrypted_room_is_served_as_a_plain_one_and_nothing_travels_in_clear(encrypted):
    jana, omar, guest = (encrypted.people[n] for n in ("jana", "omar", "guest"))
    answer = await encrypted.ask("jana", "/whoami")
    assert answer["decrypted"], "the answer came in clear"
    assert "Jana Novak" in answer["content"]["body"]
    assert answer["content"]["m.mentions"] == {"user_ids": [jana.user_id]}

    opened = await encrypted.ask("jana", '/vote open "Adopt the PFAS roadmap?"')
    assert opened["content"]["body"].startswith("Vote #1 is open")
    posted = await omar.wait_for(
        lambda e: e["content"].get("body", "").startswith("Vote #1") and "React with" in e["content"]["body"]
    )
    assert posted["decrypted"] and posted["content"]["org.wgbot.buttons"]["👍"] == "/vote 1 yes"

    # Omar presses 👍 with an encrypted reaction (as Element sends one in an encrypted room).
    pressed = await omar.react(encrypted.room, posted["event_id"], "👍", encrypted=True)
    receipt = await omar.wait_for(
        lambda e: e["sender"] == encrypted.bot_id and e["content"].get("body", "").startswith("Recorded: yes")
    )
    assert receipt["decrypted"] and receipt["content"]["m.mentions"] == {"user_ids": [omar.user_id]}
    assert pressed
    # Jana changes the organisation's vote by command: one ballot for ACME.
    changed = await encrypted.ask("jana", "/vote 1 no")
    assert changed["content"]["body"] == "Recorded: no for ACME GmbH (replaces yes by Omar Haddad)"
    edited = await guest.wait_for(  # the vote message shows how the vote stands, edited in place
        lambda e: (
            e["sender"] == encrypted.bot_id
            and e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
            and e["content"]["m.relates_to"]["event_id"] == posted["event_id"]
        )
    )
    assert edited["decrypted"] and "1 of 1" in edited["content"]["m.new_content"]["body"], edited["content"]
    refused = await encrypted.ask("guest", "/vote 1 yes")
    assert not refused["content"]["body"].startswith("Recorded"), refused["content"]["body"]
    # A plain (unencrypted) reaction, as older clients send, is a press too.
    await jana.react(encrypted.room, posted["event_id"], "👎")
    await jana.wait_for(
        lambda e: (
            e["sender"] == encrypted.bot_id
            and e["content"].get("body", "").startswith("Recorded: no")
            and e["content"].get("m.mentions") == {"user_ids": [jana.user_id]}
        )
    )

    # Nothing the bot wrote in the room went out in clear, but its reactions (as nio sends them).
    for event in raw_events(guest, encrypted.room, encrypted.bot_id):
        if event["type"] == "m.room.message":
            assert event["decrypted"], event


async def test_an_encrypted_pdf_arrives_whole_and_the_export_goes_out_encrypted(encrypted):
    jana = encrypted.people["jana"]
    created = await encrypted.ask("jana", '/deliverable new "PFAS roadmap"')
    assert created["content"]["body"].startswith("Deliverable 1 (PFAS roadmap) is open")
    sent = await jana.send_file(encrypted.room, PDF, "roadmap.pdf", caption="/draft 1", encrypt=True)
    answer = await jana.reply_from(encrypted.bot_id, sent)
    assert answer["decrypted"] and answer["content"]["body"] == (
        f"Recorded as version 1 of deliverable 1: roadmap.pdf, 10 kB, sha256 {hashlib.sha256(PDF).hexdigest()}."
    )
    await encrypted.ask("jana", "/deliverable export 1")
    exported = await jana.wait_for(
        lambda e: e["sender"] == encrypted.bot_id and e["content"].get("msgtype") == "m.file"
    )
    assert exported["decrypted"] and "url" not in exported["content"], "a file in an encrypted room went up in clear"
    download = await jana.client.download(mxc=exported["content"]["file"]["url"])
    from nio.crypto import decrypt_attachment

    keys = exported["content"]["file"]
    package = decrypt_attachment(download.body, keys["key"]["k"], keys["hashes"]["sha256"], keys["iv"])
    with zipfile.ZipFile(io.BytesIO(package)) as exported_zip:
        assert exported_zip.read("versions/v1-roadmap.pdf") == PDF


async def test_announcements_and_private_chats_are_encrypted_and_a_restart_keeps_reading(encrypted):
    jana = encrypted.people["jana"]
    said = await encrypted.ask("sam", "/announce pfas Drafts are due on Friday.")
    assert "is on its way" in said["content"]["body"]
    announced = await jana.wait_for(lambda e: "Drafts are due on Friday." in e["content"].get("body", ""))
    assert announced["decrypted"] and announced["room_id"] == encrypted.room

    # A meeting's notice, and its reminder as the scheduler posts it (without waiting for its hour).
    when = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    await encrypted.ask("jana", f'/meeting schedule "{when} Etc/UTC" "Stand-up"')
    async with encrypted.db.transaction() as session:
        meeting = await meetings.find(session, 1)
        await post_reminder(session, meeting, await meetings.pick(session, meeting, 1, utcnow()), False, utcnow(), "en")
    encrypted.bot.app.postman.wake()
    for start in ("New meeting of PFAS", "Reminder: "):
        notice = await jana.wait_for(
            lambda e, start=start: e["sender"] == encrypted.bot_id and e["content"].get("body", "").startswith(start)
        )
        assert notice["decrypted"], notice

    private = await jana.create_room(invite=[encrypted.bot_id], direct=True, encrypted=True)
    await jana.wait_until_joined(private, encrypted.bot_id)
    answer = await encrypted.ask("jana", "/whoami", room=private)
    assert answer["decrypted"] and "Jana Novak" in answer["content"]["body"]
    await encrypted.ask("jana", '/vote open "Adopt the budget?"')
    ballot = await encrypted.ask("jana", "/vote 1 yes", room=private)
    assert ballot["decrypted"] and ballot["content"]["body"] == "Recorded: yes for ACME GmbH"

    device, token = encrypted.bot.transport.client.device_id, encrypted.bot.transport.client.access_token
    async with encrypted.db.transaction() as session:
        kept = await session.scalar(select(TransportState.value).where(TransportState.key == "access_token"))
    assert kept.startswith(SEALED) and token not in kept, "the device's access token is in the database in clear"
    await encrypted.bot.stop()
    await encrypted.start_bot()
    assert encrypted.bot.transport.client.device_id == device, "a restart made a new device"
    again = await encrypted.ask("jana", "/whoami")
    assert again["decrypted"] and "Jana Novak" in again["content"]["body"]


async def test_a_message_the_bot_cannot_decrypt_is_answered_and_counted_never_dropped(encrypted, caplog):
    encrypted.bot.transport.key_wait = 1.0  # rather than the production 10 s
    guest = encrypted.people["guest"]
    lost = await guest.say_without_sharing_the_key(encrypted.room, "/whoami")
    answer = await guest.reply_from(encrypted.bot_id, lost)
    assert answer["decrypted"] and answer["content"]["body"] == UNDECRYPTABLE_ANSWER
    assert answer["content"]["m.mentions"] == {"user_ids": [guest.user_id]}
    assert encrypted.bot.transport.undecryptable == 1
    assert f"could not decrypt {lost}" in caplog.text and "1 since start" in caplog.text
    # Once the member's client shares its keys (as it does with its next message), all is well.
    again = await encrypted.ask("guest", "/help")
    assert again["decrypted"] and again["content"]["body"] != UNDECRYPTABLE_ANSWER


async def test_in_a_quiet_room_an_undecryptable_message_is_answered_when_the_key_wait_ends_not_at_the_next_sync(
    encrypted,
):
    """With the production sync (a quiet room's sync waits 30 s for news), the answer comes when
    the key wait ends: a timer, not the next sync, gives up on the keys."""
    await encrypted.bot.stop()
    await encrypted.start_bot(sync_timeout_ms=30_000)
    encrypted.bot.transport.key_wait = 2.0  # the production wait is 10 s; the README promises about that
    guest = encrypted.people["guest"]
    await encrypted.ask("jana", "/whoami")  # the restarted bot's sync is under way, waiting for news
    started = asyncio.get_running_loop().time()
    lost = await guest.say_without_sharing_the_key(encrypted.room, "/whoami")
    answer = await guest.reply_from(encrypted.bot_id, lost)
    waited = asyncio.get_running_loop().time() - started
    assert answer["content"]["body"] == UNDECRYPTABLE_ANSWER
    assert 2.0 <= waited < 2.0 + 2.0, f"answered after {waited:.1f} s"  # not after a 30 s sync


async def test_a_private_chat_the_bot_opens_is_encrypted_and_read_after_the_invite_is_accepted(encrypted):
    omar = encrypted.people["omar"]
    sent = await encrypted.bot.transport.send_direct(
        UserRef("matrix", omar.user_id), Reply("Your vote is due tomorrow.")
    )
    private = sent.room.room_id
    async with asyncio.timeout(15):  # the invitation reaches Omar's client; he accepts it
        while private not in omar.client.invited_rooms:
            await asyncio.sleep(0.05)
    await omar.client.join(private)
    readable = []
    async with asyncio.timeout(15):  # reading back, until the room key (a to-device message) has come
        while not readable:
            history = await omar.client.room_messages(private, start="", direction=MessageDirection.back)
            readable = [e for e in history.chunk if getattr(e, "body", None) == "Your vote is due tomorrow."]
            await asyncio.sleep(0.2)
    assert readable[0].decrypted and readable[0].sender == encrypted.bot_id


async def test_a_member_s_new_device_reads_the_bot_s_next_message(encrypted, synapse):
    jana = encrypted.people["jana"]
    await encrypted.ask("jana", "/whoami")  # the room's key is shared with Jana's first device
    laptop = AsyncClient(
        synapse.url,
        jana.user_id,
        store_path=str(encrypted.tmp_path / "jana-laptop"),
        config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
    )
    (encrypted.tmp_path / "jana-laptop").mkdir()
    login = await laptop.login(jana.user.password, device_name="laptop")
    assert isinstance(login, LoginResponse)
    second = Member.from_client(laptop, jana.user)
    await second.start()
    try:
        answer = await encrypted.ask("jana", "/help")
        seen_on_laptop = await second.wait_for(lambda e: e.get("event_id") == answer["event_id"])
        assert seen_on_laptop["decrypted"], "the bot did not share its room key with Jana's new device"
    finally:
        await second.stop()


async def test_the_bot_s_device_is_cross_signed_by_its_account(encrypted):
    query = await encrypted.sam.client.send(
        "POST",
        f"/_matrix/client/v3/keys/query?access_token={encrypted.sam.client.access_token}",
        json.dumps({"device_keys": {encrypted.bot_id: []}}),
    )
    published = await query.json()
    bot, device_id = encrypted.bot_id, encrypted.bot.transport.client.device_id
    master = published["master_keys"][bot]
    self_signing = published["self_signing_keys"][bot]
    device = published["device_keys"][bot][device_id]
    (master_key,) = master["keys"].values()
    (self_signing_key,) = self_signing["keys"].values()
    assert verified(self_signing, bot, master_key), "the master key has not signed the self-signing key"
    assert verified(device, bot, self_signing_key), "the self-signing key has not signed the bot's device"


def verified(signed: dict, user_id: str, public: str) -> bool:
    signature = signed["signatures"][user_id][f"ed25519:{public}"]
    body = {k: v for k, v in signed.items() if k not in ("signatures", "unsigned")}
    verifier = eddsa.new(eddsa.import_public_key(from_unpadded(public)), "rfc8032")
    try:
        verifier.verify(canonical_json(body), from_unpadded(signature))
    except ValueError:
        return False
    return True


async def test_a_lost_store_stops_the_bot_in_one_line_and_the_recovery_key_restores_the_identity(encrypted):
    transport = encrypted.bot.transport
    store = transport.store_path
    master = transport.cross_signing()._kept().master.public
    lost_device = transport.client.device_id
    recovery = (store / "RECOVERY-KEY.txt").read_text().strip().splitlines()[-1]
    assert recovery not in (encrypted.tmp_path / "files").as_posix()
    await encrypted.bot.stop()
    shutil.rmtree(store)  # a new machine, the store not restored

    with pytest.raises(MatrixUnavailable) as failed:
        await encrypted.start_bot()
    message = str(failed.value)
    assert "\n" not in message and "--recover" in message and "--reset" in message, message

    settings = bot_settings(encrypted.synapse, encrypted.bot_user, encrypted.tmp_path / "files")
    with pytest.raises(MatrixUnavailable, match="does not open"):
        await MatrixTransport(settings.matrix, TransportMemory(encrypted.db, "matrix"), nobody).set_up_identity(
            recovery_key=recovery_key_text(bytes(32))
        )
    # The operator's way back: `wgbot matrix cross-sign --recover`, the key typed (here: piped) in.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")} | {
        "WGBOT_DATABASE__URL": encrypted.db.url,
        "WGBOT_MATRIX__HOMESERVER": encrypted.synapse.url,
        "WGBOT_MATRIX__USER_ID": encrypted.bot_id,
        "WGBOT_MATRIX__PASSWORD": encrypted.bot_user.password,
        "WGBOT_MATRIX__STORE_KEY": STORE_KEY,
        "WGBOT_MATRIX__STORE_PATH": str(store),
    }
    command = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("wgbot")),
        "matrix",
        "cross-sign",
        "--recover",
        env=environment,
        cwd=encrypted.tmp_path,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await command.communicate(f"{recovery}\n".encode())
    assert command.returncode == 0, err.decode()
    assert "cross-signing keys recovered" in out.decode() and recovery not in out.decode() + err.decode()
    await encrypted.start_bot()
    assert encrypted.bot.transport.cross_signing()._kept().master.public == master
    # A new device, never the lost one with new keys (members' clients would warn of changed keys).
    assert encrypted.bot.transport.client.device_id != lost_device
    answer = await encrypted.ask("jana", "/whoami")
    assert answer["decrypted"]
    await test_the_bot_s_device_is_cross_signed_by_its_account(encrypted)


async def nobody(user_id: str) -> bool:
    return False
