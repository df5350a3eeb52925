"""Meeting reminders: one job per meeting, at its next reminder's time.

A reminder is marked done in the same transaction that queues it, under a primary key, so it
is sent once whatever restarts or double firings happen. One that fell due while the bot was
down is sent late (and says so) if its meeting has not begun, and skipped otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.areas import Services
from bot.changes import Changes
from bot.config import MeetingSettings
from bot.i18n import Language, language
from bot.scheduler import Job
from handlers.meetings.wording import describe_occurrence, rsvp_buttons, where
from storage import groups, meetings, notices
from storage.db import Database
from storage.models import Meeting, utcnow
from storage.rules.recurrence import Occurrence

log = logging.getLogger(__name__)
REMINDERS = Changes("meeting reminders")  # a meeting was scheduled, moved or cancelled


class MeetingReminders:
    changes = REMINDERS

    def __init__(self, db: Database, settings: MeetingSettings, language: str = "en") -> None:
        self.db = db
        self.offsets = settings.reminder_minutes
        self.language = language  # the alliance's: for groups and guests that chose none

    async def plan(self, keys: Collection[int] | None = None) -> list[Job]:
        now = utcnow()
        async with self.db.transaction() as session:
            state = await meetings.reminder_state(session, keys, now)
        # Thousands of meetings take a moment to work out; the event loop keeps serving meanwhile.
        due = await asyncio.to_thread(meetings.next_reminders, state, self.offsets, now)
        return [
            Job(f"meeting:remind:{meeting_id}", at, self.remind, (meeting_id,), meeting_id) for meeting_id, at in due
        ]

    async def remind(self, meeting_id: int) -> bool:
        try:
            async with self.db.transaction() as session:
                due = await meetings.claim_due_reminder(session, meeting_id, self.offsets, utcnow())
                if due is None:
                    return False
                meeting, reminder, late = due
                await post_reminder(session, meeting, reminder.occurrence, late, utcnow(), self.language)
        except IntegrityError:
            log.info("meeting %s: its reminder was sent by another run already", meeting_id)
            return False
        log.info(
            "meeting %s.%s: reminder %s min before%s",
            meeting_id,
            reminder.occurrence.number,
            reminder.minutes_before,
            " (late)" if late else "",
        )
        return True


async def post_reminder(
    session: AsyncSession, meeting: Meeting, occurrence: Occurrence, late: bool, now: datetime, default_language: str
) -> None:
    """The reminder in the group's rooms (in the meeting's zone and the group's language) and to
    each guest (in their zone and language)."""

    async def text(zone: str, lang: Language) -> str:
        when = {"meeting": where(meeting, occurrence, zone, lang), "starts": _in(occurrence.start - now, lang)}
        lines = [lang._("Reminder: {meeting} — starts {starts}.", **when)]
        if meeting.link:
            lines.append(lang._("Link: {link}", link=meeting.link))
        lines += await describe_occurrence(session, meeting, occurrence, lang)
        if late:
            lines.append(lang._("(Sent late: the bot was not running when this reminder was due.)"))
        return "\n".join(lines)

    in_group = language(await groups.language_of(session, meeting.group_id), default_language)
    await notices.to_group(
        session,
        meeting.group_id,
        await text(meeting.zone, in_group),
        buttons=rsvp_buttons(meeting, occurrence)(in_group),
    )
    for guest in await meetings.guests(session, meeting.id):
        reader = language(guest.language, default_language)
        await notices.to_person(session, guest.id, await text(guest.timezone or meeting.zone, reader))


def _in(left: timedelta, lang: Language) -> str:
    minutes = max(0, round(left.total_seconds() / 60))
    if minutes < 90:
        return lang.n_("in {count} minute", "in {count} minutes", minutes)
    hours = round(minutes / 60)
    if hours < 48:
        return lang.n_("in {count} hour", "in {count} hours", hours)
    return lang.n_("in {count} day", "in {count} days", round(hours / 24))


def meeting_reminders(services: Services) -> MeetingReminders:
    return MeetingReminders(services.db, services.settings.meetings, services.settings.alliance.language)
