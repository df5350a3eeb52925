"""A private notice to someone who never opened a private chat with the bot is not lost: on
Telegram the bot asks them once, in a room they share, and delivers it when they press Start."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.app import App, chat_transports
from bot.areas import registry_of
from bot.config import Settings
from handlers import AREAS
from storage import groups, notices, rooms
from storage.models import Notice, NoticeStatus, RoomPurpose
from tests.alliance import member_organisation, person
from tests.telegram_emulator import BotApiEmulator

pytestmark = pytest.mark.sqlite_only  # the transport is under test here; storage is tested elsewhere

GROUP = -1001234567890


async def test_a_private_notice_waits_for_start_and_the_person_is_asked_once_in_their_group(db):
    emulator = BotApiEmulator()
    await emulator.start()
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=("telegram:2002",))
    ola = emulator.person(2002, "Ola", "ola")
    emulator.group(GROUP, "PFAS working group", ola)
    async with db.transaction() as session:
        pfas = await groups.find_group(session, "pfas")
        await rooms.bind_room(
            session, actor="t", platform="telegram", room_id=str(GROUP), purpose=RoomPurpose.GROUP, group=pfas
        )
    settings = Settings.model_validate({"telegram": emulator.bot_settings()})
    app = App(settings, db, chat_transports(settings, db, registry_of(AREAS)), AREAS)
    running = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app.started.wait(), 10)
        for text in ("Your vote on the roadmap is due tomorrow.", "The PFAS meeting moved to Friday."):
            async with db.transaction() as session:
                await notices.to_account(session, "telegram", "2002", text)
            app.postman.wake()
        [asked] = await emulator.wait_for_bot(GROUP)
        assert asked.text.startswith('<a href="tg://user?id=2002">Ola Nordmann</a>: I have a private message for you.')
        assert asked.buttons() == [("Open a private chat", f"https://t.me/{emulator.bot.username}?start=help")]
        await asyncio.sleep(0.5)
        assert len(emulator.bot_messages(GROUP)) == 1, "asked more than once"
        async with db.transaction() as session:
            waiting = [n.status for n in await session.scalars(select(Notice).where(Notice.direct.is_(True)))]
        assert waiting.count(NoticeStatus.PENDING) == 2 and NoticeStatus.FAILED not in waiting

        await emulator.say(ola, None, "/start help")  # the link opens the chat; Start sends this
        received = await emulator.wait_for_bot(2002, count=3)
        texts = [m.text for m in received]
        assert "Your vote on the roadmap is due tomorrow." in texts and "The PFAS meeting moved to Friday." in texts
    finally:
        app.request_stop()
        await asyncio.wait_for(running, 15)
        await emulator.stop()
