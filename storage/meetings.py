"""Meetings: schedule, cancel or move occurrences, RSVPs, agendas, minutes, guests, reminders.

A meeting is referred to by its number ("12"), one occurrence by "12.3" (the third of the
series). Where a command takes a meeting and means one occurrence, "12" means the next one.
Every change is audited; reminders are marked done in the transaction that queues them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import audit
from storage.errors import Refused
from storage.models import (
    AgendaItem,
    Meeting,
    MeetingGuest,
    MeetingReminder,
    MeetingStatus,
    Minutes,
    OccurrenceChange,
    Organisation,
    Participation,
    Person,
    Presence,
    Rsvp,
    WorkingGroup,
    table_of,
)
from storage.rules.access import Actor
from storage.rules.recurrence import Occurrence, RuleError, Series, make_rule, occurrence, occurrences, upcoming
from storage.rules.text import N_, OneOf, Words, choice, n_words, quote

ANSWERS = ("yes", "no", "maybe")
LATE_AFTER = timedelta(seconds=15)  # a reminder sent later than this after its time says it is late
MAX_TITLE = 200


@dataclass(frozen=True)
class MeetingPlan:
    """What a chair asks for with /meeting schedule."""

    title: str
    local_start: datetime  # naive wall-clock time in `zone`
    zone: str
    every: str | None = None
    until: date | None = None
    duration_minutes: int = 60
    link: str | None = None


def series_of(meeting: Meeting) -> Series:
    return Series(meeting.local_start, meeting.zone, meeting.rule)


async def schedule(
    session: AsyncSession, *, actor: Actor, group: WorkingGroup, plan: MeetingPlan, now: datetime
) -> Meeting:
    title = " ".join(plan.title.split())
    if not title:
        raise Refused("A meeting needs a title.")
    if len(title) > MAX_TITLE:
        raise Refused("A title is at most {MAX_TITLE} characters.", MAX_TITLE=MAX_TITLE)
    if not 5 <= plan.duration_minutes <= 24 * 60:
        raise Refused("duration= is between 5m and 24h, e.g. 90m or 2h.")
    if plan.until is not None and plan.every is None:
        raise Refused("until= ends a recurring meeting; add every=week|2weeks|month|<RRULE>.")
    try:
        rule = make_rule(plan.every, plan.local_start, plan.zone, plan.until) if plan.every else None
    except RuleError as error:
        raise Refused(str(error)) from None
    starts = [o.start for o in occurrences(Series(plan.local_start, plan.zone, rule))]
    if starts[0] <= now:
        raise Refused("That time is in the past; give a time to come.")
    meeting = Meeting(
        group_id=group.id,
        title=title,
        zone=plan.zone,
        local_start=plan.local_start,
        rule=rule,
        duration_minutes=plan.duration_minutes,
        link=plan.link,
        status=MeetingStatus.ACTIVE,
        first_start=starts[0],
        last_start=starts[-1],
        next_start=starts[0],
        created_by=actor.label,
        created_at=now,
    )
    session.add(meeting)
    await session.flush()
    await audit.record(
        session,
        actor=actor.label,
        action="meeting.scheduled",
        subject=f"meeting:{meeting.id}",
        details={
            "group": group.slug,
            "title": title,
            "start": plan.local_start.isoformat(),
            "zone": plan.zone,
            "rule": rule,
            "occurrences": len(starts),
        },
        at=now,
    )
    return meeting


async def find(session: AsyncSession, meeting_id: int) -> Meeting:
    meeting = await session.get(Meeting, meeting_id, options=[selectinload(Meeting.group)])
    if meeting is None:
        raise Refused("No meeting {meeting_id}; /meeting list shows them.", meeting_id=meeting_id)
    return meeting


async def changes_of(session: AsyncSession, meeting_ids: Collection[int]) -> dict[int, dict[int, OccurrenceChange]]:
    found: dict[int, dict[int, OccurrenceChange]] = {}
    rows = await session.scalars(select(OccurrenceChange).where(OccurrenceChange.meeting_id.in_(meeting_ids)))
    for change in rows:
        found.setdefault(change.meeting_id, {})[change.occurrence] = change
    return found


async def pick(session: AsyncSession, meeting: Meeting, number: int | None, now: datetime) -> Occurrence:
    """Occurrence `number`, or the next one to come (or under way) when no number is given."""
    if meeting.status == MeetingStatus.CANCELLED:
        raise Refused("Meeting {id} ({title}) is cancelled.", id=meeting.id, title=meeting.title)
    changes = (await changes_of(session, [meeting.id])).get(meeting.id, {})
    if number is None:
        ahead = upcoming(series_of(meeting), changes, now - timedelta(minutes=meeting.duration_minutes))
        if not ahead:
            raise Refused(
                "Meeting {id} ({title}) has no occurrence to come; name one, e.g. {id}.1.",
                id=meeting.id,
                title=meeting.title,
            )
        return ahead[0]
    found = occurrence(series_of(meeting), changes, number)
    if found is None:
        raise Refused(
            "Meeting {id} has no occurrence {number}; /meeting info {id} lists them.", id=meeting.id, number=number
        )
    return found


async def last_held(session: AsyncSession, meeting: Meeting, now: datetime) -> Occurrence:
    """The latest occurrence that has begun (what minutes are about when none is named)."""
    changes = (await changes_of(session, [meeting.id])).get(meeting.id)
    held = [o for o in occurrences(series_of(meeting), changes) if o.start <= now and not o.cancelled]
    if not held:
        raise Refused("Meeting {id} has not taken place yet.", id=meeting.id)
    return max(held, key=lambda o: o.start)


def label(meeting: Meeting, occurrence_: Occurrence) -> str:
    """How people write one occurrence: "12" for a one-off, "12.3" in a series."""
    return str(meeting.id) if meeting.rule is None else f"{meeting.id}.{occurrence_.number}"


async def upcoming_in(
    session: AsyncSession, group: WorkingGroup | None, now: datetime, limit: int = 10
) -> list[tuple[Meeting, Occurrence]]:
    """The next occurrences of the group's meetings (of every group's without one), soonest first.

    Series are read in the order of their `next_start` (a lower bound of their next occurrence)
    and expanded until no series left can come before the `limit`-th occurrence found, so the
    cost follows `limit`, not the number of meetings. Each series read gets its bound tightened
    to its actual next occurrence, or to none once it is over, so a series whose occurrences
    have passed is read once more and then never again.
    """
    query = (
        select(Meeting)
        .options(selectinload(Meeting.group))
        .where(Meeting.status == MeetingStatus.ACTIVE, Meeting.next_start.is_not(None))
        .order_by(Meeting.next_start, Meeting.id)
    )
    if group is not None:
        query = query.where(Meeting.group_id == group.id)
    found: list[tuple[Meeting, Occurrence]] = []
    offset = 0
    while True:
        with session.no_autoflush:  # tightened bounds are written at the commit, not mid-walk
            batch = list(await session.scalars(query.offset(offset).limit(limit)))
        offset += len(batch)
        if len(found) >= limit:
            batch = [m for m in batch if m.next_start is not None and m.next_start < found[-1][1].start]
        if not batch:
            return found
        with session.no_autoflush:
            changes = await changes_of(session, [m.id for m in batch])
        for meeting in batch:
            coming = upcoming(
                series_of(meeting), changes.get(meeting.id), now - timedelta(minutes=meeting.duration_minutes), limit
            )
            meeting.next_start = coming[0].start if coming else None
            found += [(meeting, o) for o in coming]
        found = sorted(found, key=lambda pair: pair[1].start)[:limit]


async def of_group(session: AsyncSession, group: WorkingGroup, *, cancelled: bool = False) -> list[Meeting]:
    """The group's meetings; cancelled ones too if asked (a calendar feed shows them cancelled)."""
    query = select(Meeting).options(selectinload(Meeting.group)).where(Meeting.group_id == group.id)
    if not cancelled:
        query = query.where(Meeting.status == MeetingStatus.ACTIVE)
    return list(await session.scalars(query.order_by(Meeting.id)))


