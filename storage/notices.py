"""The outbox: messages to rooms and people, written in the transaction of the act they report."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.db import rowcount
from storage.errors import Refused
from storage.models import (
    ButtonPairs,
    ChatAccount,
    Notice,
    NoticeStatus,
    Participation,
    Person,
    RoomBinding,
    RoomPurpose,
    WorkingGroup,
    utcnow,
)

# Written out, not bound: with a bound parameter (which could be any status) SQLite's planner
# walks every notice ever sent in id order; with the literal it reads the status index.
_PENDING = text("notices.status = 'pending'")
MAX_ATTEMPTS = 5
# Waits after the 1st, 2nd, … failed attempt: long enough for a network blip or a restart to pass.
BACKOFF = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))
BATCH = 100
# A private notice to someone who never opened a private chat with the bot waits this long for
# them to do so (they are asked in a room they share with the bot); each wait is an attempt.
PRIVATE_CHAT_WAIT = timedelta(days=3)
WAITING = "waiting for them to open a private chat with the bot"


def notice(
    platform: str,
    target: str,
    text: str,
    html: str | None = None,
    *,
    direct: bool = False,
    buttons: ButtonPairs | None = None,
    private_buttons: bool = False,
    pin: bool = False,
    announcement_id: int | None = None,
    topic: str | None = None,
    language: str | None = None,
) -> Notice:
    """One pending message: to a room, or with `direct` to a user's private chat."""
    return Notice(
        platform=platform,
        direct=direct,
        target=target,
        text=text,
        html=html,
        buttons=buttons,
        private_buttons=private_buttons,
        pin=pin,
        announcement_id=announcement_id,
        topic=topic,
        language=language,
        status=NoticeStatus.PENDING,
    )


QUEUED = "queued notices"  # session.info key: the notices this unit of work queued


def queue(session: AsyncSession, queued: Iterable[Notice]) -> None:
    """Add notices to the unit of work, remembering them (see `queued_here`)."""
    added = list(queued)
    session.add_all(added)
    session.info.setdefault(QUEUED, []).extend(added)


def queued_here(session: AsyncSession) -> list[Notice]:
    """The notices this unit of work queued, flushed or not."""
    return list(session.info.get(QUEUED, []))


async def to_room(
    session: AsyncSession,
    platform: str,
    room_id: str,
    text: str,
    html: str | None = None,
    buttons: ButtonPairs | None = None,
) -> None:
    queue(session, [notice(platform, room_id, text, html, buttons=buttons)])


# A text worded in a room's language: given the group's choice of language, or None where it
# made none (the caller knows the alliance's); it says which language it wrote (None: it does
# not know, the alliance's) and the text.
Worded = Callable[[str | None], tuple[str | None, str]]
# Buttons labelled in a room's language, the same way.
WordedButtons = Callable[[str | None], tuple[str | None, ButtonPairs]]


async def to_group(
    session: AsyncSession,
    group_id: int,
    text: str | Worded,
    html: str | None = None,
    buttons: ButtonPairs | WordedButtons | None = None,
    topic: str | None = None,
    private_buttons: bool = False,
) -> int:
    """To every room bound to the group, on every platform; returns how many rooms.

    `buttons` are [label, command] pairs, shown as each platform shows choices (with
    `private_buttons`, only where pressing one stays private). A `text` that is a function is
    worded in the group's language.
    """
    rooms = await session.execute(
        select(RoomBinding.platform, RoomBinding.room_id, WorkingGroup.language)
        .join(WorkingGroup, WorkingGroup.id == RoomBinding.group_id)
        .where(RoomBinding.group_id == group_id)
    )
    return _to_rooms(session, rooms.tuples().all(), text, html, buttons, topic, private_buttons)


async def to_every_room(
    session: AsyncSession,
    text: str | Worded,
    html: str | None = None,
    buttons: ButtonPairs | WordedButtons | None = None,
    topic: str | None = None,
    private_buttons: bool = False,
) -> int:
    """To every bound room: each group's (in its language), the plenary's and the secretariat's."""
    rooms = await session.execute(
        select(RoomBinding.platform, RoomBinding.room_id, WorkingGroup.language).outerjoin(
            WorkingGroup, WorkingGroup.id == RoomBinding.group_id
        )
    )
    return _to_rooms(session, rooms.tuples().all(), text, html, buttons, topic, private_buttons)


def _to_rooms(
    session: AsyncSession,
    rooms: Sequence[tuple[str, str, str | None]],
    text: str | Worded,
    html: str | None,
    buttons: ButtonPairs | WordedButtons | None,
    topic: str | None,
    private_buttons: bool,
) -> int:
    languages = {language for *_, language in rooms}
    worded = {language: text(language) for language in languages} if callable(text) else {}
    labelled = {language: buttons(language)[1] for language in languages} if callable(buttons) else {}
    queue(
        session,
        [
            notice(
                platform,
                room_id,
                worded[language][1] if callable(text) else text,
                html,
                buttons=labelled[language] if callable(buttons) else buttons,
                private_buttons=private_buttons,
                topic=topic,
                language=worded[language][0] if callable(text) else None,
            )
            for platform, room_id, language in rooms
        ],
    )
    return len(rooms)


