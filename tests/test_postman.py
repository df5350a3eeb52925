"""The outbox: a notice written with its act is delivered once, retried when a platform fails,
given up with the reason when it cannot be delivered, and resumed after a restart."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from bot.app import App
from bot.postman import Postman
from bot.transports.base import DirectChatUnavailable, MessageRef, Reply, RoomRef, UserRef
from handlers import AREAS
from storage import notices
from storage.models import Notice, NoticeStatus, utcnow


class RecordingTransport:
    """A platform that records what it was asked to send and fails as told."""

    def __init__(self, platform: str = "telegram") -> None:
        self.platform = platform
        self.finished = asyncio.Event()
        self.sent: list[tuple[str, str]] = []
        self.failures: list[Exception] = []

    async def start(self, on_incoming) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, room: RoomRef, reply: Reply) -> MessageRef:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((room.room_id, reply.text))
        return MessageRef(room, str(len(self.sent)))

    async def send_direct(self, user: UserRef, reply: Reply) -> MessageRef:
        if user.user_id == "never-started":
            raise DirectChatUnavailable("Telegram user never-started has not started a private chat with the bot yet")
        return await self.send(RoomRef(self.platform, f"dm:{user.user_id}"), reply)


async def statuses(db) -> list[tuple[str, NoticeStatus, int, str | None]]:
    async with db.transaction() as session:
        rows = await session.scalars(select(Notice).order_by(Notice.id))
        return [(n.target, n.status, n.attempts, n.last_error) for n in rows]


async def test_notices_are_delivered_once_in_order(db):
    telegram = RecordingTransport()
    async with db.transaction() as session:
        await notices.to_room(session, "telegram", "-100", "first")
        await notices.to_account(session, "telegram", "42", "second")
    postman = Postman(db, {"telegram": telegram})
    await postman.settled()
    await postman.settled()
    assert telegram.sent == [("-100", "first"), ("dm:42", "second")]
    assert [s[1] for s in await statuses(db)] == [NoticeStatus.SENT, NoticeStatus.SENT]


async def test_the_postman_stops_even_when_woken_as_it_is_stopped(db):
    """A command's wake-up and the shutdown in the same instant: the bot must still exit
    (a console at end of input once hung here until killed)."""
    postman = Postman(db, {"telegram": RecordingTransport()})
    postman.start()
    await postman.settled()
    await asyncio.sleep(0.05)  # the postman naps, waiting to be woken
    postman.wake()
    async with asyncio.timeout(5):
        await postman.stop()


async def test_a_failed_send_is_retried_after_a_back_off(db):
    telegram = RecordingTransport()
    telegram.failures = [ConnectionError("network down")]
    async with db.transaction() as session:
        await notices.to_room(session, "telegram", "-100", "agenda")
    postman = Postman(db, {"telegram": telegram})
    await postman.settled()
    assert await statuses(db) == [("-100", NoticeStatus.PENDING, 1, "ConnectionError: network down")]
    await postman.settled()
    assert telegram.sent == [], "retried before its back-off ended"
    async with db.transaction() as session:
        retry_at = await notices.next_retry(session, {"telegram"})
        assert timedelta(seconds=3) < retry_at - utcnow() <= notices.BACKOFF[0]
        await session.execute(update(Notice).values(not_before=utcnow()))
    await postman.settled()
    assert telegram.sent == [("-100", "agenda")]
    assert (await statuses(db))[0][1:3] == (NoticeStatus.SENT, 2)


async def test_what_cannot_be_delivered_is_given_up_and_another_platform_s_notice_waits(db):
    async with db.transaction() as session:
        await notices.to_account(session, "telegram", "never-started", "your vote is due")
        await notices.to_room(session, "matrix", "!room:example.org", "hello")
    await Postman(db, {"telegram": RecordingTransport()}).settled()
    assert await statuses(db) == [
        (
            "never-started",
            NoticeStatus.FAILED,
            1,
            "Telegram user never-started has not started a private chat with the bot yet",
        ),
        # A platform this process does not serve is not its to fail: the notice waits for one that does.
        ("!room:example.org", NoticeStatus.PENDING, 0, None),
    ]


async def test_notices_left_by_a_previous_run_go_out_when_the_bot_starts(db, settings):
    async with db.transaction() as session:
        await notices.to_room(session, "telegram", "-100", "written before the crash")
    telegram = RecordingTransport()
    app = App(settings, db, [telegram], AREAS)
    running = asyncio.create_task(app.run())
    await app.started.wait()
    async with asyncio.timeout(5):
        while not telegram.sent:
            await asyncio.sleep(0.01)
    app.request_stop()
    await running
    assert telegram.sent == [("-100", "written before the crash")]