async def cancel(
    session: AsyncSession, meeting: Meeting, number: int | None, *, whole: bool, actor: Actor, now: datetime
) -> Occurrence | None:
    """Cancel one occurrence, or with `whole` the series; returns the occurrence cancelled."""
    if meeting.status == MeetingStatus.CANCELLED:
        raise Refused("Meeting {id} is already cancelled.", id=meeting.id)
    if whole:
        meeting.status = MeetingStatus.CANCELLED
        await audit.record(
            session, actor=actor.label, action="meeting.cancelled", subject=f"meeting:{meeting.id}", at=now
        )
        return None
    if number is None and meeting.rule is not None:
        raise Refused(
            "Meeting {id} is a series: cancel one occurrence ({id}.N, see /meeting info {id}) or add `all`.",
            id=meeting.id,
        )
    target = await pick(session, meeting, number or 1, now)
    if target.cancelled:
        raise Refused("Meeting {value} is already cancelled.", value=label(meeting, target))
    if target.start <= now:
        raise Refused("Meeting {value} has already begun.", value=label(meeting, target))
    if meeting.rule is None:
        meeting.status = MeetingStatus.CANCELLED
    await _change(session, meeting, target.number, actor, now, cancelled=True)
    await audit.record(
        session,
        actor=actor.label,
        action="meeting.occurrence_cancelled",
        subject=f"meeting:{meeting.id}",
        details={"occurrence": target.number},
        at=now,
    )
    return target


