"""One chair, Jana of ACME GmbH, talking to a running wgbot in PFAS's room on one platform:
the console (its real transport, reading a pipe), Matrix (a real Synapse and nio clients) or
Telegram (the real PTB Application against the Bot API emulator). The contract suite asks
the same things of each; the platform test modules keep what only one platform does."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from bot.app import App, chat_transports
from bot.areas import registry_of
from bot.config import Settings
from bot.transports.console import ConsoleTransport
from storage import groups, rooms
from storage.db import Database
from storage.models import RoomPurpose
from tests.alliance import member_organisation, person
from tests.matrix_peers import Member, start_bot
from tests.synapse import Synapse
from tests.telegram_emulator import BotApiEmulator
from tests.transport_probes import PROBE_AREAS

WAIT = 10.0
TELEGRAM_GROUP = -1001234567890


class Peer(Protocol):
    platform: str

    async def ask(self, text: str) -> str:
        """Jana writes `text` in PFAS's room; the text of the bot's answer to it."""

    async def ask_with_file(self, text: str, name: str, data: bytes) -> str:
        """Jana sends a file with `text` as its caption; the text of the answer."""

    async def file_before(self, text: str, name: str, data: bytes) -> str:
        """Jana sends a file on its own, then `text`; the text of the answer to `text`."""

    async def file_from(self, text: str) -> tuple[str, bytes]:
        """Jana asks for a file; its name and bytes as she receives them."""


async def _alliance(db: Database, platform: str, jana: str, room_id: str | None) -> None:
    """ACME GmbH in PFAS, Jana its representative and PFAS's chair, PFAS's room bound (the
    console's rooms are bound when the alliance is founded)."""
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=(f"{platform}:{jana}",), roles=("chair:pfas",))
    if room_id is None:
        return
    async with db.transaction() as session:
        pfas = await groups.find_group(session, "pfas")
        await rooms.bind_room(
            session, actor="test", platform=platform, room_id=room_id, purpose=RoomPurpose.GROUP, group=pfas
        )


