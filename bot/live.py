"""Posted messages that keep showing how things stand (e.g. a vote's turnout as ballots come in).

An area posts a message under a topic ("vote:12") and declares a `LiveTopic`: the kind of
change that makes it stale and how to draw its standing. After such a change, each posted copy
is edited to its text plus the standing. Edits are gathered: one refresh per topic at most
every few seconds, reading the state as it is then, so a burst of presses costs one edit per
room and stays within Telegram's 20 messages a minute in a group. An edit that fails is only
logged: the message is a convenience, the area's own command is the record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.changes import Change, Changes
from bot.i18n import SOURCE, Language, language
from bot.tasks import end
from bot.transports.base import Button, MessageRef, Reply, RoomRef, Transport
from storage import notices
from storage.db import Database

log = logging.getLogger(__name__)
EVERY = 5.0  # seconds between two refreshes of one topic's messages


@dataclass(frozen=True)
class Standing:
    """What a live message shows now, below the text it was posted with, in the language that
    text was written in."""

    addition: Callable[[Language], str]
    buttons: bool  # keep its buttons (False once there is nothing left to press)


@dataclass(frozen=True)
class LiveTopic:
    changes: Changes  # `changes.of(key)` makes the messages of topic "<prefix>:<key>" stale
    prefix: str
    draw: Callable[[AsyncSession, int], Awaitable[Standing]]

    def topic(self, key: int) -> str:
        return f"{self.prefix}:{key}"


class LiveMessages:
    def __init__(
        self,
        db: Database,
        transports: Mapping[str, Transport],
        topics: Iterable[LiveTopic],
        every: float = EVERY,
        language: str = SOURCE,
    ) -> None:
        self.db = db
        self.language = language  # the alliance's: for a message posted before notices said theirs
        self.transports = transports
        self.topics = {topic.changes: topic for topic in topics}
        self.every = every
        self._pending: dict[tuple[Changes, int], asyncio.Task[None]] = {}

    def follows(self, change: Change) -> bool:
        return change.kind in self.topics and change.key is not None

    def touch(self, change: Change) -> None:
        """Refresh the changed topic's messages soon (once, however many changes come meanwhile)."""
        if not self.follows(change):
            return
        assert change.key is not None
        pending = (change.kind, change.key)
        if pending not in self._pending:
            topic = self.topics[change.kind]
            task = asyncio.create_task(self._refresh_later(topic, change.key), name=f"live-{change}")
            self._pending[pending] = task

    async def stop(self) -> None:
        for task in list(self._pending.values()):
            await end(task)
        self._pending.clear()

    async def _refresh_later(self, topic: LiveTopic, key: int) -> None:
        try:
            await asyncio.sleep(self.every)
        finally:
            self._pending.pop((topic.changes, key), None)
        try:
            await self.refresh(topic, key)
        except Exception:
            log.exception("could not refresh the messages of %s", topic.topic(key))

    async def refresh(self, topic: LiveTopic, key: int) -> None:
        async with self.db.transaction() as session:
            standing = await topic.draw(session, key)
            posted = await notices.sent_on(session, topic.topic(key))
        for message in posted:
            transport = self.transports.get(message.platform)
            if transport is None or message.platform == "console" or message.message_id is None:
                continue  # a console prints, it cannot edit
            buttons = (
                tuple(Button(label, command) for label, command in message.buttons or ()) if standing.buttons else ()
            )
            try:
                await transport.edit(
                    MessageRef(RoomRef(message.platform, message.target), message.message_id),
                    Reply(
                        message.text + standing.addition(language(message.language, self.language)),
                        buttons=buttons,
                        private_buttons=message.private_buttons,
                        language=message.language,
                    ),
                )
            except Exception as failure:
                log.info(
                    "%s: could not edit its message in %s:%s: %r",
                    topic.topic(key),
                    message.platform,
                    message.target,
                    failure,
                )