async def to_secretariat(session: AsyncSession, text: str, html: str | None = None, topic: str | None = None) -> None:
    """To the rooms bound to the secretariat."""
    bindings = await session.scalars(select(RoomBinding).where(RoomBinding.purpose == RoomPurpose.SECRETARIAT))
    queue(session, [notice(b.platform, b.room_id, text, html, topic=topic) for b in bindings])


async def to_account(
    session: AsyncSession, platform: str, user_id: str, text: str, html: str | None = None, topic: str | None = None
) -> None:
    """To one chat account's private chat with the bot."""
    queue(session, [notice(platform, user_id, text, html, direct=True, topic=topic)])


# A text worded for one reader: given their zone and their language (each None where they set none).
ForReader = Callable[[str | None, str | None], str]


async def to_person(session: AsyncSession, person_id: int, text: str | ForReader, html: str | None = None) -> int:
    """To a person's private chat on each platform they use the bot on; a `text` that is a
    function is worded for them (their zone, their language)."""
    return await _to_readers(session, ChatAccount.person_id == person_id, text, html)


async def to_representatives(
    session: AsyncSession,
    organisation_id: int,
    text: str | ForReader,
    html: str | None = None,
    but: int | None = None,
    buttons: Callable[[str | None], ButtonPairs] | None = None,
) -> int:
    """To the private chats of everyone representing the organisation (`but` that person, who
    knows already); returns how many.

    A `text` that is a function is worded for each reader: a time in their zone, in their
    language; `buttons` are labelled for the reader's language too."""
    whose = Person.organisation_id == organisation_id
    return await _to_readers(session, whose if but is None else whose & (Person.id != but), text, html, buttons)


async def _to_readers(
    session: AsyncSession,
    whose: ColumnElement[bool],
    text: str | ForReader,
    html: str | None,
    buttons: Callable[[str | None], ButtonPairs] | None = None,
) -> int:
    """To the private chat of every account of the people `whose` picks, each worded for its reader."""
    accounts = await session.execute(
        select(ChatAccount, Person.timezone, Person.language)
        .join(Person, Person.id == ChatAccount.person_id)
        .where(whose)
    )
    added = [
        notice(
            a.platform,
            a.platform_user_id,
            text if isinstance(text, str) else text(zone, language),
            html,
            direct=True,
            buttons=buttons(language) if buttons else None,
        )
        for a, zone, language in accounts.tuples()
    ]
    queue(session, added)
    return len(added)


async def pending(
    session: AsyncSession, now: datetime, platforms: Collection[str], after_id: int = 0, limit: int = BATCH
) -> list[Notice]:
    """Pending notices for `platforms` due by `now`, in the order they were written, from after
    `after_id`. Another platform's notices wait for a process that serves it."""
    return list(
        await session.scalars(
            select(Notice)
            .where(
                _PENDING,
                Notice.platform.in_(platforms),
                Notice.id > after_id,
                or_(Notice.not_before.is_(None), Notice.not_before <= now),
            )
            .order_by(Notice.id)
            .limit(limit)
        )
    )


async def next_retry(session: AsyncSession, platforms: Collection[str]) -> datetime | None:
    """When the soonest notice for `platforms` that is backing off may be tried again."""
    return await session.scalar(
        select(func.min(Notice.not_before)).where(
            _PENDING, Notice.platform.in_(platforms), Notice.not_before.is_not(None)
        )
    )


async def mark_sent(session: AsyncSession, notice_id: int, message_id: str | None, remark: str | None = None) -> Notice:
    """Delivered as `message_id`; `remark` keeps what went half-wrong (e.g. it could not be pinned)."""
    sent = await session.get_one(Notice, notice_id)
    sent.status, sent.sent_at, sent.attempts = NoticeStatus.SENT, utcnow(), sent.attempts + 1
    sent.message_id, sent.last_error = message_id, remark
    return sent


async def erase(session: AsyncSession, topic: str, why: str) -> None:
    """Blank the text of every notice about `topic` (those not yet delivered are not delivered).
    Rows are kept, never deleted: the postman may be recording one of them at this moment, and a
    deleted id could be given to a new notice."""
    await session.execute(
        update(Notice)
        .where(Notice.topic == topic, Notice.status == NoticeStatus.PENDING)
        .values(status=NoticeStatus.FAILED, last_error=why)
    )
    await session.execute(update(Notice).where(Notice.topic == topic).values(text=f"({why})", html=None))


async def sent_on(session: AsyncSession, topic: str) -> list[Notice]:
    """The delivered messages about `topic`, to edit them."""
    return list(
        await session.scalars(
            select(Notice).where(
                Notice.topic == topic, Notice.status == NoticeStatus.SENT, Notice.message_id.is_not(None)
            )
        )
    )