async def _started(app: App) -> asyncio.Task[None]:
    task = asyncio.create_task(app.run())
    started = asyncio.create_task(app.started.wait())
    await asyncio.wait([task, started], timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # the bot failed to start: show why
    assert app.started.is_set()
    return task


async def _stopped(app: App, task: asyncio.Task[None]) -> None:
    app.request_stop()
    await asyncio.wait_for(task, WAIT)


class _Printed(io.TextIOBase):
    """The console's output, one printed block at a time, and a mark where a command's output
    ends (its answer first, then the notices it queued for this room)."""

    END = "\0end of a command's output"

    def __init__(self) -> None:
        self.blocks: asyncio.Queue[str] = asyncio.Queue()

    def write(self, text: str) -> int:
        if text.strip():
            self.blocks.put_nowait(text.rstrip("\n"))
        return len(text)

    async def command_done(self) -> None:
        self.blocks.put_nowait(self.END)

    async def output(self) -> list[str]:
        """What one command printed."""
        blocks = []
        while (block := await asyncio.wait_for(self.blocks.get(), WAIT)) != self.END:
            blocks.append(block)
        return blocks


class ConsolePeer:
    platform = "console"

    def __init__(self, lines: io.TextIOWrapper, printed: _Printed, folder: Path) -> None:
        self.lines, self.printed, self.folder = lines, printed, folder

    async def ask(self, text: str) -> str:
        self.lines.write(text + "\n")
        self.lines.flush()
        return (await self.printed.output())[0]

    async def ask_with_file(self, text: str, name: str, data: bytes) -> str:
        return await self.file_before(text, name, data)  # the console attaches a file to the next line

    async def file_before(self, text: str, name: str, data: bytes) -> str:
        path = self.folder / name
        path.write_bytes(data)
        self.lines.write(f":attach {path}\n")
        return await self.ask(text)

    async def file_from(self, text: str) -> tuple[str, bytes]:
        answer = await self.ask(text)
        saved = Path(answer.rsplit(" saved to ", 1)[1])
        return saved.name, saved.read_bytes()


@asynccontextmanager
async def console_peer(db: Database, folder: Path) -> AsyncIterator[ConsolePeer]:
    await _alliance(db, "console", "jana", None)
    read_end, write_end = os.pipe()
    stdin, lines = os.fdopen(read_end, "r"), os.fdopen(write_end, "w")
    printed = _Printed()
    settings = Settings.model_validate(
        {"console": {"user": "jana", "room": "pfas", "downloads": str(folder / "downloads")}}
    )
    transport = ConsoleTransport(settings.console, stdin=stdin, stdout=printed, interactive=False)  # type: ignore[arg-type]
    app = App(settings, db, [transport], PROBE_AREAS)
    deliver = transport.after_each_command
    assert deliver is not None

    async def then_mark_the_end() -> None:
        await deliver()
        await printed.command_done()

    transport.after_each_command = then_mark_the_end
    task = await _started(app)
    try:
        yield ConsolePeer(lines, printed, folder)
    finally:
        lines.close()  # end of input: the console transport finishes, and the bot with it
        await asyncio.wait_for(task, WAIT)
        stdin.close()


class MatrixPeer:
    platform = "matrix"

    def __init__(self, jana: Member, room_id: str, bot_id: str) -> None:
        self.jana, self.room_id, self.bot_id = jana, room_id, bot_id

    async def ask(self, text: str) -> str:
        event_id = await self.jana.say(self.room_id, text)
        return str((await self.jana.reply_from(self.bot_id, event_id))["content"]["body"])

    async def ask_with_file(self, text: str, name: str, data: bytes) -> str:
        event_id = await self.jana.send_file(self.room_id, data, name, caption=text)
        return str((await self.jana.reply_from(self.bot_id, event_id))["content"]["body"])

    async def file_before(self, text: str, name: str, data: bytes) -> str:
        await self.jana.send_file(self.room_id, data, name)
        return await self.ask(text)

    async def file_from(self, text: str) -> tuple[str, bytes]:
        await self.jana.say(self.room_id, text)
        sent = await self.jana.wait_for(
            lambda e: e["sender"] == self.bot_id and e["content"].get("msgtype") == "m.file"
        )
        downloaded = await self.jana.client.download(mxc=sent["content"]["url"])
        return sent["content"]["filename"], downloaded.body


@asynccontextmanager
async def matrix_peer(db: Database, synapse: Synapse) -> AsyncIterator[MatrixPeer]:
    bot_user, sam_user, jana_user = await synapse.register(), await synapse.register(), await synapse.register()
    sam, jana = Member(synapse, sam_user), Member(synapse, jana_user)
    await sam.start()
    await jana.start()
    bot = await start_bot(synapse, bot_user, db, PROBE_AREAS)
    try:
        # The bot enters rooms the secretariat invites it to.
        await person(db, "Sam Secretariat", accounts=(f"matrix:{sam_user.user_id}",), roles=("secretariat",))
        room_id = await sam.create_room(invite=[bot_user.user_id, jana_user.user_id])
        await jana.client.join(room_id)
        await sam.wait_until_joined(room_id, bot_user.user_id)
        await _alliance(db, "matrix", jana_user.user_id, room_id)
        yield MatrixPeer(jana, room_id, bot_user.user_id)
    finally:
        await bot.stop()
        await sam.stop()
        await jana.stop()


class TelegramPeer:
    platform = "telegram"

    def __init__(self, emulator: BotApiEmulator) -> None:
        self.emulator = emulator
        self.jana = emulator.person(1001, "Jana", "jana")
        emulator.group(TELEGRAM_GROUP, "PFAS working group", self.jana)

    async def ask(self, text: str) -> str:
        sent = await self.emulator.say(self.jana, TELEGRAM_GROUP, text)
        return (await self.emulator.answer_to(sent)).text

    async def ask_with_file(self, text: str, name: str, data: bytes) -> str:
        sent = await self.emulator.upload(self.jana, TELEGRAM_GROUP, data, name, "application/pdf", caption=text)
        return (await self.emulator.answer_to(sent)).text

    async def file_before(self, text: str, name: str, data: bytes) -> str:
        await self.emulator.upload(self.jana, TELEGRAM_GROUP, data, name, "application/pdf")
        return await self.ask(text)

    async def file_from(self, text: str) -> tuple[str, bytes]:
        before = len(self.emulator.bot_messages(TELEGRAM_GROUP))
        await self.emulator.say(self.jana, TELEGRAM_GROUP, text)
        # The answer's text comes first, then the document.
        sent = (await self.emulator.wait_for_bot(TELEGRAM_GROUP, count=before + 2))[-1]
        data, name, _ = self.emulator.files[sent.document["file_id"]]
        return name, data


@asynccontextmanager
async def telegram_peer(db: Database) -> AsyncIterator[TelegramPeer]:
    emulator = BotApiEmulator()
    await emulator.start()
    peer = TelegramPeer(emulator)
    await _alliance(db, "telegram", "1001", str(TELEGRAM_GROUP))
    settings = Settings.model_validate({"telegram": emulator.bot_settings()})
    app = App(settings, db, chat_transports(settings, db, registry_of(PROBE_AREAS)), PROBE_AREAS)
    task = await _started(app)
    try:
        yield peer
    finally:
        await _stopped(app, task)
        await emulator.stop()
