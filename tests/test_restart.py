"""The promise that matters most after a crash: `wgbot run` is killed (SIGKILL) before a meeting
reminder is due and restarted after it; the reminder arrives exactly once, marked late, and a
further restart does not send it again. The real program, in its own process, on Telegram."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from storage import groups, migrate, rooms
from storage.db import Database
from storage.models import RoomPurpose, utcnow
from tests.alliance import member_organisation, person
from tests.telegram_emulator import BotApiEmulator

pytestmark = pytest.mark.sqlite_only
WGBOT = str(Path(sys.executable).with_name("wgbot"))
GROUP = -1001112223334
LATE = 16  # seconds past the reminder's time: more than storage.meetings.LATE_AFTER


class Bot:
    """`wgbot run` in a process of its own, with a config file pointing at the emulator."""

    def __init__(self, home: Path, emulator: BotApiEmulator) -> None:
        self.home, self.emulator = home, emulator
        self.config = home / "config.toml"
        self.config.write_text(
            f'[database]\nurl = "sqlite+aiosqlite:///{home / "wgbot.sqlite3"}"\n'
            f"[meetings]\nreminder_minutes = [1]\n"
            f'[files]\npath = "{home / "files"}"\n'
            f'[telegram]\ntoken = "{emulator.token}"\napi_url = "{emulator.base_url}"\n'
            f'file_url = "{emulator.base_file_url}"\npoll_timeout = 1\nrate_limiter = false\n'
        )
        self.process: asyncio.subprocess.Process | None = None
        self.runs = 0

    async def start(self, jana) -> None:
        self.runs += 1
        log = open(self.home / f"run-{self.runs}.log", "wb")  # noqa: SIM115 - the child writes to it
        environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
        self.process = await asyncio.create_subprocess_exec(
            WGBOT, "-c", str(self.config), "run", cwd=self.home, env=environment, stdout=log, stderr=log
        )
        answer = await self.emulator.answer_to(await self.emulator.say(jana, GROUP, "/whoami"), timeout=30)
        assert answer.text.startswith("You are Jana Novak"), self.log()

    def log(self) -> str:
        return (self.home / f"run-{self.runs}.log").read_text(errors="replace")

    async def kill(self) -> None:
        self.process.kill()  # SIGKILL: no chance to tidy up
        await self.process.wait()

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 20)


def reminders(emulator: BotApiEmulator) -> list[str]:
    return [m.text for m in emulator.bot_messages(GROUP) if m.text and m.text.startswith("Reminder:")]


async def test_a_reminder_due_while_the_bot_was_killed_arrives_once_after_restart_marked_late(tmp_path):
    emulator = BotApiEmulator()
    await emulator.start()
    jana = emulator.person(1001, "Jana")
    emulator.group(GROUP, "PFAS", jana)
    db = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'wgbot.sqlite3'}")
    await migrate.upgrade(db)
    async with db.transaction() as session:
        await groups.seed_founding_groups(session)
        pfas = await groups.find_group(session, "pfas")
        await rooms.bind_room(
            session, actor="t", platform="telegram", room_id=str(GROUP), purpose=RoomPurpose.GROUP, group=pfas
        )
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",), roles=("chair:pfas",))
    await db.close()
    bot = Bot(tmp_path, emulator)
    try:
        await bot.start(jana)
        starts = (utcnow() + timedelta(seconds=65)).replace(microsecond=0)  # its reminder: a minute before
        due = starts - timedelta(minutes=1)
        scheduled = await emulator.answer_to(
            await emulator.say(jana, GROUP, f'/meeting schedule "{starts:%Y-%m-%d %H:%M:%S} Etc/UTC" "Check-in"')
        )
        assert scheduled.text.startswith("Scheduled: Check-in (meeting 1)"), scheduled.text
        await bot.kill()
        assert utcnow() < due and reminders(emulator) == []

        await asyncio.sleep((due - utcnow()).total_seconds() + LATE)  # the reminder falls due while down
        await bot.start(jana)
        async with asyncio.timeout(15):
            while not reminders(emulator):
                await asyncio.sleep(0.1)
        [reminder] = reminders(emulator)
        assert reminder.startswith("Reminder: Check-in (meeting 1)")
        assert "(Sent late: the bot was not running when this reminder was due.)" in reminder
        await bot.stop()

        await bot.start(jana)  # and once more: nothing is sent twice
        await asyncio.sleep(2)
        assert len(reminders(emulator)) == 1
    finally:
        await bot.stop()
        await emulator.stop()
