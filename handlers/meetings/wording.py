"""How a meeting is told: where and when (in the reader's zone), its RSVP buttons, its
agenda and who comes, to the group's rooms and the meeting's guests."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Language, language, worded_in
from storage import meetings, notices
from storage.models import Meeting, Person
from storage.rules.recurrence import Occurrence
from storage.rules.text import N_

ENGLISH = Language()
ATTENDANCE = {
    "yes": N_("Attending ({count}): {names}"),
    "maybe": N_("Maybe ({count}): {names}"),
    "no": N_("Not attending ({count}): {names}"),
}


def where(
    meeting: Meeting, occurrence: Occurrence, zone: str, lang: Language = ENGLISH, when: str | None = None
) -> str:
    """ "PFAS monthly (meeting 12.3), Tue 01 Dec 2026 10:00 CET, 90 min" in the reader's zone
    (or with `when` as the caller says it, e.g. naming the zone it was read in)."""
    about = {
        "title": meeting.title,
        "label": meetings.label(meeting, occurrence),
        "when": when or lang.moment(occurrence.start, zone),
        "minutes": meeting.duration_minutes,
    }
    if occurrence.moved:
        return lang._("{title} (meeting {label}), {when} (moved), {minutes} min", **about)
    return lang._("{title} (meeting {label}), {when}, {minutes} min", **about)


def rsvp_buttons(meeting: Meeting, occurrence: Occurrence) -> Callable[[Language], list[list[str]]]:
    """A button per answer, labelled in the reader's language; what it sends is the answer itself."""
    ref = meetings.label(meeting, occurrence)
    return lambda lang: [[lang.choice(answer), f"/rsvp {ref} {answer}"] for answer in meetings.ANSWERS]


async def tell_everyone(
    session: AsyncSession,
    meeting: Meeting,
    text: Callable[[Language], str],
    default_language: str,
    buttons: Callable[[Language], list[list[str]]] | None = None,
) -> None:
    """The group's rooms (in the group's language) and the meeting's guests (privately, in theirs)."""
    labelled = worded_in(buttons, default_language) if buttons else None
    await notices.to_group(session, meeting.group_id, worded_in(text, default_language), buttons=labelled)
    for guest in await meetings.guests(session, meeting.id):
        await notices.to_person(session, guest.id, text(language(guest.language, default_language)))


async def describe_occurrence(
    session: AsyncSession, meeting: Meeting, target: Occurrence, lang: Language = ENGLISH
) -> list[str]:
    """Its agenda in order and who said they will come."""
    lines = []
    agenda = await meetings.agenda(session, meeting.id, target.number)
    if agenda:
        lines.append(lang._("Agenda:"))
        lines += [f"{n}. {item.text}" for n, item in enumerate(agenda, start=1)]
    replies = await meetings.attendance(session, meeting.id, target.number)
    for answer, heading in ATTENDANCE.items():
        names = [_attendee(r.person) for r in replies if r.answer == answer]
        if names:
            lines.append(lang._(heading, count=len(names), names=", ".join(names)))
    return lines


def _attendee(person: Person) -> str:
    return f"{person.name} ({person.organisation.name})" if person.organisation else person.name
