"""The outbox: messages to rooms and people, written in the transaction of the act they report."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChatAccount, Notice, NoticeStatus, Person, RoomBinding, RoomPurpose, utcnow

MAX_ATTEMPTS = 5
BATCH = 100


def _notice(
    platform: str, direct: bool, target: str, text: str, html: str | None, buttons: list | None = None
) -> Notice:
    return Notice(
        platform=platform,
        direct=direct,
        target=target,
        text=text,
        html=html,
        buttons=buttons,
        status=NoticeStatus.PENDING,
    )


async def to_room(session: AsyncSession, platform: str, room_id: str, text: str, html: str | None = None) -> None:
    session.add(_notice(platform, False, room_id, text, html))


async def to_group(
    session: AsyncSession, group_id: int, text: str, html: str | None = None, buttons: list | None = None
) -> int:
    """To every room bound to the group, on every platform; returns how many rooms.

    `buttons` are [label, command] pairs, shown as each platform shows choices.
    """
    bindings = list(await session.scalars(select(RoomBinding).where(RoomBinding.group_id == group_id)))
    session.add_all(_notice(b.platform, False, b.room_id, text, html, buttons) for b in bindings)
    return len(bindings)


async def to_every_room(session: AsyncSession, text: str, html: str | None = None, buttons: list | None = None) -> int:
    """To every bound room: each group's, the plenary's and the secretariat's."""
    bindings = list(await session.scalars(select(RoomBinding)))
    session.add_all(_notice(b.platform, False, b.room_id, text, html, buttons) for b in bindings)
    return len(bindings)


async def to_secretariat(session: AsyncSession, text: str, html: str | None = None) -> None:
    """To the rooms bound to the secretariat."""
    bindings = await session.scalars(select(RoomBinding).where(RoomBinding.purpose == RoomPurpose.SECRETARIAT))
    session.add_all(_notice(b.platform, False, b.room_id, text, html) for b in bindings)


async def to_account(session: AsyncSession, platform: str, user_id: str, text: str, html: str | None = None) -> None:
    """To one chat account's private chat with the bot."""
    session.add(_notice(platform, True, user_id, text, html))


async def to_person(session: AsyncSession, person_id: int, text: str, html: str | None = None) -> int:
    """To a person's private chat on each platform they use the bot on."""
    accounts = list(await session.scalars(select(ChatAccount).where(ChatAccount.person_id == person_id)))
    session.add_all(_notice(a.platform, True, a.platform_user_id, text, html) for a in accounts)
    return len(accounts)


async def to_representatives(session: AsyncSession, organisation_id: int, text: str, html: str | None = None) -> int:
    """To the private chats of everyone representing the organisation; returns how many."""
    accounts = await session.scalars(
        select(ChatAccount).join(Person, Person.id == ChatAccount.person_id).where(Person.organisation_id == organisation_id)
    )
    added = [_notice(a.platform, True, a.platform_user_id, text, html) for a in accounts]
    session.add_all(added)
    return len(added)


async def pending(session: AsyncSession, after_id: int = 0, limit: int = BATCH) -> list[Notice]:
    """Pending notices in the order they were written, from after `after_id`."""
    return list(
        await session.scalars(
            select(Notice)
            .where(Notice.status == NoticeStatus.PENDING, Notice.id > after_id)
            .order_by(Notice.id)
            .limit(limit)
        )
    )


async def mark_sent(session: AsyncSession, notice_id: int) -> None:
    notice = await session.get(Notice, notice_id)
    notice.status, notice.sent_at, notice.attempts = NoticeStatus.SENT, utcnow(), notice.attempts + 1


async def mark_failed(session: AsyncSession, notice_id: int, error: str, *, final: bool) -> None:
    """Record a failed attempt; after MAX_ATTEMPTS (or a final one) the notice is given up."""
    notice = await session.get(Notice, notice_id)
    notice.attempts += 1
    notice.last_error = error[:1000]
    if final or notice.attempts >= MAX_ATTEMPTS:
        notice.status = NoticeStatus.FAILED
