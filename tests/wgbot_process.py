"""`wgbot run` as an operator runs it: its own process, a config file, a log file."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from storage import groups, migrate, rooms
from storage.db import Database
from storage.models import RoomPurpose
from tests.alliance import member_organisation, person
from tests.telegram_emulator import BotApiEmulator, User

WGBOT = str(Path(sys.executable).with_name("wgbot"))


async def database_for(home: Path, telegram_group: int) -> Database:
    """The SQLite database `wgbot run` will use from `home`: migrated, seeded, and PFAS bound to
    the Telegram group, as an operator leaves it before the first start."""
    db = Database.connect(f"sqlite+aiosqlite:///{home / 'wgbot.sqlite3'}")
    await migrate.upgrade(db)
    async with db.transaction() as session:
        await groups.seed_founding_groups(session)
        pfas = await groups.find_group(session, "pfas")
        await rooms.bind_room(
            session, actor="t", platform="telegram", room_id=str(telegram_group), purpose=RoomPurpose.GROUP, group=pfas
        )
    return db


async def pfas_on_telegram(db: Database, group: int) -> tuple[BotApiEmulator, User]:
    """The Bot API emulator with Jana in a Telegram group bound to PFAS, her organisation a
    member of it, and Sam of the secretariat at the console: an alliance a second process meets."""
    emulator = BotApiEmulator()
    await emulator.start()
    jana = emulator.person(1001, "Jana")
    emulator.group(group, "PFAS", jana)
    async with db.transaction() as session:
        pfas = await groups.find_group(session, "pfas")
        await rooms.bind_room(
            session, actor="t", platform="telegram", room_id=str(group), purpose=RoomPurpose.GROUP, group=pfas
        )
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",))
    await person(db, "Sam Secretariat", accounts=("console:sam",), roles=("secretariat",))
    return emulator, jana


class Bot:
    """`wgbot run` in a process of its own, with a config file pointing at the emulator."""

    def __init__(
        self, home: Path, emulator: BotApiEmulator, group: int, extra_config: str = "", url: str | None = None
    ) -> None:
        self.home, self.emulator, self.group = home, emulator, group
        self.config = home / "config.toml"
        self.url = url or f"sqlite+aiosqlite:///{home / 'wgbot.sqlite3'}"
        self.config.write_text(
            f'[database]\nurl = "{self.url}"\n'
            f"[meetings]\nreminder_minutes = [1]\n"
            f'[files]\npath = "{home / "files"}"\n'
            f'[telegram]\ntoken = "{emulator.token}"\napi_url = "{emulator.base_url}"\n'
            f'file_url = "{emulator.base_file_url}"\npoll_timeout = 1\nrate_limiter = false\n' + extra_config
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
        answer = await self.emulator.answer_to(await self.emulator.say(jana, self.group, "/whoami"), timeout=30)
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