async def move(
    session: AsyncSession, meeting: Meeting, number: int | None, to: datetime, *, actor: Actor, now: datetime
) -> tuple[Occurrence, Occurrence]:
    """Move one occurrence (the next one by default); returns it before and after."""
    before = await pick(session, meeting, number, now)
    if before.cancelled:
        raise Refused("Meeting {value} is cancelled; schedule a new one instead.", value=label(meeting, before))
    if before.start <= now:
        raise Refused("Meeting {value} has already begun.", value=label(meeting, before))
    if to <= now:
        raise Refused("That time is in the past; give a time to come.")
    await _change(session, meeting, before.number, actor, now, moved_to=to)
    meeting.next_start = to if meeting.next_start is None else min(meeting.next_start, to)
    if meeting.rule is None:
        meeting.first_start = meeting.last_start = to
    else:
        meeting.last_start = max(meeting.last_start, to)
    # Its reminders start afresh: the old ones were for another time.
    await session.execute(
        table_of(MeetingReminder)
        .delete()
        .where(MeetingReminder.meeting_id == meeting.id, MeetingReminder.occurrence == before.number)
    )
    await audit.record(
        session,
        actor=actor.label,
        action="meeting.moved",
        subject=f"meeting:{meeting.id}",
        details={"occurrence": before.number, "from": before.start.isoformat(), "to": to.isoformat()},
        at=now,
    )
    return before, Occurrence(before.number, to, before.planned)


async def _change(
    session: AsyncSession,
    meeting: Meeting,
    number: int,
    actor: Actor,
    now: datetime,
    *,
    cancelled: bool = False,
    moved_to: datetime | None = None,
) -> None:
    """Cancel or move one occurrence (what it does not say stays as it was)."""
    change = await session.get(OccurrenceChange, (meeting.id, number))
    if change is None:
        change = OccurrenceChange(meeting_id=meeting.id, occurrence=number, cancelled=False)
        session.add(change)
    if cancelled:
        change.cancelled = True
    if moved_to is not None:
        change.moved_to = moved_to
    change.changed_by, change.changed_at = actor.label, now


