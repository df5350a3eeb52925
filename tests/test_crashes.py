"""Nothing is lost when `wgbot run` is killed (SIGKILL) in the middle of a burst: the real
program, in its own process, against the Bot API emulator with a slow link."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from storage import groups, migrate, rooms
from storage.db import Database
from storage.models import Ballot, RoomPurpose
from tests.alliance import member_organisation, person
from tests.telegram_emulator import BotApiEmulator
from tests.wgbot_process import Bot

pytestmark = pytest.mark.sqlite_only
GROUP = -1007778889990
VOTERS = 40


async def test_presses_fetched_before_a_kill_are_all_handled_after_the_restart(tmp_path):
    emulator = BotApiEmulator()
    await emulator.start()
    emulator.send_latency = 0.05  # every toast takes a while: the burst is still being handled at the kill
    jana = emulator.person(1001, "Jana")
    voters = [emulator.person(2000 + n, f"Voter {n}") for n in range(VOTERS)]
    emulator.group(GROUP, "PFAS", jana, *voters)
    url = f"sqlite+aiosqlite:///{tmp_path / 'wgbot.sqlite3'}"
    db = Database.connect(url)
    await migrate.upgrade(db)
    async with db.transaction() as session:
        await groups.seed_founding_groups(session)
        pfas = await groups.find_group(session, "pfas")
        await rooms.bind_room(
            session, actor="t", platform="telegram", room_id=str(GROUP), purpose=RoomPurpose.GROUP, group=pfas
        )
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",), roles=("chair:pfas",))
    for n in range(VOTERS):
        organisation = await member_organisation(db, f"Member {n:02d}", joins=("pfas",))
        await person(db, f"Voter {n}", organisation=organisation, accounts=(f"telegram:{2000 + n}",))
    bot = Bot(tmp_path, emulator, GROUP)
    try:
        await bot.start(jana)
        await emulator.say(jana, GROUP, '/vote open "Adopt the roadmap?"')
        posted = next(m for m in await emulator.wait_for_bot(GROUP, count=3) if m.text.startswith("Vote #1 (PFAS)"))
        for voter in voters:  # a burst: every press queued at once
            await emulator.press(voter, posted, "yes")
        async with asyncio.timeout(20):
            while len(emulator.toasts) < 5:  # some handled, most still waiting
                await asyncio.sleep(0.01)
        await bot.kill()
        handled_before = len(emulator.toasts)
        assert handled_before < VOTERS

        await bot.start(jana)
        async with asyncio.timeout(30):
            while True:
                async with db.transaction() as session:
                    counted = await session.scalar(select(func.count()).select_from(Ballot))
                if counted == VOTERS:
                    break
                await asyncio.sleep(0.1)
        answered = {t["id"] for t in emulator.toasts if t["text"].startswith("Recorded: yes")}
        assert len(answered) == VOTERS, bot.log()  # every voter answered, none twice
    finally:
        await bot.stop()
        await emulator.stop()
        await db.close()
