"""From an incoming message to the bot's answer: the single path every command takes.

dedup → parse → identify the sender → room and role checks → handler, all in one transaction,
and one error policy: a refusal is answered in one line with the usage; anything unexpected is
logged with its context and answered with a reference, never a traceback.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from bot.changes import Change
from bot.commands import PREFIXES, Command, CommandError, CommandLine, Misspelt, Registry, Token, read_command
from bot.config import Settings
from bot.context import Context, ReceivedFile, answer_language
from bot.i18n import Language
from bot.metrics import COMMAND_SECONDS, COMMANDS, outcome_kind
from bot.transports.base import AttachmentRef, Incoming, Reply, TooLarge
from storage import arrivals, dialogs, events, notices
from storage.db import Database
from storage.errors import Misread, Refused
from storage.models import utcnow
from storage.rooms import Room
from storage.rules.access import Actor, may, refusal_of_access
from storage.rules.text import N_, Words

log = logging.getLogger(__name__)
PRIVATE = "private"  # how the log names a private chat
Fetch = Callable[[AttachmentRef, int], Awaitable[bytes]]  # the bytes, or TooLarge past the limit


async def _no_files(attachment: AttachmentRef, limit: int) -> bytes:
    raise Refused("Files from {platform} cannot be read here.", platform=attachment.platform)


class Router:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        settings: Settings,
        fetch: Fetch | None = None,
        clock: Callable[[], datetime] = utcnow,
        on_change: Callable[[set[Change]], Awaitable[None]] | None = None,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings
        self.fetch = fetch or _no_files
        self.clock = clock
        self.on_change = on_change  # told, after the commit, what a command changed
        self.on_queued = on_queued  # told, after the commit, that a command queued notices

    async def handle(self, incoming: Incoming) -> Reply | None:
        """The bot's answer to one message, or None when it should stay silent."""
        unreadable = _unreadable(incoming.text)
        if unreadable:  # nothing such a text says reaches the database, or is echoed back
            addressed = incoming.is_direct or incoming.text.lstrip().startswith(PREFIXES)
            return self._answer(incoming, self._language(incoming, None, None)._(unreadable)) if addressed else None
        line = read_command(incoming.text)
        if line is None and not incoming.is_direct:
            return None  # ordinary conversation in a room
        trace = _Trace("(dialog)" if line is None else "(unknown)")
        started = time.perf_counter()
        try:
            reply = await self._handle(incoming, line, trace)
            if trace.outcome == "failed":
                trace.outcome = "ok"
            return reply
        finally:
            # One line per command: what, where, how it went, how long. Never its arguments: a
            # secret ballot's choice or a link code must not reach the log.
            ms = (time.perf_counter() - started) * 1000
            COMMANDS.labels(trace.command, outcome_kind(trace.outcome)).inc()
            COMMAND_SECONDS.observe(ms / 1000)
            # A private chat's room names its person (on Telegram, the chat id is the user id): the
            # log, which erasure cannot reach, says only that it was private.
            room = PRIVATE if incoming.is_direct else incoming.room_id
            where = f"{incoming.platform}:{room}"
            fields = {"command": trace.command, "platform": incoming.platform, "room": room}
            log.info(
                "%s in %s: %s, %.1f ms",
                trace.command,
                where,
                trace.outcome,
                ms,
                extra=fields | {"outcome": trace.outcome, "ms": round(ms, 1)},
            )

    async def _handle(self, incoming: Incoming, line: CommandLine | None, trace: _Trace) -> Reply | None:
        reference = secrets.token_hex(4)
        binding, actor = None, None
        try:
            try:
                changed: set[Change] = set()
                # Files are read before the transaction opens, so a slow download never holds
                # the database (on SQLite, every other command would wait for it).
                resolved = self._resolve(line)
                files = await self._received_files(incoming, resolved)
                recorded: Refused | None = None
                async with self.db.command() as session:
                    arrival = await arrivals.arrive(
                        session,
                        incoming.platform,
                        incoming.event_id,
                        incoming.room_id,
                        incoming.sender_id,
                        incoming.sender_name,
                        utcnow(),
                    )
                    if arrival is None:
                        trace.outcome = "duplicate"
                        return self._seen_before(incoming)
                    binding, actor = arrival.room, arrival.sender
                    try:
                        if resolved is None:
                            reply = await self._converse(session, incoming, actor, binding, changed)
                        else:
                            reply = await self._run(session, incoming, resolved, actor, binding, changed, files, trace)
                    except Refused as refusal:
                        if not refusal.keep:
                            raise
                        recorded = refusal  # its own record (a failed attempt, an audit line) commits
                    queued = bool(notices.queued_here(session))
                if queued and self.on_queued:
                    self.on_queued()
                if recorded is not None:
                    trace.outcome = "refused"
                    return self._refusal(incoming, binding, actor, recorded)
                if changed and self.on_change:
                    await self.on_change(changed)
                return reply
            except Refused as refusal:
                trace.outcome = "refused"
                # The refused act is undone whole; the event is still marked as handled, so a
                # redelivery does not repeat the refusal.
                async with self.db.command() as session:
                    if not await events.claim(session, incoming.platform, incoming.event_id):
                        return None
                return self._refusal(incoming, binding, actor, refusal)
        except Exception:
            trace.outcome = f"failed (ref {reference})"
            log.exception(  # the command's name, never its text (a secret ballot, a code), nor whose account
                "command failed (ref %s): %s from %s in %s:%s",
                reference,
                trace.command,
                actor.label if actor else f"an account on {incoming.platform}",
                incoming.platform,
                PRIVATE if incoming.is_direct else incoming.room_id,
            )
            return self._answer(
                incoming,
                self._language(incoming, binding, actor)._(
                    "Sorry, that failed on our side and nothing was changed (reference {reference}). "
                    "Please try again later; the log says what went wrong.",
                    reference=reference,
                ),
            )

    async def _run(
        self,
        session: AsyncSession,
        incoming: Incoming,
        resolved: _Resolved | Refused,
        actor: Actor,
        binding: Room | None,
        changed: set[Change],
        files: tuple[ReceivedFile, ...],
        trace: _Trace,
    ) -> Reply | None:
        if isinstance(resolved, Refused):
            raise resolved
        line, command, words = resolved
        trace.command = command.path
        if binding is None and not command.anywhere:
            if not incoming.is_direct:
                trace.outcome = "ignored (room not bound)"
                return None  # a room the bot does not serve: stay out of the conversation
            raise _Of(command, Words("/{command} works only in a working group's room.", {"command": command.path}))
        group_id = binding.group_id if binding else None
        if not may(command.access, actor, group_id):
            raise _Of(command, refusal_of_access(command.access, actor))
        try:
            context = self._context(session, incoming, actor, binding, changed, files)
            try:
                call = await command.read(command.parse(line, words), context)
            except CommandError:
                meant = self.registry.misspelt_subcommand(line) if command.path == line.name else None
                if meant is None:
                    raise
                raise _Of(meant.meant, meant.words, usage=True) from None
            reply = await command.handler(context, call)
            if reply is not None and reply.language is None:  # what a transport adds follows the answer's language
                reply = dataclasses.replace(reply, language=context.lang.code)
            await _said_once(session, incoming, reply)
        except _Of:
            raise
        except Misread as wrong:
            raise _Of(command, wrong.words, usage=True) from None
        except Refused as refusal:
            raise _Of(command, refusal.words, keep=refusal.keep) from None
        return self._answer(incoming, reply)

    async def _converse(
        self, session: AsyncSession, incoming: Incoming, actor: Actor, binding: Room | None, changed: set[Change]
    ) -> Reply | None:
        """Plain text in a private chat: the next answer of the sender's guided dialog."""
        dialog = await dialogs.current(session, incoming.platform, incoming.sender_id)
        if dialog is None or dialog.kind not in self.registry.conversations:
            return self._answer(
                incoming, self._language(incoming, binding, actor)._("I answer commands; send /help to see them.")
            )
        context = self._context(session, incoming, actor, binding, changed)
        reply = await self.registry.conversations[dialog.kind](context, incoming.text.strip())
        return self._answer(incoming, reply)

    def _context(
        self,
        session: AsyncSession,
        incoming: Incoming,
        actor: Actor,
        binding: Room | None,
        changed: set[Change],
        files: tuple[ReceivedFile, ...] = (),
    ) -> Context:
        return Context(incoming, actor, session, binding, self.settings, self.registry, self.clock(), files, changed)

    def _resolve(self, line: CommandLine | None) -> _Resolved | Refused | None:
        """Which command a line calls (None for plain text), decided once: before the
        transaction, to know whether its files are to be read, and for its run. A line that
        calls none is the refusal to give in the transaction, where the room's and the
        sender's language are known."""
        if line is None:
            return None
        try:
            return _Resolved(line, *self.registry.resolve(line))
        except Misspelt as typo:
            return _Of(typo.meant, typo.words, usage=True)
        except Refused as refusal:
            return refusal

    async def _received_files(
        self, incoming: Incoming, resolved: _Resolved | Refused | None
    ) -> tuple[ReceivedFile, ...]:
        """The attachments of a command that takes files, read within the size limit."""
        if not incoming.attachments or not isinstance(resolved, _Resolved):
            return ()  # a line that calls no command is answered in the transaction
        command = resolved.command
        if not command.takes_files:
            return ()
        limit = int(self.settings.files.max_mb * 1024 * 1024)
        files = []
        for attachment in incoming.attachments:
            megabytes = f"{self.settings.files.max_mb:g}"
            too_big = Words(
                "{file} is larger than the {limit} MB limit.", {"file": attachment.name, "limit": megabytes}
            )
            if attachment.size is not None and attachment.size > limit:
                raise _Of(command, too_big)
            try:  # read as it streams in: refused the moment it passes the limit, whatever it advertised
                data = await self.fetch(attachment, limit)
            except TooLarge:
                raise _Of(command, too_big) from None
            files.append(ReceivedFile(attachment.name, attachment.media_type, data))
        return tuple(files)

    def _refusal(self, incoming: Incoming, binding: Room | None, actor: Actor | None, refusal: Refused) -> Reply | None:
        command = refusal.command if isinstance(refusal, _Of) else None
        if binding is None and not incoming.is_direct and not (command and command.anywhere):
            return None  # no chatter in rooms the bot does not serve, even about mistakes
        lang = self._language(incoming, binding, actor)
        text = lang.say(refusal.words)
        if isinstance(refusal, _Of) and refusal.usage:
            text += "\n" + lang._("Usage: {usage}", usage=refusal.command.usage)
        return self._answer(incoming, text)

    def _language(self, incoming: Incoming, binding: Room | None, actor: Actor | None) -> Language:
        return answer_language(incoming, actor, binding, self.settings)

    def _seen_before(self, incoming: Incoming) -> Reply | None:
        """A redelivered event acts once. A press answered privately (a toast only its presser
        sees) still gets an answer, in case the first one was lost with a crash; a message in a
        room gets none, so nothing is said twice where others read it."""
        if incoming.answered_privately:
            said = self._language(incoming, None, None)._("Already done: this press was handled before.")
            return self._answer(incoming, Reply(said, private=True))
        return None

    @staticmethod
    def _answer(incoming: Incoming, reply: Reply | str | None) -> Reply | None:
        if reply is None:
            return None
        if isinstance(reply, str):
            reply = Reply(reply)
        return dataclasses.replace(reply, reply_to=incoming.event_id)