async def is_guest(session: AsyncSession, meeting_id: int, person_id: int | None) -> bool:
    return person_id is not None and await session.get(MeetingGuest, (meeting_id, person_id)) is not None


async def answer(
    session: AsyncSession, meeting: Meeting, target: Occurrence, person_id: int, reply: str, now: datetime
) -> str | None:
    """Record a person's RSVP; returns their previous answer."""
    if reply not in ANSWERS:
        raise Refused(
            "Answer {answers}, not {reply}.", answers=OneOf(tuple(choice(a) for a in ANSWERS)), reply=quote(reply)
        )
    if target.start + timedelta(minutes=meeting.duration_minutes) <= now:
        raise Refused("Meeting {value} is over.", value=label(meeting, target))
    existing = await session.get(Rsvp, (meeting.id, target.number, person_id))
    previous = existing.answer if existing else None
    if existing is None:
        session.add(
            Rsvp(meeting_id=meeting.id, occurrence=target.number, person_id=person_id, answer=reply, answered_at=now)
        )
    else:
        existing.answer, existing.answered_at = reply, now
    return previous


async def attendance(session: AsyncSession, meeting_id: int, number: int) -> list[Rsvp]:
    """RSVPs with the person and their organisation, yes first."""
    rows = await session.scalars(
        select(Rsvp)
        .options(selectinload(Rsvp.person).selectinload(Person.organisation))
        .where(Rsvp.meeting_id == meeting_id, Rsvp.occurrence == number)
        .order_by(Rsvp.answered_at)
    )
    return sorted(rows, key=lambda r: ANSWERS.index(r.answer))


async def add_agenda_item(
    session: AsyncSession, meeting: Meeting, target: Occurrence, text: str, actor: Actor, now: datetime
) -> int:
    """Append an item; returns its position on the agenda."""
    text = " ".join(text.split())
    if not text:
        raise Refused("An agenda item needs a text.")
    if target.start <= now:
        raise Refused("Meeting {value} has already begun; its agenda is closed.", value=label(meeting, target))
    session.add(
        AgendaItem(meeting_id=meeting.id, occurrence=target.number, text=text, person_id=actor.person_id, added_at=now)
    )
    await session.flush()
    await audit.record(
        session,
        actor=actor.label,
        action="meeting.agenda_item",
        subject=f"meeting:{meeting.id}",
        details={"occurrence": target.number, "text": text},
        at=now,
    )
    return len(await agenda(session, meeting.id, target.number))


async def remove_agenda_item(
    session: AsyncSession, meeting: Meeting, target: Occurrence, position: int, actor: Actor, now: datetime
) -> str:
    """Take item `position` (1, 2, …) off the agenda of an occurrence to come; returns its text."""
    if target.start <= now:
        raise Refused("Meeting {value} has already begun; its agenda is closed.", value=label(meeting, target))
    items = await agenda(session, meeting.id, target.number)
    if not 1 <= position <= len(items):
        raise Refused(
            n_words(
                "The agenda of meeting {value} has {count} item; there is no item {position}.",
                "The agenda of meeting {value} has {count} items; there is no item {position}.",
                len(items),
                value=label(meeting, target),
                position=position,
            )
        )
    removed = items[position - 1]
    await session.delete(removed)
    await audit.record(
        session,
        actor=actor.label,
        action="meeting.agenda_item_removed",
        subject=f"meeting:{meeting.id}",
        details={"occurrence": target.number, "position": position, "text": removed.text},
        at=now,
    )
    return removed.text


@dataclass(frozen=True)
class Corrections:
    """What a chair corrects in a meeting series: None leaves it as it is ("" clears the link)."""

    title: str | None = None
    link: str | None = None
    duration_minutes: int | None = None