async def wait_for_private_chat(session: AsyncSession, notice_id: int) -> tuple[Notice, bool]:
    """Hold a private notice until its reader opens a private chat (or the wait runs out).
    Also whether it is the first held for that account: only then is the reader asked."""
    held = await session.get_one(Notice, notice_id)
    others = await session.scalar(
        select(func.count()).select_from(Notice).where(*_waiting_for(held.platform, held.target), Notice.id != held.id)
    )
    held.attempts += 1
    held.last_error = WAITING
    if held.attempts >= MAX_ATTEMPTS:
        held.status = NoticeStatus.FAILED
    else:
        held.not_before = utcnow() + PRIVATE_CHAT_WAIT
    return held, not others


async def release_waiting(session: AsyncSession, platform: str, user_id: str) -> int:
    """The reader has opened a private chat: what waited for it is due now."""
    released = await session.execute(update(Notice).where(*_waiting_for(platform, user_id)).values(not_before=utcnow()))
    return rowcount(released)


def _waiting_for(platform: str, user_id: str) -> tuple[ColumnElement[bool], ...]:
    return (
        Notice.platform == platform,
        Notice.target == user_id,
        Notice.direct.is_(True),
        Notice.status == NoticeStatus.PENDING,
        Notice.last_error == WAITING,
    )


async def room_to_reach(session: AsyncSession, platform: str, user_id: str) -> str | None:
    """A room on `platform` where the account's person is likely to read a mention: one of their
    organisation's groups' rooms, else the plenary's."""
    person = await session.scalar(
        select(Person)
        .join(ChatAccount)
        .where(ChatAccount.platform == platform, ChatAccount.platform_user_id == user_id)
    )
    groups = (
        select(Participation.group_id).where(Participation.organisation_id == person.organisation_id)
        if person is not None and person.organisation_id is not None
        else None
    )
    candidates = select(RoomBinding.room_id).where(RoomBinding.platform == platform)
    if groups is not None:
        room = await session.scalar(candidates.where(RoomBinding.group_id.in_(groups)).order_by(RoomBinding.id))
        if room is not None:
            return room
    plenary = await session.scalar(
        candidates.where(RoomBinding.purpose == RoomPurpose.PLENARY).order_by(RoomBinding.id)
    )
    return plenary


async def mark_failed(session: AsyncSession, notice_id: int, error: str, *, final: bool) -> Notice:
    """Record a failed attempt: the next waits longer; after MAX_ATTEMPTS (or a final one) it is given up."""
    failed = await session.get_one(Notice, notice_id)
    failed.attempts += 1
    failed.last_error = error[:1000]
    if final or failed.attempts >= MAX_ATTEMPTS:
        failed.status = NoticeStatus.FAILED
    else:
        failed.not_before = utcnow() + BACKOFF[failed.attempts - 1]
    return failed


# ── the operator's view of the outbox (`wgbot outbox`) ───────────────────────────────────────


async def undelivered(session: AsyncSession, limit: int = 200) -> list[Notice]:
    """Pending and failed notices, oldest first."""
    found = await session.scalars(
        select(Notice)
        .where(Notice.status.in_((NoticeStatus.PENDING, NoticeStatus.FAILED)))
        .order_by(Notice.id)
        .limit(limit)
    )
    return list(found)


async def retry(session: AsyncSession, notice_ids: Collection[int], *, actor: str) -> list[int]:
    """Undelivered notices due again now, as if never tried; the ids found."""
    found = list(
        await session.scalars(
            select(Notice).where(
                Notice.id.in_(notice_ids), Notice.status.in_((NoticeStatus.PENDING, NoticeStatus.FAILED))
            )
        )
    )
    for again in found:
        again.status, again.attempts, again.not_before = NoticeStatus.PENDING, 0, utcnow()
        await audit.record(session, actor=actor, action="notice.retried", subject=f"notice:{again.id}")
    return [n.id for n in found]


async def failed_ids(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(Notice.id).where(Notice.status == NoticeStatus.FAILED)))


async def drop(session: AsyncSession, notice_id: int, *, actor: str) -> Notice:
    """Give up an undelivered notice on purpose (it stays on record, failed, with who dropped it)."""
    dropped = await session.get(Notice, notice_id)
    if dropped is None or dropped.status == NoticeStatus.SENT:
        raise Refused("No undelivered notice #{notice_id}.", notice_id=notice_id)
    dropped.status, dropped.last_error = NoticeStatus.FAILED, f"dropped by {actor}"
    await audit.record(session, actor=actor, action="notice.dropped", subject=f"notice:{notice_id}")
    return dropped


async def backlog(session: AsyncSession) -> list[tuple[str, NoticeStatus, int]]:
    """How many notices wait or failed, by platform and status (for /metrics)."""
    counted = await session.execute(
        select(Notice.platform, Notice.status, func.count())
        .where(Notice.status.in_((NoticeStatus.PENDING, NoticeStatus.FAILED)))
        .group_by(Notice.platform, Notice.status)
    )
    return [(platform, status, int(count)) for platform, status, count in counted.tuples()]
