"""wgbot on Telegram: the real PTB Application and Updater against the tests' Bot API emulator."""

from __future__ import annotations

import asyncio
import socket

import pytest

from bot.app import App, chat_transports
from bot.config import Settings
from bot.transports.base import Button, DirectChatUnavailable, Reply, RoomRef, UserRef
from bot.transports.telegram_pacing import MARGIN, SlidingWindow
from storage import groups, rooms
from storage.models import RoomPurpose
from tests.alliance import member_organisation, person
from tests.telegram_emulator import BotApiEmulator, FloodControl
from tests.transport_probes import PROBE_AREAS, offer_choice, probe_registry

pytestmark = pytest.mark.sqlite_only  # the transport is under test here; storage is tested elsewhere

GROUP = -1001234567890


REGISTRY = probe_registry()


class Chatroom:
    """A Telegram supergroup bound to PFAS, with Jana (ACME, chair) and Piet (ACME) in it."""

    def __init__(self, emulator: BotApiEmulator, db) -> None:
        self.emulator, self.db = emulator, db
        self.jana = emulator.person(1001, "Jana", "jana")
        self.piet = emulator.person(1002, "Piet", "piet")
        self.chat = emulator.group(GROUP, "PFAS working group", self.jana, self.piet)
        self.app: App | None = None
        self.task: asyncio.Task | None = None

    async def start_bot(self, **telegram) -> App:
        settings = Settings.model_validate({"telegram": self.emulator.bot_settings(**telegram)})
        self.app = App(settings, self.db, chat_transports(settings, self.db, REGISTRY), PROBE_AREAS)
        self.task = asyncio.create_task(self.app.run())
        started = asyncio.create_task(self.app.started.wait())
        await asyncio.wait([self.task, started], timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            self.task.result()
        assert self.app.started.is_set()
        return self.app

    async def stop_bot(self) -> None:
        self.app.request_stop()
        await asyncio.wait_for(self.task, 15)

    @property
    def transport(self):
        return self.app.transports["telegram"]

    async def ask(self, who, text: str, chat_id: int | None = GROUP):
        sent = await self.emulator.say(who, chat_id, text)
        return await self.emulator.answer_to(sent)


@pytest.fixture
async def room(db):
    emulator = BotApiEmulator()
    await emulator.start()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",), roles=("chair:pfas",))
    await person(db, "Piet Jansen", organisation=acme, accounts=("telegram:1002",))
    async with db.transaction() as session:
        pfas = await groups.find_group(session, "pfas")
        await rooms.bind_room(
            session, actor="test", platform="telegram", room_id=str(GROUP), purpose=RoomPurpose.GROUP, group=pfas
        )
    scene = Chatroom(emulator, db)
    await scene.start_bot()
    yield scene
    if scene.task and not scene.task.done():
        await scene.stop_bot()
    await emulator.stop()


async def test_the_command_menu_is_registered_at_start(room):
    names = [c["command"] for c in room.emulator.commands]
    assert names == [name for name, _ in REGISTRY.menu()]
    # Each says what it does, then its subcommands.
    assert {
        "command": "wg",
        "description": "the working groups · list, info, propose, language",
    } in room.emulator.commands
    assert {
        "command": "vote",
        "description": "cast or change your organisation's vote · also open, status, list, "
        "pending, remind, close, cancel",
    } in room.emulator.commands


async def test_two_people_in_one_group_each_get_a_quoted_answer(room):
    jana = await room.ask(room.jana, "/whoami")
    piet = await room.ask(room.piet, "/whoami@WgTestBot")
    assert jana.text.startswith("You are Jana Novak") and "chair of PFAS" in jana.text
    assert piet.text.startswith("You are Piet Jansen")


async def test_a_command_for_another_bot_is_left_alone(room):
    await room.emulator.say(room.jana, GROUP, "/whoami@SomeOtherBot")
    answer = await room.ask(room.jana, "/wg list")
    assert room.emulator.bot_messages(GROUP) == [answer]


async def test_a_button_press_is_the_command_and_is_answered_with_a_toast(room):
    offer = await room.ask(room.jana, "/choose")
    assert offer.buttons() == [("yes", "/pick yes"), ("no", "/pick no"), ("abstain", "/pick abstain")]
    query = await room.emulator.press(room.piet, offer, "no")
    toast = await room.emulator.wait_for_toast(query)
    assert toast["text"] == "Recorded: no for ACME GmbH"
    assert room.emulator.bot_messages(GROUP) == [offer]  # a press does not flood the chat


async def test_a_command_too_long_for_callback_data_still_works_as_a_button(room):
    offer = await room.ask(room.jana, "/longchoice")
    ((label, data),) = offer.buttons()
    assert len(data.encode()) <= 64
    toast = await room.emulator.wait_for_toast(await room.emulator.press(room.jana, offer, "long"))
    assert toast["text"] == "Recorded: " + "x" * 80 + " for ACME GmbH"


async def test_editing_a_tally_keeps_its_keyboard(room):
    transport = room.transport
    ref = await transport.send(RoomRef("telegram", str(GROUP)), await offer_choice(None, None))
    buttons = (Button("yes", "/pick yes"), Button("no", "/pick no"))
    await transport.edit(ref, Reply("Adopt the roadmap? yes 1 · no 0", buttons=buttons))
    await transport.edit(ref, Reply("Adopt the roadmap? yes 1 · no 0", buttons=buttons))  # unchanged: fine
    message = room.emulator.bot_messages(GROUP)[-1]
    assert message.text == "Adopt the roadmap? yes 1 · no 0"
    assert message.buttons() == [("yes", "/pick yes"), ("no", "/pick no")]
    assert message.edits == ["Adopt the roadmap?"]


async def test_private_chats_start_with_start_and_deep_links_carry_a_command(room):
    with pytest.raises(DirectChatUnavailable, match="has not started a private chat"):
        await room.transport.send_direct(UserRef("telegram", "1001"), Reply("Your vote is due."))
    hello = await room.ask(room.jana, "/start", chat_id=None)
    assert hello.text.startswith("Commands you can use here")
    linked = await room.ask(room.jana, "/start pick_from_link", chat_id=None)
    assert linked.text == "Recorded: from link for ACME GmbH"

    await room.transport.send_direct(UserRef("telegram", "1001"), Reply("Your vote is due."))
    await room.stop_bot()
    await room.start_bot()  # the private chat is remembered across restarts
    await room.transport.send_direct(UserRef("telegram", "1001"), Reply("One hour left."))
    texts = [m.text for m in room.emulator.bot_messages(1001)]
    assert texts[-2:] == ["Your vote is due.", "One hour left."]


async def test_a_link_code_asked_for_in_the_group_arrives_only_in_the_private_chat(room):
    await room.ask(room.jana, "/start", chat_id=None)
    answer = await room.ask(room.jana, "/link")
    assert answer.text.startswith("I have sent your link code to you in a private chat.")
    private = (await room.emulator.wait_for_bot(1001, count=2))[-1]
    code = private.text.split("Your link code is ")[1][:8]
    assert all(code not in (m.text or "") for m in room.emulator.bot_messages(GROUP))


async def test_a_secret_ballot_typed_in_the_group_is_deleted_and_a_press_is_answered_only_by_a_toast(room):
    await room.ask(room.piet, "/start", chat_id=None)
    room.emulator.bot_admin_in.add(GROUP)
    opened = await room.ask(room.jana, '/vote open "Elect the vice-chair?" secret')
    assert opened.text.startswith("Vote #1 is open")
    posted = next(m for m in await room.emulator.wait_for_bot(GROUP, count=2) if m.text.startswith("Vote #1 (PFAS)"))
    assert posted.buttons() == [("yes", "/vote 1 yes"), ("no", "/vote 1 no"), ("abstain", "/vote 1 abstain")]

    typed = await room.emulator.say(room.piet, GROUP, "/vote 1 no")
    ack = (await room.emulator.wait_for_bot(GROUP, count=3))[-1]
    assert ack.text.startswith("A ballot for vote #1 was received")
    assert typed.message_id in [m.message_id for m in room.emulator.deleted[GROUP]]
    receipt = (await room.emulator.wait_for_bot(1002, count=2))[-1]
    assert receipt.text == "Recorded: no for ACME GmbH"

    toast = await room.emulator.wait_for_toast(await room.emulator.press(room.jana, posted, "yes"))
    assert toast["text"] == "Recorded: yes for ACME GmbH (replaces your organisation's earlier ballot)"
    await asyncio.sleep(0.3)
    group = [m.text or "" for m in room.emulator.messages[GROUP]]
    assert not any("Recorded" in text or text.startswith("/vote 1") for text in group)


async def test_a_secret_ballot_the_bot_may_not_delete_is_flagged_in_the_group(room):
    await room.ask(room.jana, '/vote open "Elect the vice-chair?" secret')
    ack = await room.ask(room.piet, "/vote 1 no")
    assert ack.text.startswith("A ballot for vote #1 was received")
    assert "I could not remove that message: make me an admin who may delete messages" in ack.text


async def test_an_answer_longer_than_a_message_arrives_whole_in_pieces(room):
    sent = await room.emulator.say(room.jana, GROUP, "/long 300")
    pieces = await room.emulator.wait_for_bot(GROUP, count=4)
    text = "\n".join(p.text for p in pieces)
    assert [line.split()[1] for line in text.splitlines()] == [f"{n:04d}" for n in range(1, 301)]
    assert all(len(p.text) <= 4096 for p in pieces)
    assert pieces[0].reply_to == sent.message_id and pieces[-1].buttons()  # quoted first, buttons last


async def test_a_telegram_only_bot_delivers_an_announcement_to_all_of_its_rooms_and_no_console_room(room):
    await person(room.db, "Sam Secretariat", accounts=("telegram:1003",), roles=("secretariat",))
    sam = room.emulator.person(1003, "Sam", "sam")
    await room.ask(sam, "/start", chat_id=None)
    queued = await room.ask(sam, "/announce all Drafts are due on Friday.", chat_id=None)
    assert queued.text.startswith("Announcement #1 to all groups and the plenary is on its way")
    report = (await room.emulator.wait_for_bot(1003, count=3))[-1]
    assert report.text.startswith("Announcement #1: delivered to 1 of 1 room."), report.text


async def test_a_file_larger_than_it_claims_is_refused_as_it_streams_in(room):
    huge = b"%PDF-1.7\n" + bytes(64 << 20)  # 64 MB, sent as if it were 1 kB
    sent = await room.emulator.upload(
        room.jana, GROUP, huge, "roadmap.pdf", "application/pdf", caption="/sha", advertised_size=1000
    )
    answer = await room.emulator.answer_to(sent, timeout=30)
    assert answer.text.startswith("roadmap.pdf is larger than the 20 MB limit.")
    assert room.emulator.served < 30 << 20  # it stopped reading soon after the limit


async def test_flood_control_is_waited_out_and_the_answer_still_arrives(room):
    room.emulator.limit_next("sendMessage", 1, 1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await room.ask(room.jana, "/wg list")
    assert answer.text.startswith("3 working groups")
    assert room.emulator.rate_limited == 2 and loop.time() - started >= 2
    assert len(room.emulator.bot_messages(GROUP)) == 1


async def test_an_update_ptb_cannot_read_does_not_hold_back_the_others(room):
    await room.emulator.deliver_raw({"message": {"message_id": "not a number", "chat": "nonsense"}})
    answer = await room.ask(room.jana, "/wg list")
    assert answer.text.startswith("3 working groups")
    await room.emulator.deliver_raw({"callback_query": {"id": 5}})  # the last one in its batch
    assert (await room.ask(room.piet, "/whoami")).text.startswith("You are Piet Jansen")


async def test_a_redelivered_update_is_answered_once(room):
    sent = await room.emulator.say(room.jana, GROUP, "/wg list")
    await room.emulator.answer_to(sent)
    await room.emulator.redeliver(sent)
    marker = await room.ask(room.piet, "/whoami")
    assert [m.reply_to for m in room.emulator.bot_messages(GROUP)] == [sent.message_id, marker.reply_to]


async def test_a_restart_neither_loses_nor_repeats_commands(room):
    before = await room.emulator.say(room.jana, GROUP, "/whoami")
    await room.emulator.answer_to(before)
    await room.stop_bot()
    while_down = await room.emulator.say(room.piet, GROUP, "/wg list")
    await room.start_bot()
    assert (await room.emulator.answer_to(while_down)).text.startswith("3 working groups")
    await asyncio.sleep(0.5)
    quoted = [m.reply_to for m in room.emulator.bot_messages(GROUP)]
    assert quoted == [before.message_id, while_down.message_id]


async def test_being_added_to_a_group_explains_how_to_bind_it(room):
    newcomer = room.emulator.group(-100999, "Skills working group", room.jana, with_bot=False)
    await room.emulator.set_member(room.emulator.bot, newcomer.id, "member")
    hello = (await room.emulator.wait_for_bot(newcomer.id))[0]
    assert "/room bind <group>" in hello.text and "wgbot room bind telegram:-100999 --group <group>" in hello.text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_webhook_mode_receives_updates_posted_by_telegram(room):
    await room.stop_bot()
    port = _free_port()
    room.emulator.webhook_forward = f"http://127.0.0.1:{port}"
    await room.start_bot(
        mode="webhook",
        webhook_url="https://bot.example.org/hook",
        listen="127.0.0.1",
        port=port,
        secret_token="s3cret-token",
    )
    assert room.emulator.calls.count("setWebhook") == 1 and "getUpdates" not in room.emulator.calls[-3:]
    answer = await room.ask(room.jana, "/whoami")
    assert answer.text.startswith("You are Jana Novak")


async def test_a_rejected_token_stops_the_start_with_one_clear_line(db):
    from bot.transports.base import TransportUnavailable

    emulator = BotApiEmulator()
    await emulator.start()
    try:
        settings = Settings.model_validate(
            {"telegram": {"token": "123:wrong", "api_url": emulator.base_url, "file_url": emulator.base_file_url}}
        )
        app = App(settings, db, chat_transports(settings, db, REGISTRY), PROBE_AREAS)
        with pytest.raises(TransportUnavailable, match=r"^telegram: the bot token was rejected"):
            await app.run()
    finally:
        await emulator.stop()


async def test_a_burst_to_many_chats_keeps_within_telegrams_limits_and_earns_no_429(db):
    """45 messages at once to 45 groups, with Telegram's limits enforced strictly (30 in any
    second): paced, they take about a second and a half, and none is refused."""
    emulator = BotApiEmulator()
    await emulator.start()
    emulator.flood_control = FloodControl()
    chats = [GROUP - n for n in range(45)]
    for chat in chats:
        emulator.group(chat, f"Room {chat}")
    room = Chatroom(emulator, db)
    try:
        await room.start_bot(rate_limiter=True)
        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(room.transport.send(RoomRef("telegram", str(chat)), Reply("Hello")) for chat in chats))
        took = asyncio.get_running_loop().time() - started
        assert [len(emulator.bot_messages(chat)) for chat in chats] == [1] * 45
        assert emulator.rate_limited == 0
        assert took >= 1.0, "the last 15 cannot have gone out within the first second"
    finally:
        await room.stop_bot()
        await emulator.stop()


def test_a_group_gets_twenty_messages_at_once_and_the_twenty_first_a_minute_after_the_first():
    group = SlidingWindow(20, 60.0)
    for second in range(20):
        assert group.wait(float(second)) == 0.0
        group.times.append(float(second))
    assert group.wait(20.0) == pytest.approx(60 * (1 + MARGIN) - 20)
    assert group.wait(60 * (1 + MARGIN)) == 0.0  # the first has left the window