async def _said_once(session: AsyncSession, incoming: Incoming, reply: Reply | None) -> None:
    """One message per room: a notice to the group that says just what the answer says is not
    posted again in the room the answer goes to."""
    if reply is None:
        return
    for queued in notices.queued_here(session):
        here = (queued.platform, queued.target) == (incoming.platform, incoming.room_id) and not queued.direct
        if here and queued.text == reply.text and not queued.buttons:
            if queued in session.new:
                session.expunge(queued)
            else:
                await session.delete(queued)


def _unreadable(text: str) -> str | None:
    """Why a text cannot be taken at all: a NUL (PostgreSQL stores none) or a lone surrogate
    (not Unicode text, not storable anywhere)."""
    if "\x00" in text:
        return N_("That message contains a NUL character, which I cannot take; please send it without.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return N_("That message contains characters that are not valid Unicode text; please send it again.")
    return None


@dataclasses.dataclass
class _Trace:
    """What the command's log line says: which command, and how it went."""

    command: str
    outcome: str = "failed"


class _Resolved(NamedTuple):
    """A command line, the command it calls, and the words left for its arguments."""

    line: CommandLine
    command: Command
    words: list[Token]


class _Of(Refused):
    """A refusal of a known command; when the command was not written as its usage line says
    (and only then), the answer ends with that line."""

    def __init__(self, command: Command, message: str | Words, keep: bool = False, usage: bool = False) -> None:
        super().__init__(message)
        self.command = command
        self.keep = keep
        self.usage = usage
