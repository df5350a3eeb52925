"""Delivers the outbox: every pending notice, after the transaction that wrote it commits.

Woken after each command, at start (so a restart finishes what was left), and every half
minute to retry failures. A notice is marked sent right after its platform accepted it; a crash
in between could send that one notice again after the restart, never lose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from bot.transports.base import Button, DirectChatUnavailable, Reply, RoomRef, Transport, UserRef
from storage import notices
from storage.db import Database
from storage.models import Notice

log = logging.getLogger(__name__)
RETRY_EVERY = 30.0


class Postman:
    def __init__(self, db: Database, transports: Mapping[str, Transport]) -> None:
        self.db = db
        self.transports = transports
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._round = asyncio.Lock()  # one delivery round at a time, so nothing goes out twice

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="postman")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def settled(self) -> None:
        """Deliver everything queued so far before returning (or give it up for now)."""
        await self.deliver_pending()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.deliver_pending()
            except Exception:
                log.exception("postman: a delivery round failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RETRY_EVERY)

    async def deliver_pending(self) -> None:
        async with self._round:
            last_id = 0  # each notice once per round; a failed one waits for the next round
            while True:
                async with self.db.transaction() as session:
                    batch = await notices.pending(session, after_id=last_id)
                for notice in batch:
                    await self._deliver(notice)
                    last_id = notice.id
                if len(batch) < notices.BATCH:
                    return

    async def _deliver(self, notice: Notice) -> None:
        transport = self.transports.get(notice.platform)
        final, error = False, None
        if transport is None:
            final, error = True, f"{notice.platform} is not connected in this process"
        else:
            buttons = tuple(Button(label, command) for label, command in notice.buttons or ())
            reply = Reply(notice.text, html=notice.html, buttons=buttons)
            try:
                if notice.direct:
                    await transport.send_direct(UserRef(notice.platform, notice.target), reply)
                else:
                    await transport.send(RoomRef(notice.platform, notice.target), reply)
            except DirectChatUnavailable as unavailable:
                final, error = True, str(unavailable)
            except Exception as failure:  # retried on a later round
                log.warning("postman: notice %s to %s:%s failed: %r", notice.id, notice.platform, notice.target, failure)
                error = repr(failure)
        async with self.db.transaction() as session:
            if error is None:
                await notices.mark_sent(session, notice.id)
            else:
                await notices.mark_failed(session, notice.id, error, final=final)
