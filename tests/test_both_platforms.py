"""One wgbot process serves Matrix and Telegram at once, from one database: the same person is
the same person on both, and each platform's rooms get their answers."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import App, chat_transports
from bot.config import Settings
from handlers import build_registry
from storage import groups, people, rooms
from storage.models import RoomPurpose
from tests.alliance import member_organisation, person
from tests.matrix_peers import WAIT, Member
from tests.telegram_emulator import BotApiEmulator

pytestmark = pytest.mark.sqlite_only
TELEGRAM_GROUP = -1009876543210


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
            session, actor="test", person=await people.find_person(session, str(jana.id)), platform="telegram", user_id="1001"
        )
    settings = Settings.model_validate(
        {
            "matrix": {"homeserver": synapse.url, "user_id": bot_user.user_id, "password": bot_user.password,
                       "sync_timeout_ms": 2000},
            "telegram": {"token": emulator.token, "api_url": emulator.base_url, "file_url": emulator.base_file_url,
                         "poll_timeout": 5, "rate_limiter": False},
        }
    )
    registry = build_registry()
    app = App(settings, db, chat_transports(settings, db, registry), registry)
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
        async with db.transaction() as session:
            pfas = await groups.find_group(session, "pfas")
            for platform, room_id in (("matrix", matrix_room), ("telegram", str(TELEGRAM_GROUP))):
                await rooms.bind_room(
                    session, actor="test", platform=platform, room_id=room_id, purpose=RoomPurpose.GROUP, group=pfas
                )

        on_matrix = await jana_mx.reply_from(bot_user.user_id, await jana_mx.say(matrix_room, "/whoami"))
        on_telegram = await emulator.answer_to(await emulator.say(jana_tg, TELEGRAM_GROUP, "/whoami"))
        for text in (on_matrix["content"]["body"], on_telegram.text):
            assert text.startswith(f"You are Jana Novak (person #{jana.id}).")
            assert f"matrix {jana_user.user_id}, telegram 1001" in text
        info = await emulator.answer_to(await emulator.say(jana_tg, TELEGRAM_GROUP, "/wg info pfas"))
        assert "Rooms: 3" in info.text  # the console room, the Matrix room and this chat

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
    finally:
        app.request_stop()
        await asyncio.wait_for(running, WAIT)
        await sam.stop()
        await jana_mx.stop()
        await emulator.stop()
