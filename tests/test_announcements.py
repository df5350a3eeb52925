"""Secretariat announcements: to the right rooms, once, now or later, with a truthful delivery
report, retried when a room fails, and finished after a restart without repeats."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.postman import Postman
from bot.transports.base import MessageRef, Reply, RoomRef, Undeliverable, UserRef
from handlers.announcements import AnnouncementReleases
from storage import rooms
from storage.groups import find_group
from storage.models import Announcement, AnnouncementStatus, AuditEntry, Notice, RoomPurpose, utcnow
from tests.alliance import message, person


class Rooms:
    """Every room of every platform: records what arrives, fails as told."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.finished = asyncio.Event()
        self.received: list[tuple[str, str]] = []
        self.pinned: list[str] = []
        self.failures: dict[str, list[Exception]] = {}

    async def send(self, room: RoomRef, reply: Reply) -> MessageRef:
        if self.failures.get(room.room_id):
            raise self.failures[room.room_id].pop(0)
        self.received.append((room.room_id, reply.text))
        return MessageRef(room, str(len(self.received)))

    async def send_direct(self, user: UserRef, reply: Reply) -> MessageRef:
        return await self.send(RoomRef(self.platform, f"dm:{user.user_id}"), reply)

    async def pin(self, ref: MessageRef) -> None:
        self.pinned.append(ref.room.room_id)


@pytest.fixture
async def alliance(db):
    """Sam of the secretariat; PFAS and Skills each with a Telegram group; the plenary on Matrix."""
    await person(db, "Sam Secretariat", accounts=("console:sam",), roles=("secretariat",))
    await person(db, "Jana Novak", accounts=("console:jana",), roles=())
    async with db.transaction() as session:
        for slug, chat in (("pfas", "-100"), ("skills", "-200")):
            group = await find_group(session, slug)
            await rooms.bind_room(
                session, actor="t", platform="telegram", room_id=chat, purpose=RoomPurpose.GROUP, group=group
            )
        await rooms.bind_room(session, actor="t", platform="matrix", room_id="!plenary:x", purpose=RoomPurpose.PLENARY)


async def sam_says(router, text: str, room: str = "secretariat") -> str:
    reply = await router.handle(message(text, sender="sam", room=room))
    assert reply is not None, text
    return reply.text


async def copies(db) -> list[tuple[str, str]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(Notice.platform, Notice.target).where(Notice.announcement_id.is_not(None)).order_by(Notice.id)
        )
        return [tuple(row) for row in rows]


async def report(db) -> str:
    async with db.transaction() as session:
        texts = list(await session.scalars(select(Notice.text).where(Notice.text.like("Announcement #%delivered to%"))))
    assert len(texts) == 1, texts
    return texts[0]


async def test_an_announcement_to_all_goes_to_every_group_room_and_the_plenary_but_not_the_secretariat(
    router, db, alliance
):
    answer = await sam_says(router, "/announce all The **plenary** meets on 3 December.")
    assert answer == "Announcement #1 to all groups and the plenary is on its way; a delivery report follows."
    assert sorted(await copies(db)) == sorted(
        [
            ("console", "pfas"),
            ("console", "skills"),
            ("console", "supply-chains"),
            ("console", "plenary"),
            ("telegram", "-100"),
            ("telegram", "-200"),
            ("matrix", "!plenary:x"),
        ]
    )
    async with db.transaction() as session:
        notice = (await session.scalars(select(Notice).where(Notice.target == "-100"))).one()
        logged = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "announcement.created"))).one()
    assert notice.text == "From the Secretariat:\nThe **plenary** meets on 3 December."
    assert (
        notice.html == "<p><b>From the Secretariat:</b></p>\n<p>The <strong>plenary</strong> meets on 3 December.</p>"
    )
    assert logged.details["to"] == "all" and logged.actor.startswith("person:1 ")


async def test_an_announcement_to_chosen_groups_reaches_only_their_rooms(router, db, alliance):
    await sam_says(router, "/announce pfas,Skills Drafts are due on Friday.")
    assert sorted(await copies(db)) == [
        ("console", "pfas"),
        ("console", "skills"),
        ("telegram", "-100"),
        ("telegram", "-200"),
    ]


@pytest.mark.parametrize(
    ("command", "reason", "misread"),
    [
        ("/announce", "Missing <to>.", True),
        ("/announce all", "Missing <text>.", True),
        ("/announce pfass Drafts are due", "No working group 'pfass'. Did you mean pfas?", False),
        ('/announce all at="yesterday 10:00" Too late', "'yesterday 10:00' is in the past.", False),
        ('/announce all at="whenever" Hello', "whenever", True),
    ],
)
async def test_a_wrong_announcement_is_refused_with_the_usage_and_nothing_is_queued(
    router, db, alliance, command, reason, misread
):
    answer = await sam_says(router, command)
    assert reason in answer and ("Usage: /announce <to> [at=" in answer) == misread
    assert await copies(db) == []
    async with db.transaction() as session:
        assert (await session.scalars(select(Announcement))).all() == []