async def correct(
    session: AsyncSession, meeting: Meeting, fix: Corrections, *, actor: Actor, now: datetime
) -> list[Words]:
    """Change a meeting's title, link or duration; returns what changed, in words ("title: A → B")."""
    if meeting.status == MeetingStatus.CANCELLED:
        raise Refused("Meeting {id} is cancelled.", id=meeting.id)
    changed: dict[str, tuple[object, object]] = {}
    if fix.title is not None:
        title = " ".join(fix.title.split())
        if not title or len(title) > MAX_TITLE:
            raise Refused("A title has 1 to {MAX_TITLE} characters.", MAX_TITLE=MAX_TITLE)
        if title != meeting.title:
            changed["title"] = (meeting.title, title)
            meeting.title = title
    if fix.link is not None:
        link = fix.link.strip() or None
        if link != meeting.link:
            changed["link"] = (meeting.link, link)
            meeting.link = link
    if fix.duration_minutes is not None:
        if not 5 <= fix.duration_minutes <= 24 * 60:
            raise Refused("duration= is between 5m and 24h, e.g. 90m or 2h.")
        if fix.duration_minutes != meeting.duration_minutes:
            changed["duration"] = (meeting.duration_minutes, fix.duration_minutes)
            meeting.duration_minutes = fix.duration_minutes
    if not changed:
        raise Refused(
            "Nothing to change: give title=, link= or duration= with a new value for meeting {id}.", id=meeting.id
        )
    await audit.record(
        session,
        actor=actor.label,
        action="meeting.edited",
        subject=f"meeting:{meeting.id}",
        details={what: {"from": before, "to": after} for what, (before, after) in changed.items()},
        at=now,
    )
    return [
        Words(_CORRECTED[what], {"before": before or Words("none"), "after": after or Words("none")})
        for what, (before, after) in changed.items()
    ]


# What a correction changed, a message each (its values are the old and the new).
_CORRECTED = {
    "title": N_("title: {before} → {after}"),
    "link": N_("link: {before} → {after}"),
    "duration": N_("duration (minutes): {before} → {after}"),
}


async def agenda(session: AsyncSession, meeting_id: int, number: int) -> list[AgendaItem]:
    return list(
        await session.scalars(
            select(AgendaItem)
            .options(selectinload(AgendaItem.person))
            .where(AgendaItem.meeting_id == meeting_id, AgendaItem.occurrence == number)
            .order_by(AgendaItem.id)
        )
    )


async def record_minutes(
    session: AsyncSession,
    meeting: Meeting,
    target: Occurrence,
    *,
    text: str | None,
    file: dict[str, Any] | None,
    actor: Actor,
    now: datetime,
) -> bool:
    """Keep the minutes of a past occurrence (a text, a stored file, or both); True if replacing."""
    if target.start > now:
        raise Refused("Meeting {value} has not taken place yet; minutes come after it.", value=label(meeting, target))
    if not text and not file:
        raise Refused("Give the minutes as text after the meeting id, or attach the file.")
    existing = await session.get(Minutes, (meeting.id, target.number))
    minutes = existing or Minutes(meeting_id=meeting.id, occurrence=target.number)
    minutes.text = text or None
    minutes.file_sha256, minutes.file_name, minutes.media_type, minutes.size = (
        (file["sha256"], file["name"], file["media_type"], file["size"]) if file else (None, None, None, None)
    )
    minutes.person_id, minutes.added_at = actor.person_id, now
    session.add(minutes)
    await audit.record(
        session,
        actor=actor.label,
        action="meeting.minutes",
        subject=f"meeting:{meeting.id}",
        details={"occurrence": target.number, "sha256": file and file["sha256"], "replaced": existing is not None},
        at=now,
    )
    return existing is not None


