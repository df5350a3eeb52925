"""Secretariat announcements: to chosen groups or to all, now or at a set time, with a report.

An announcement's notices are written when it falls due, in one transaction with its change of
status, so it goes out once even if the scheduler fires twice or a restart interrupts it; the
postman then delivers (and retries) each room's copy, and the author's report is written when
the last copy is settled, also once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import audit, groups, notices
from storage.db import rowcount
from storage.errors import Refused
from storage.models import (
    Announcement,
    AnnouncementStatus,
    Notice,
    NoticeStatus,
    Person,
    RoomBinding,
    RoomPurpose,
    WorkingGroup,
    utcnow,
)
from storage.rules.text import N_, Say, Words, in_english, n_words, state

MAX_LENGTH = 4000  # Telegram shows at most 4096 characters in one message
REPORT_ROOMS = 25  # a report names at most this many rooms, to fit one chat message
_GRACE = timedelta(minutes=1)  # "at=14:00" typed at 14:00:30 still means now


# Every copy says first whose word it is: a pinned message in a group room is read without context.
HEADER = Words(N_("From the Secretariat:"))


@dataclass(frozen=True)
class ReportTo:
    """The chat the announcement was made from, which receives its delivery report."""

    platform: str
    direct: bool
    target: str


async def create(
    session: AsyncSession,
    *,
    author: str,
    author_person_id: int | None,
    text: str,
    html: str,
    group_refs: list[str] | None,
    due_at: datetime,
    pin: bool,
    report_to: ReportTo | None,
    now: datetime,
    say: Say = in_english,
) -> Announcement:
    """Record an announcement; one that is due now is released at once (each copy headed in its
    room's language, as `say` says it).

    `author` is the audit label (a person in chat, or the operator at the shell); the report
    goes to `report_to`, the chat it came from (none from the shell)."""
    if not text.strip():
        raise Refused("An announcement needs a text.")
    if len(text) > MAX_LENGTH:
        raise Refused(
            "An announcement is at most {MAX_LENGTH} characters; this one has {count}.",
            MAX_LENGTH=MAX_LENGTH,
            count=len(text),
        )
    if due_at < now - _GRACE:
        raise Refused("at= is in the past; give a time to come, or leave it out to announce now.")
    slugs = None if group_refs is None else [(await groups.find_group(session, ref)).slug for ref in group_refs]
    announcement = Announcement(
        text=text.strip(),
        html=html,
        groups=slugs and list(dict.fromkeys(slugs)),
        pin=pin,
        status=AnnouncementStatus.SCHEDULED,
        author=author,
        author_person_id=author_person_id,
        report_platform=report_to and report_to.platform,
        report_direct=bool(report_to and report_to.direct),
        report_target=report_to and report_to.target,
        created_at=now,
        due_at=max(due_at, now),
    )
    session.add(announcement)
    await session.flush()
    await audit.record(
        session,
        actor=author,
        action="announcement.created",
        subject=f"announcement:{announcement.id}",
        details={"to": announcement.groups or "all", "due_at": announcement.due_at.isoformat(), "text": text},
        at=now,
    )
    if announcement.due_at <= now:
        await release(session, announcement.id, now, say)
    return announcement


def audience(announcement: Announcement) -> Select[tuple[RoomBinding]]:
    """The rooms it goes to: its groups' rooms, or for everyone every group's and the plenary's."""
    query = select(RoomBinding).order_by(RoomBinding.id)
    if announcement.groups is None:
        return query.where(RoomBinding.purpose.in_((RoomPurpose.GROUP, RoomPurpose.PLENARY)))
    group_ids = select(WorkingGroup.id).where(WorkingGroup.slug.in_(announcement.groups))
    return query.where(RoomBinding.group_id.in_(group_ids))


async def release(session: AsyncSession, announcement_id: int, now: datetime, say: Say = in_english) -> int | None:
    """Queue a due announcement to every room it is for, headed in each room's language; None if
    it was already released."""
    claimed = await session.execute(
        update(Announcement)
        .where(Announcement.id == announcement_id, Announcement.status == AnnouncementStatus.SCHEDULED)
        .values(status=AnnouncementStatus.DELIVERING, released_at=now)
    )
    if rowcount(claimed) != 1:
        return None
    announcement = await session.get_one(Announcement, announcement_id, populate_existing=True)
    bindings = list(await session.scalars(audience(announcement).options(selectinload(RoomBinding.group))))
    notices.queue(
        session,
        (
            notices.notice(
                b.platform,
                b.room_id,
                f"{say(HEADER, b.group.language if b.group else None)}\n{announcement.text}",
                f"<p><b>{escape(say(HEADER, b.group.language if b.group else None))}</b></p>\n{announcement.html}"
                if announcement.html
                else None,
                announcement_id=announcement.id,
                pin=announcement.pin,
            )
            for b in bindings
        ),
    )
    await session.flush()
    if not bindings:
        await report_if_settled(session, announcement_id, say)
    return len(bindings)


async def report_if_settled(session: AsyncSession, announcement_id: int, say: Say = in_english) -> bool:
    """Write the author's delivery report once every room's copy is sent or given up."""
    left = await session.scalar(
        select(func.count()).where(Notice.announcement_id == announcement_id, Notice.status == NoticeStatus.PENDING)
    )
    if left:
        return False
    marked = await session.execute(
        update(Announcement)
        .where(
            Announcement.id == announcement_id,
            Announcement.status == AnnouncementStatus.DELIVERING,
            Announcement.reported_at.is_(None),
        )
        .values(status=AnnouncementStatus.DELIVERED, reported_at=utcnow())
    )
    if rowcount(marked) != 1:
        return False
    announcement = await session.get_one(Announcement, announcement_id, populate_existing=True)
    if announcement.report_platform is None or announcement.report_target is None:
        return True  # made at the shell: `wgbot announce --status` shows the report there
    language = await _report_language(session, announcement)
    text = "\n".join(say(line, language) for line in await delivery_report(session, announcement))
    notices.queue(
        session,
        [
            notices.notice(
                announcement.report_platform, announcement.report_target, text, direct=announcement.report_direct
            )
        ],
    )
    return True


async def delivery_report(session: AsyncSession, announcement: Announcement) -> list[Words]:
    """How many rooms have it, then each room that needs a look: failed (with the reason), still
    trying, retried, or delivered with a remark; a line each, said in whoever reads it's
    language. Kept short enough for one chat message."""
    copies = (
        (
            await session.execute(
                select(Notice, RoomBinding)
                .outerjoin(
                    RoomBinding, (RoomBinding.platform == Notice.platform) & (RoomBinding.room_id == Notice.target)
                )
                .options(selectinload(RoomBinding.group))
                .where(Notice.announcement_id == announcement.id)
                .order_by(Notice.id)
            )
        )
        .tuples()
        .all()
    )
    if not copies:
        return [Words("Announcement #{id} reached no room: none is bound to its groups.", {"id": announcement.id})]
    sent = sum(notice.status == NoticeStatus.SENT for notice, _ in copies)
    lines = [
        n_words(
            "Announcement #{id}: delivered to {sent} of {count} room.",
            "Announcement #{id}: delivered to {sent} of {count} rooms.",
            len(copies),
            id=announcement.id,
            sent=sent,
        )
    ]
    smooth = 0
    for notice, binding in copies:
        where = Words(
            "{room} ({platform} {target})",
            {"room": _room_name(binding), "platform": notice.platform, "target": notice.target},
        )
        reason = _short(notice.last_error)
        if notice.status == NoticeStatus.FAILED:
            lines.append(Words("✗ {where}: {reason}", {"where": where, "reason": reason}))
        elif notice.status == NoticeStatus.PENDING and notice.attempts == 0:
            lines.append(Words("… {where}: not sent yet", {"where": where}))
        elif notice.status == NoticeStatus.PENDING:
            lines.append(Words("… {where}: still trying ({reason})", {"where": where, "reason": reason}))
        elif notice.attempts > 1:
            lines.append(
                n_words(
                    "✓ {where} after {count} attempt; {reason}",
                    "✓ {where} after {count} attempts; {reason}",
                    notice.attempts,
                    where=where,
                    reason=reason,
                )
                if notice.last_error
                else n_words(
                    "✓ {where} after {count} attempt", "✓ {where} after {count} attempts", notice.attempts, where=where
                )
            )
        elif notice.last_error:
            lines.append(Words("✓ {where}; {reason}", {"where": where, "reason": reason}))
        else:
            smooth += 1
            if len(copies) <= REPORT_ROOMS:
                lines.append(Words("✓ {where}", {"where": where}))
    if len(copies) > REPORT_ROOMS and smooth:
        lines.append(
            n_words(
                "✓ the other {count} room at the first attempt",
                "✓ the other {count} rooms at the first attempt",
                smooth,
            )
        )
    if len(lines) > REPORT_ROOMS + 1:
        more = len(lines) - REPORT_ROOMS
        lines = [
            *lines[:REPORT_ROOMS],
            n_words("… and {count} more room to check", "… and {count} more rooms to check", more),
        ]
    return lines


def _short(reason: str | None, limit: int = 200) -> str | Words:
    """The platform's own words for what went wrong (not translated: they are its), cut short."""
    if not reason:
        return Words("no reason given")
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def _room_name(binding: RoomBinding | None) -> str | Words:
    if binding is None:
        return Words("a room no longer bound")
    if binding.group is not None:
        return binding.group.name
    return Words(_ROOM_NAMES[binding.purpose])


# The rooms that serve no group, named as a report lists them.
_ROOM_NAMES = {
    RoomPurpose.PLENARY: N_("Plenary"),
    RoomPurpose.SECRETARIAT: N_("Secretariat"),
    RoomPurpose.GROUP: N_("Group"),
}


async def _report_language(session: AsyncSession, announcement: Announcement) -> str | None:
    """The language of whoever reads the report: the author's own in a private chat, the room's
    group's in a room (None: the alliance's)."""
    if announcement.report_direct:
        if announcement.author_person_id is None:
            return None
        return await session.scalar(select(Person.language).where(Person.id == announcement.author_person_id))
    return await session.scalar(
        select(WorkingGroup.language)
        .join(RoomBinding, RoomBinding.group_id == WorkingGroup.id)
        .where(RoomBinding.platform == announcement.report_platform, RoomBinding.room_id == announcement.report_target)
    )


async def find(session: AsyncSession, announcement_id: int, *, lock: bool = False) -> Announcement:
    found = await session.get(Announcement, announcement_id, with_for_update=lock)
    if found is None:
        shell = f"no announcement {announcement_id}"
        raise Refused(
            "No announcement '{announcement_id}'; /announce list shows them.",
            announcement_id=announcement_id,
            shell=shell,
        )
    return found


async def cancel(session: AsyncSession, announcement_id: int, *, actor: str, now: datetime) -> Announcement:
    """Withdraw a scheduled announcement before it goes out."""
    announcement = await find(session, announcement_id, lock=True)
    if announcement.status != AnnouncementStatus.SCHEDULED:
        raise Refused(
            "Announcement #{id} is {value}; only a scheduled one can be cancelled.",
            id=announcement.id,
            value=state(announcement.status.value, of="announcement"),
        )
    announcement.status = AnnouncementStatus.CANCELLED
    await audit.record(
        session, actor=actor, action="announcement.cancelled", subject=f"announcement:{announcement.id}", at=now
    )
    return announcement


async def recent(session: AsyncSession, limit: int = 20) -> list[Announcement]:
    """The scheduled ones first (soonest first), then the latest others."""
    scheduled = await session.scalars(
        select(Announcement).where(Announcement.status == AnnouncementStatus.SCHEDULED).order_by(Announcement.due_at)
    )
    others = await session.scalars(
        select(Announcement)
        .where(Announcement.status != AnnouncementStatus.SCHEDULED)
        .order_by(Announcement.id.desc())
        .limit(limit)
    )
    return list(scheduled) + list(others)


async def scheduled(session: AsyncSession, ids: Collection[int] | None = None) -> list[tuple[int, datetime]]:
    """(id, due time) of every announcement waiting for its time (or of those of `ids`)."""
    query = select(Announcement.id, Announcement.due_at).where(Announcement.status == AnnouncementStatus.SCHEDULED)
    if ids is not None:
        query = query.where(Announcement.id.in_(ids))
    return list((await session.execute(query)).tuples())
