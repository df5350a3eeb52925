"""How a meeting is told: where and when (in the reader's zone), its RSVP buttons, its
agenda and who comes, to the group's rooms and the meeting's guests."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.timeparse import shown
from storage import meetings, notices
from storage.models import Meeting, Person
from storage.rules.recurrence import Occurrence


def where(meeting: Meeting, occurrence: Occurrence, zone: str) -> str:
    """ "PFAS monthly (meeting 12.3), Tue 01 Dec 2026 10:00 CET, 90 min" in the reader's zone."""
    moved = " (moved)" if occurrence.moved else ""
    return (
        f"{meeting.title} (meeting {meetings.label(meeting, occurrence)}), "
        f"{shown(occurrence.start, zone)}{moved}, {meeting.duration_minutes} min"
    )


def rsvp_buttons(meeting: Meeting, occurrence: Occurrence) -> list[list[str]]:
    ref = meetings.label(meeting, occurrence)
    return [[answer, f"/rsvp {ref} {answer}"] for answer in meetings.ANSWERS]


async def tell_everyone(
    session: AsyncSession, meeting: Meeting, text: str, buttons: list[list[str]] | None = None
) -> None:
    """The group's rooms and the meeting's guests (privately)."""
    await notices.to_group(session, meeting.group_id, text, buttons=buttons)
    for guest in await meetings.guests(session, meeting.id):
        await notices.to_person(session, guest.id, text)


async def describe_occurrence(session: AsyncSession, meeting: Meeting, target: Occurrence) -> list[str]:
    """Its agenda in order and who said they will come."""
    lines = []
    agenda = await meetings.agenda(session, meeting.id, target.number)
    if agenda:
        lines.append("Agenda:")
        lines += [f"{n}. {item.text}" for n, item in enumerate(agenda, start=1)]
    replies = await meetings.attendance(session, meeting.id, target.number)
    for answer, heading in (("yes", "Attending"), ("maybe", "Maybe"), ("no", "Not attending")):
        names = [_attendee(r.person) for r in replies if r.answer == answer]
        if names:
            lines.append(f"{heading} ({len(names)}): {', '.join(names)}")
    return lines


def _attendee(person: Person) -> str:
    return f"{person.name} ({person.organisation.name})" if person.organisation else person.name
