"""Posted vote messages that keep showing how the vote stands.

After ballots, each room's copy of the vote message is edited to show the turnout and quorum
so far (and the tally, unless the vote is hidden or secret). Edits are gathered: one refresh
per vote at most every few seconds, reading the state as it is then, so a burst of presses
costs one edit per room and stays within Telegram's 20 messages a minute in a group. An edit
that fails is only logged: the message is a convenience, /vote status is the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from bot.transports.base import Button, MessageRef, Reply, RoomRef, Transport
from handlers.votes import describe_outcome
from storage import notices, votes
from storage.db import Database
from storage.models import VoteStatus

log = logging.getLogger(__name__)
EVERY = 5.0  # seconds between two refreshes of one vote's messages


class LiveTallies:
    def __init__(self, db: Database, transports: Mapping[str, Transport], every: float = EVERY) -> None:
        self.db = db
        self.transports = transports
        self.every = every
        self._pending: dict[int, asyncio.Task] = {}

    def touch(self, vote_id: int) -> None:
        """The vote changed: refresh its messages soon (once, however many ballots come meanwhile)."""
        if vote_id not in self._pending:
            self._pending[vote_id] = asyncio.create_task(self._refresh_later(vote_id), name=f"tally-{vote_id}")

    async def stop(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pending.clear()

    async def _refresh_later(self, vote_id: int) -> None:
        try:
            await asyncio.sleep(self.every)
        finally:
            self._pending.pop(vote_id, None)
        try:
            await self.refresh(vote_id)
        except Exception:
            log.exception("could not refresh the messages of vote %s", vote_id)

    async def refresh(self, vote_id: int) -> None:
        async with self.db.transaction() as session:
            vote = await votes.find_vote(session, str(vote_id))
            outcome = await votes.outcome(session, vote)
            posted = await notices.sent_on(session, f"vote:{vote_id}")
        open_ = vote.status == VoteStatus.OPEN
        state = "So far" if open_ else "Closed"
        addition = f"\n\n{state}: " + describe_outcome(vote, outcome, final=not open_)
        for message in posted:
            transport = self.transports.get(message.platform)
            if transport is None or message.platform == "console":  # a console prints, it cannot edit
                continue
            buttons = tuple(Button(label, command) for label, command in message.buttons or ()) if open_ else ()
            try:
                await transport.edit(
                    MessageRef(RoomRef(message.platform, message.target), message.message_id),
                    Reply(message.text + addition, buttons=buttons),
                )
            except Exception as failure:
                log.info(
                    "vote %s: could not edit its message in %s:%s: %r",
                    vote_id,
                    message.platform,
                    message.target,
                    failure,
                )