async def record_presence(
    session: AsyncSession,
    meeting: Meeting,
    target: Occurrence,
    organisations: Sequence[Organisation],
    *,
    actor: Actor,
    now: datetime,
) -> list[Present]:
    """Record which organisations attended an occurrence that has begun (a new record replaces
    the one before: the chair corrects it by recording again). Only the group's organisations
    attend, and those whose people were invited to the meeting, as guests."""
    if target.start > now:
        raise Refused(
            "Meeting {value} has not begun; attendance is recorded from its start.", value=label(meeting, target)
        )
    if target.cancelled:
        raise Refused("Meeting {value} was cancelled.", value=label(meeting, target))
    members = set(
        await session.scalars(select(Participation.organisation_id).where(Participation.group_id == meeting.group_id))
    )
    guests = set(
        await session.scalars(
            select(Person.organisation_id)
            .join(MeetingGuest, MeetingGuest.person_id == Person.id)
            .where(MeetingGuest.meeting_id == meeting.id)
        )
    )
    present = list({o.id: o for o in organisations}.values())
    for organisation in present:
        if organisation.id not in members | guests:
            raise Refused(
                "{organisation} takes no part in {group}, and no one of it was invited to meeting {id}: "
                "/guest invite invites a person first.",
                organisation=organisation.name,
                group=meeting.group.name,
                id=meeting.id,
            )
    await session.execute(
        delete(Presence).where(Presence.meeting_id == meeting.id, Presence.occurrence == target.number)
    )
    session.add_all(
        Presence(
            meeting_id=meeting.id,
            occurrence=target.number,
            organisation_id=o.id,
            recorded_by=actor.label,
            recorded_at=now,
            guest=o.id not in members,
        )
        for o in present
    )
    recorded = sorted((Present(o.name, o.id not in members) for o in present), key=lambda p: p.name.casefold())
    await audit.record(
        session,
        actor=actor.label,
        action="meeting.attendance",
        subject=f"meeting:{meeting.id}",
        details={
            "occurrence": target.number,
            "present": [p.name for p in recorded],
            "guests": [p.name for p in recorded if p.guest],
        },
        at=now,
    )
    return recorded


@dataclass(frozen=True)
class Present:
    """An organisation recorded as present, and whether it came as a guest."""

    name: str
    guest: bool


async def presence(session: AsyncSession, meeting_id: int, number: int) -> list[Present]:
    """The organisations recorded as present, by name."""
    rows = await session.execute(
        select(Organisation.name, Presence.guest)
        .join(Presence, Presence.organisation_id == Organisation.id)
        .where(Presence.meeting_id == meeting_id, Presence.occurrence == number)
    )
    return sorted((Present(name, guest) for name, guest in rows.tuples()), key=lambda p: p.name.casefold())


async def minutes_of(session: AsyncSession, meeting_id: int, number: int) -> Minutes | None:
    return await session.get(Minutes, (meeting_id, number))


async def invite(session: AsyncSession, meeting: Meeting, person: Person, actor: Actor, now: datetime) -> bool:
    """Invite a person to the meeting; False if they were already invited."""
    if meeting.status == MeetingStatus.CANCELLED:
        raise Refused("Meeting {id} is cancelled.", id=meeting.id)
    if await is_guest(session, meeting.id, person.id):
        return False
    session.add(MeetingGuest(meeting_id=meeting.id, person_id=person.id, invited_by=actor.label, invited_at=now))
    await audit.record(
        session,
        actor=actor.label,
        action="meeting.guest_invited",
        subject=f"meeting:{meeting.id}",
        details={"person": person.id},
        at=now,
    )
    return True


async def guests(session: AsyncSession, meeting_id: int) -> list[Person]:
    return list(
        await session.scalars(
            select(Person)
            .join(MeetingGuest, MeetingGuest.person_id == Person.id)
            .where(MeetingGuest.meeting_id == meeting_id)
        )
    )


# ── reminders ────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Reminder:
    meeting_id: int
    occurrence: Occurrence
    minutes_before: int
    at: datetime


