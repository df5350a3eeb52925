"""The promise that matters most after a crash: `wgbot run` is killed (SIGKILL) before a meeting
reminder is due and restarted after it; the reminder arrives exactly once, marked late, and a
further restart does not send it again. The real program, in its own process, on Telegram."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage.models import utcnow
from tests.alliance import member_organisation, person
from tests.telegram_emulator import BotApiEmulator
from tests.wgbot_process import Bot, database_for

pytestmark = pytest.mark.sqlite_only
GROUP = -1001112223334
LATE = 16  # seconds past the reminder's time: more than storage.meetings.LATE_AFTER


def reminders(emulator: BotApiEmulator) -> list[str]:
    return [m.text for m in emulator.bot_messages(GROUP) if m.text and m.text.startswith("Reminder:")]


async def test_a_reminder_due_while_the_bot_was_killed_arrives_once_after_restart_marked_late(tmp_path):
    emulator = BotApiEmulator()
    await emulator.start()
    jana = emulator.person(1001, "Jana")
    emulator.group(GROUP, "PFAS", jana)
    db = await database_for(tmp_path, GROUP)
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",), roles=("chair:pfas",))
    await db.close()
    bot = Bot(tmp_path, emulator, GROUP)
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