async def test_only_the_secretariat_announces(router, db, alliance):
    reply = await router.handle(message("/announce all Hello", sender="jana", room="pfas"))
    assert reply.text.startswith("Only the secretariat may do this.")
    assert await copies(db) == []


async def test_a_room_that_fails_is_retried_and_the_report_says_how_each_room_went(router, db, alliance):
    telegram, matrix = Rooms("telegram"), Rooms("matrix")
    telegram.failures["-200"] = [ConnectionError("network down")]
    matrix.failures["!plenary:x"] = [Undeliverable("the bot was removed from the room")]
    postman = Postman(db, {"telegram": telegram, "matrix": matrix, "console": Rooms("console")})
    await sam_says(router, "/announce all pin Hello, members.")
    await postman.settled()
    async with db.transaction() as session:
        assert (await session.get(Announcement, 1)).status == AnnouncementStatus.DELIVERING  # -200 still to retry
        await session.execute(update(Notice).values(not_before=utcnow()))  # its back-off has passed
    await postman.settled()
    await postman.settled()
    assert sorted(r for r, _ in telegram.received) == ["-100", "-200"]
    assert sorted(telegram.pinned) == ["-100", "-200"]
    text = await report(db)
    assert text.startswith("Announcement #1: delivered to 6 of 7 rooms.")
    assert "✓ Skills (telegram -200) after 2 attempts" in text
    assert "✗ Plenary (matrix !plenary:x): the bot was removed from the room" in text
    async with db.transaction() as session:
        sent_report = (await session.scalars(select(Notice).where(Notice.text == text))).one()
    assert (sent_report.platform, sent_report.target, sent_report.direct) == ("console", "secretariat", False)


async def test_a_restart_mid_delivery_resumes_the_remaining_rooms_without_repeating_any(router, db, alliance):
    telegram, matrix, console = Rooms("telegram"), Rooms("matrix"), Rooms("console")
    transports = {"telegram": telegram, "matrix": matrix, "console": console}
    await sam_says(router, "/announce all Hello, members.")

    class Crash(BaseException):
        """The process dies mid-round (not an error the postman would record)."""

    async def dies_on_the_fourth(room: RoomRef, reply: Reply) -> MessageRef:
        if len(console.received) + len(telegram.received) + len(matrix.received) == 3:
            raise Crash
        return await Rooms.send(console if room.platform == "console" else telegram, room, reply)

    console.send = telegram.send = dies_on_the_fourth
    with pytest.raises(Crash):
        await Postman(db, transports).settled()
    delivered_before = len(console.received) + len(telegram.received)
    assert delivered_before == 3
    after_restart = {"telegram": Rooms("telegram"), "matrix": matrix, "console": Rooms("console")}
    await Postman(db, after_restart).settled()
    again = [*after_restart["telegram"].received, *after_restart["console"].received, *matrix.received]
    assert len(again) == 7 - 3 + 1  # the four rooms left, and the report to the secretariat room
    everyone = [(p, r) for p, r in await copies(db)]
    assert len(set(everyone)) == 7
    assert (await report(db)).startswith("Announcement #1: delivered to 7 of 7 rooms.")


async def test_a_scheduled_announcement_waits_for_its_time_then_goes_out_once(router, db, alliance):
    answer = await sam_says(router, '/announce skills at="2099-01-05 09:00 Europe/Brussels" New year, new drafts.')
    assert answer.startswith(
        "Announcement #1 to skills is scheduled for Mon 05 Jan 2099 09:00 CET (Europe/Brussels, the alliance's zone"
    )
    assert await copies(db) == []
    assert "#1 to skills — scheduled for Mon 05 Jan 2099 09:00 CET" in await sam_says(router, "/announce list")
    async with db.transaction() as session:
        await session.execute(update(Announcement).values(due_at=utcnow() - timedelta(seconds=1)))
    releases = AnnouncementReleases(db)
    planned = await releases.plan()
    assert [job.id for job in planned] == ["announcement:1"]
    results = await asyncio.gather(releases.release(1), releases.release(1))  # fired twice at once
    assert sorted(results) == [False, True]
    assert sorted(await copies(db)) == [("console", "skills"), ("telegram", "-200")]


async def test_a_scheduled_announcement_can_be_cancelled_before_it_goes_out(router, db, alliance):
    await sam_says(router, '/announce all at="in 2 hours" Fire drill at 15:00.')
    assert await sam_says(router, "/announce cancel 1") == "Announcement #1 is cancelled; it will not be sent."
    assert await AnnouncementReleases(db).release(1) is False
    assert await copies(db) == []
    refused = await sam_says(router, "/announce cancel 1")
    assert refused.startswith("Announcement #1 is cancelled; only a scheduled one can be cancelled.")
    async with db.transaction() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.action.like("announcement.%")).order_by(AuditEntry.id)
            )
        )
    assert actions == ["announcement.created", "announcement.cancelled"]