def _reminders(
    meeting: Meeting,
    changes: Mapping[int, OccurrenceChange],
    done: set[tuple[int, int]],
    offsets: Collection[int],
    now: datetime,
) -> list[Reminder]:
    """The reminders of the next two occurrences not done yet, soonest first.

    A reminder whose time came before the meeting was scheduled (or its occurrence moved) was
    never owed: scheduling or moving it told everyone already.
    """
    found = []
    for upcoming_ in upcoming(series_of(meeting), changes, now, limit=2):
        change = changes.get(upcoming_.number)
        owed_since = change.changed_at if change is not None and change.moved_to else meeting.created_at
        for minutes in offsets:
            at = upcoming_.start - timedelta(minutes=minutes)
            if (upcoming_.number, minutes) not in done and at >= owed_since:
                found.append(Reminder(meeting.id, upcoming_, minutes, at))
    return sorted(found, key=lambda r: r.at)


@dataclass(frozen=True)
class ReminderState:
    """What deciding reminders needs: the meetings not over, their changes, the reminders done."""

    meetings: list[Meeting]
    changes: dict[int, dict[int, OccurrenceChange]]
    done: dict[int, set[tuple[int, int]]]


async def reminder_state(session: AsyncSession, ids: Collection[int] | None, now: datetime) -> ReminderState:
    query = select(Meeting).where(Meeting.status == MeetingStatus.ACTIVE, Meeting.last_start > now)
    if ids is not None:
        query = query.where(Meeting.id.in_(ids))
    meetings = list(await session.scalars(query))
    changes = await changes_of(session, [m.id for m in meetings]) if meetings else {}
    done: dict[int, set[tuple[int, int]]] = {}
    marks = select(MeetingReminder.meeting_id, MeetingReminder.occurrence, MeetingReminder.minutes_before)
    if ids is not None:
        marks = marks.where(MeetingReminder.meeting_id.in_(ids))
    for meeting_id, number, minutes in (await session.execute(marks)).tuples():
        done.setdefault(meeting_id, set()).add((number, minutes))
    return ReminderState(meetings, changes, done)


def next_reminders(state: ReminderState, offsets: Collection[int], now: datetime) -> list[tuple[int, datetime]]:
    """(meeting id, when its next reminder is due) for every meeting with one to come."""
    plan = []
    for meeting in state.meetings:
        owed = _reminders(meeting, state.changes.get(meeting.id, {}), state.done.get(meeting.id, set()), offsets, now)
        if owed:
            plan.append((meeting.id, owed[0].at))
    return plan


async def claim_due_reminder(
    session: AsyncSession, meeting_id: int, offsets: Collection[int], now: datetime
) -> tuple[Meeting, Reminder, bool] | None:
    """The reminder due now for this meeting, marked done in this transaction: (meeting, it, late).

    When several fell due for one occurrence (the bot was down), only the latest is sent, late;
    the others are marked skipped. The primary key on the marks makes a second claim fail.
    """
    state = await reminder_state(session, [meeting_id], now)
    if not state.meetings:
        return None
    meeting = state.meetings[0]
    owed = _reminders(meeting, state.changes.get(meeting_id, {}), state.done.get(meeting_id, set()), offsets, now)
    due = [r for r in owed if r.at <= now]
    if not due:
        return None
    first = due[0].occurrence.number
    due = [r for r in due if r.occurrence.number == first]
    chosen = min(due, key=lambda r: r.minutes_before)
    late = now - chosen.at > LATE_AFTER
    for reminder in due:
        outcome = ("late" if late else "sent") if reminder is chosen else "skipped"
        session.add(
            MeetingReminder(
                meeting_id=meeting_id, occurrence=first, minutes_before=reminder.minutes_before, outcome=outcome, at=now
            )
        )
    await session.flush()  # the primary key refuses a second claim here, rolling this one back
    await session.refresh(meeting, ["group"])
    return meeting, chosen, late
