"""A local transport: type commands as a chosen person in a chosen room and read the answers.

Interactive on a terminal (with a prompt and line editing); scripted when stdin is a pipe or a
file, printing one block per command, so it serves trials, demos and shell scripts alike.
Lines starting with ':' steer the console itself (`:help` lists them); lines starting with '#'
are comments.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import mimetypes
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from bot.config import ConsoleSettings
from bot.transports.base import (
    AttachmentRef,
    Incoming,
    IncomingHandler,
    MessageRef,
    Reply,
    RoomRef,
    TooLarge,
    UserRef,
)
from storage.rules.documents import safe_name

log = logging.getLogger(__name__)
PLATFORM = "console"
CONSOLE_HELP = """\
:as <user>      speak as console user <user> (link it with: wgbot person add … --account console:<user>)
:room <room>    speak in console room <room> (the founding groups' rooms are supply-chains, pfas, skills)
:direct         speak in a private chat with the bot
:attach <path>  attach a file to your next message
:quit           leave (end of input does the same)"""


class ConsoleTransport:
    platform = PLATFORM

    def __init__(
        self,
        settings: ConsoleSettings,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        interactive: bool | None = None,
    ) -> None:
        self.user = settings.user
        self.room = settings.room
        self.direct = False
        self._shown_room = self._current_room()  # where the last message printed was; headers say when it changes
        self.downloads = settings.downloads
        self._stdin = stdin or sys.stdin
        self._out = stdout or sys.stdout
        self.interactive = self._stdin.isatty() if interactive is None else interactive
        self._session = uuid.uuid4().hex[:8]
        self._counter = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._attachment: Path | None = None
        self._sent = 0
        self._task: asyncio.Task[None] | None = None
        self._waiting_for_input: asyncio.Future[str | None] | None = None
        self._stopping = False
        self.finished = asyncio.Event()
        # Scripts read one block per command, so the notices a command queues (announcements,
        # private messages) are printed before the next command is read.
        self.after_each_command: Callable[[], Awaitable[None]] | None = None

    async def start(self, on_incoming: IncomingHandler) -> None:
        self._task = asyncio.create_task(self._read_loop(on_incoming), name="console")

    async def stop(self) -> None:
        """Stop reading; a command in hand is finished first (a transaction is never cut short)."""
        self._stopping = True
        if self._task is not None:
            if self._waiting_for_input is not None:
                self._waiting_for_input.cancel()
            await asyncio.wait([self._task])
        self.finished.set()

    async def send(self, room: RoomRef, reply: Reply) -> MessageRef:
        header = "" if room.room_id == self._shown_room else f"── in {room.room_id} ──\n"
        self._print(header + self._render(reply), room.room_id)
        return MessageRef(room, str(next(self._message_ids)))

    async def edit(self, ref: MessageRef, reply: Reply) -> None:
        said = f"── message {ref.message_id} in {ref.room.room_id} now reads ──\n" + self._render(reply)
        self._print(said, ref.room.room_id)

    async def pin(self, ref: MessageRef) -> None:
        self._print(f"── message {ref.message_id} in {ref.room.room_id} is pinned ──", ref.room.room_id)

    async def send_direct(self, user: UserRef, reply: Reply) -> MessageRef:
        self._print(f"── private message to {user.user_id} ──\n" + self._render(reply), f"direct:{user.user_id}")
        return MessageRef(RoomRef(PLATFORM, f"direct:{user.user_id}"), str(next(self._message_ids)))

    async def fetch(self, attachment: AttachmentRef, limit: int) -> bytes:
        path = Path(attachment.file_id)
        if (await asyncio.to_thread(path.stat)).st_size > limit:
            raise TooLarge(limit)
        return await asyncio.to_thread(path.read_bytes)

    def tell_operator(self, text: str) -> None:
        """A line for the person at the console, not an answer of the bot."""
        self._print(f"({text})")

    def _current_room(self) -> str:
        return f"direct:{self.user}" if self.direct else self.room

    def _render(self, reply: Reply) -> str:
        self._sent += 1
        lines = [reply.text]
        lines += [f"  [{b.label}] → {b.command}" for b in reply.buttons]
        if reply.file is not None:
            self.downloads.mkdir(parents=True, exist_ok=True)
            path = self.downloads / safe_name(reply.file.name)
            path.write_bytes(reply.file.content)
            lines.append(f"  📎 {reply.file.name} saved to {path}")
        return "\n".join(lines)

    def _print(self, text: str, room_id: str | None = None) -> None:
        """`text`, in `room_id` if it is a message: the next message in another room, the one
        being typed in included, says which room it is in."""
        if room_id is not None:
            self._shown_room = room_id
        print(text, file=self._out, flush=True)

    async def _read_loop(self, on_incoming: IncomingHandler) -> None:
        try:
            if self.interactive:
                self._print("wgbot console — :help for the console's own commands, /help for the bot's.")
            while not self._stopping and (line := await self._read_line()) is not None:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith(":"):
                    if not self._steer(line):
                        break
                    continue
                await self._deliver(line, on_incoming)
        except asyncio.CancelledError:
            if not self._stopping:  # cancelled while waiting for input because the console stops: done
                raise
        finally:
            self.finished.set()

    async def _deliver(self, line: str, on_incoming: IncomingHandler) -> None:
        sent_before = self._sent
        attachments: tuple[AttachmentRef, ...] = ()
        if self._attachment is not None:
            path, self._attachment = self._attachment, None
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            attachments = (AttachmentRef(PLATFORM, str(path), path.name, media_type, path.stat().st_size),)
        incoming = Incoming(
            platform=PLATFORM,
            room_id=self._current_room(),
            sender_id=self.user,
            sender_name=self.user,
            text=line,
            event_id=f"{self._session}-{next(self._counter)}",
            is_direct=self.direct,
            attachments=attachments,
        )
        reply = await on_incoming(incoming)
        if reply is not None:
            await self.send(incoming.room, reply)
        if self.after_each_command is not None:
            try:
                await self.after_each_command()
            except Exception as failure:  # e.g. the database is away for a moment: keep serving
                log.warning("console: could not deliver the notices of %r: %r", line, failure)
                self.tell_operator("its notices could not be delivered now; they go out later")
        if line.startswith(("/", "!")) and self._sent == sent_before:
            self._print("(no answer)")
        if line.startswith(("/", "!")) or self._sent > sent_before:
            self._print("")  # the end of this input's block

    def _steer(self, line: str) -> bool:
        """Handle a console command; False means leave."""
        verb, _, argument = line[1:].partition(" ")
        argument = argument.strip()
        match verb.lower():
            case "quit" | "exit" | "q":
                return False
            case "as" if argument:
                self.user = argument
            case "room" if argument:
                self.room, self.direct = argument, False
            case "direct":
                self.direct = True
            case "attach" if argument:
                path = Path(argument).expanduser()
                if path.is_file():
                    self._attachment = path
                else:
                    self._print(f"No file at {path}.")
            case _:
                self._print(CONSOLE_HELP)
        return True

    async def _read_line(self) -> str | None:
        """One line from stdin, read on a daemon thread so a blocked read never holds up exit."""
        loop = asyncio.get_running_loop()
        line: asyncio.Future[str | None] = loop.create_future()

        def deliver(value: str | None) -> None:
            if not line.done():
                line.set_result(value)

        def handed_over(value: str | None) -> None:
            with contextlib.suppress(RuntimeError):  # the console ended meanwhile: no one reads it
                loop.call_soon_threadsafe(deliver, value)

        def read() -> None:
            value: str | None
            try:
                if self.interactive:
                    value = input(f"{self.user}@{self._current_room()}> ")
                else:
                    value = self._stdin.readline() or None
            except (EOFError, KeyboardInterrupt, ValueError, OSError):
                value = None
            handed_over(value)

        threading.Thread(target=read, name="console-stdin", daemon=True).start()
        self._waiting_for_input = line
        try:
            return await line
        finally:
            self._waiting_for_input = None
