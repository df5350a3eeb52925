"""How fast does one announcement reach 200 Telegram groups without earning a 429?

wgbot (the real App: router, outbox, postman, PTB with its pacing) serves 200 Telegram groups,
each bound to its own working group, on the tests' Bot API emulator with Telegram's limits
enforced strictly (at most 30 messages in any second overall, 20 in any minute per group).
The secretariat posts `/announce all …`; the clock stops when the delivery report arrives.
Target: no 429s, and close to the limit's minimum time: 30 messages at once, 30 more a second
later, and so on.

    .venv/bin/python bench/announce.py [--rooms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import App, chat_transports
from bot.areas import registry_of
from bot.config import Settings
from handlers import AREAS
from storage import groups, migrate, rooms
from storage.db import Database
from storage.models import RoomBinding, RoomPurpose
from tests.alliance import person
from tests.telegram_emulator import BotApiEmulator, FloodControl

SECRETARIAT_CHAT = -1000000000001


async def main(room_count: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="wgbot-bench-"))
    db = Database.connect(f"sqlite+aiosqlite:///{work / 'wgbot.sqlite3'}")
    await migrate.upgrade(db)
    emulator = BotApiEmulator()
    await emulator.start()
    sam = emulator.person(5001, "Sam")
    emulator.group(SECRETARIAT_CHAT, "Secretariat", sam)
    await person(db, "Sam", accounts=("telegram:5001",), roles=("secretariat",))
    async with db.transaction() as session:
        await rooms.bind_room(
            session, actor="bench", platform="telegram", room_id=str(SECRETARIAT_CHAT), purpose=RoomPurpose.SECRETARIAT
        )
        for n in range(room_count):
            chat = -1002000000000 - n
            emulator.group(chat, f"Group {n}")
            group = await groups.add_group(session, actor="bench", name=f"Working group {n:03d}")
            await rooms.bind_room(
                session, actor="bench", platform="telegram", room_id=str(chat), purpose=RoomPurpose.GROUP, group=group
            )
    async with db.transaction() as session:  # only Telegram rooms: no console in this run
        await session.execute(RoomBinding.__table__.delete().where(RoomBinding.platform == "console"))

    settings = Settings.model_validate({"telegram": emulator.bot_settings(rate_limiter=True)})
    app = App(settings, db, chat_transports(settings, db, registry_of(AREAS)), AREAS)
    running = asyncio.create_task(app.run())
    await app.started.wait()
    emulator.flood_control = FloodControl()
    try:
        started = time.perf_counter()
        await emulator.say(sam, SECRETARIAT_CHAT, "/announce all The **plenary** meets on 3 December.")
        while not any(
            m.text and m.text.startswith("Announcement #1: delivered") for m in emulator.bot_messages(SECRETARIAT_CHAT)
        ):
            await asyncio.sleep(0.02)
        took = time.perf_counter() - started
    finally:
        app.request_stop()
        await running
        await emulator.stop()
        await db.close()
    reached = sum(1 for chat in emulator.messages if chat != SECRETARIAT_CHAT and emulator.bot_messages(chat))
    sent = room_count + 2  # and the command's answer and the report
    floor = (sent - 1) // 30  # the first 30 at once, then 30 more each time the first leave the window
    print(
        f"announcement to {room_count} Telegram groups: reached {reached}, {took:.2f} s "
        f"(the limit's floor: {floor} s), 429s answered: {emulator.rate_limited}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=200)
    asyncio.run(main(parser.parse_args().rooms))
