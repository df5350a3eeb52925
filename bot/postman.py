"""Delivers the outbox: every pending notice, after the transaction that wrote it commits.

Woken after each command, at start (so a restart finishes what was left), and when a failed
notice's back-off ends. A notice is marked sent right after its platform accepted it, and is
sent under a key derived from it: after a crash in between, Matrix (whose homeserver
deduplicates transaction ids) gets back the same message and only what was missing of its
reactions; Telegram has no such key, so there that one notice may be sent again — never lost.
Pacing within a platform's rate limits is the transport's business (Telegram's limiter, nio's
429 handling).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from bot.i18n import SOURCE, Language, language, saying
from bot.tasks import end
from bot.transports.base import (
    Button,
    DirectChatUnavailable,
    MessageRef,
    Reply,
    RoomRef,
    Transport,
    Undeliverable,
    UserRef,
)
from storage import announcements, notices, people
from storage.db import Database
from storage.models import Notice, NoticeStatus, utcnow

log = logging.getLogger(__name__)
RETRY_EVERY = 30.0  # the longest nap: also picks up what another process queued


class Postman:
    def __init__(self, db: Database, transports: Mapping[str, Transport], language: str = SOURCE) -> None:
        self.db = db
        self.transports = transports
        self.language = language  # the alliance's: for whoever chose none
        self.say = saying(language)  # an announcement's delivery report is in its reader's language
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._round = asyncio.Lock()  # one delivery round at a time, so nothing goes out twice

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="postman")

    async def stop(self) -> None:
        if self._task:
            await end(self._task)
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def settled(self) -> None:
        """Deliver everything queued so far before returning (or give it up for now)."""
        await self.deliver_pending()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            nap = RETRY_EVERY
            try:
                retry = await self.deliver_pending()
                if retry is not None:  # sleep until the soonest back-off ends
                    nap = min(RETRY_EVERY, max(0.05, (retry - utcnow()).total_seconds()))
            except Exception:
                log.exception("postman: a delivery round failed")
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as
            # the wake-up does, and stop() then waits for ever on a postman that naps on.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(nap):
                    await self._wake.wait()

    async def deliver_pending(self) -> datetime | None:
        """One round; returns when the soonest notice now backing off may be tried again."""
        async with self._round:
            last_id = 0  # each notice once per round; a failed one waits for its back-off
            while True:  # until nothing is left, including what this round's sends queued (reports)
                async with self.db.transaction() as session:
                    batch = await notices.pending(session, utcnow(), self.transports.keys(), after_id=last_id)
                    if not batch:
                        return await notices.next_retry(session, self.transports.keys())
                for notice in batch:
                    await self._deliver(notice)
                    last_id = notice.id

    async def _deliver(self, notice: Notice) -> None:
        """Send one notice and record how it went (and, for an announcement, maybe the report)."""
        transport = self.transports[notice.platform]  # only notices for platforms served here come
        final, error, remark, sent = False, None, None, None
        buttons = tuple(Button(label, command) for label, command in notice.buttons or ())
        reply = Reply(
            notice.text,
            html=notice.html,
            buttons=buttons,
            private_buttons=notice.private_buttons,
            language=notice.language,
            # Unique for ever: SQLite may give a deleted notice's id to a new one.
            key=f"wgbot-notice-{notice.id}-{notice.created_at.timestamp():.6f}",
        )
        try:
            if notice.direct:
                sent = await transport.send_direct(UserRef(notice.platform, notice.target), reply)
            else:
                sent = await transport.send(RoomRef(notice.platform, notice.target), reply)
        except DirectChatUnavailable as refused:
            if refused.invitation is not None and await self._wait_for_private_chat(notice, refused.invitation):
                return
            final, error = True, str(refused)
        except Undeliverable as refused:
            final, error = True, str(refused)
        except Exception as failure:  # retried after a back-off
            where = "a private chat" if notice.direct else notice.target  # a private chat's id names its person
            log.warning("postman: notice %s to %s:%s failed: %r", notice.id, notice.platform, where, failure)
            error = _reason(failure)
        else:
            remark = await self._pin(transport, notice, sent) if notice.pin else None
        async with self.db.transaction() as session:
            if error is None:
                settled = await notices.mark_sent(session, notice.id, sent.message_id if sent else None, remark)
            else:
                settled = await notices.mark_failed(session, notice.id, error, final=final)
            if notice.announcement_id is not None and settled.status != NoticeStatus.PENDING:
                await announcements.report_if_settled(session, notice.announcement_id, self.say)

    async def _wait_for_private_chat(self, notice: Notice, invitation: Callable[[str, Language], Reply]) -> bool:
        """Hold the notice until its reader opens a private chat, asking them once in a room they
        share with the bot; False when there is no such room (the notice then fails as before)."""
        async with self.db.transaction() as session:
            room = await notices.room_to_reach(session, notice.platform, notice.target)
            if room is None:
                return False
            held, first = await notices.wait_for_private_chat(session, notice.id)
            if first and held.status == NoticeStatus.PENDING:
                person = await people.identify(session, notice.platform, notice.target, notice.target)
                ask = invitation(person.display_name, language(person.language, self.language))
                buttons = [[b.label, b.command] for b in ask.buttons]
                await notices.to_room(session, notice.platform, room, ask.text, ask.html, buttons=buttons)
            if notice.announcement_id is not None and held.status != NoticeStatus.PENDING:
                await announcements.report_if_settled(session, notice.announcement_id, self.say)
        self.wake()  # the question itself goes out now
        return True

    async def _pin(self, transport: Transport, notice: Notice, sent: MessageRef) -> str | None:
        """Pin a delivered message; a room that forbids it still has the message."""
        try:
            await transport.pin(sent)
        except Exception as failure:
            log.info(
                "postman: could not pin notice %s in %s:%s: %r", notice.id, notice.platform, notice.target, failure
            )
            return f"not pinned: {_reason(failure)}"
        return None


def _reason(failure: Exception) -> str:
    """What went wrong, in words a report reader can act on."""
    text = str(failure).strip()
    return f"{type(failure).__name__}: {text}" if text else type(failure).__name__
