"""Meetings as iCalendar (RFC 5545), for people's own calendars.

A series is one event with its RRULE on the wall-clock start in its zone (with the zone's
VTIMEZONE in the yearly-rule form calendars write, so they keep 10:00 across daylight saving), EXDATE for each cancelled
occurrence, and one extra event per moved occurrence (RECURRENCE-ID: the time the rule gave it).
A cancelled meeting stays, marked cancelled, so a subscribed calendar takes it off.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vRecur

from bot.i18n import ENGLISH, Language
from storage.meetings import ANSWERS, series_of
from storage.models import Meeting, MeetingStatus, OccurrenceChange
from storage.rules.recurrence import occurrences
from storage.rules.zones import yearly_observances

PRODUCT = "-//wgbot//meetings//EN"


def ics(
    meetings: list[Meeting],
    changes: dict[int, dict[int, OccurrenceChange]],
    name: str = "",
    lang: Language = ENGLISH,
) -> bytes:
    """The meetings as one calendar, their descriptions in `lang`; `name` titles a subscribed
    feed in people's calendars."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if name:
        calendar.add("x-wr-calname", name)
        calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", timedelta(hours=1))
    for zone in sorted({meeting.zone for meeting in meetings}):
        first = min(m.first_start for m in meetings if m.zone == zone)
        calendar.add_component(_vtimezone(zone, first.year))
    for meeting in meetings:
        for event in _events(meeting, changes.get(meeting.id, {}), lang):
            calendar.add_component(event)
    calendar.add_missing_timezones()  # none is missing: each meeting's zone is above
    return bytes(calendar.to_ical())


def _vtimezone(zone: str, year: int) -> Timezone:
    """The zone as calendar programs write it: a yearly RRULE per observance (storage/rules/zones.py),
    or, for a zone that keeps no yearly rule, every transition listed (icalendar's own form)."""
    observances = yearly_observances(zone, year)
    if observances is None:
        return Timezone.from_tzid(zone)
    timezone = Timezone()
    timezone.add("tzid", zone)
    for kept in observances:
        block = TimezoneDaylight() if kept.daylight else TimezoneStandard()
        block.add("dtstart", kept.start)
        if kept.rule:
            block.add("rrule", vRecur.from_ical(kept.rule))
        block.add("tzname", kept.name)
        block.add("tzoffsetfrom", timedelta(seconds=kept.offset_from))
        block.add("tzoffsetto", timedelta(seconds=kept.offset_to))
        timezone.add_component(block)
    return timezone


def _events(meeting: Meeting, changes: dict[int, OccurrenceChange], lang: Language) -> list[Event]:
    zone = ZoneInfo(meeting.zone)
    start = meeting.local_start.replace(tzinfo=zone)
    main = _event(meeting, start, lang)
    if meeting.rule is None:
        return [main]
    main.add("rrule", vRecur.from_ical(meeting.rule))
    events = [main]
    for found in occurrences(series_of(meeting), changes):
        if found.cancelled:
            main.add("exdate", found.planned.astimezone(zone))
        elif found.moved:
            moved = _event(meeting, found.start.astimezone(zone), lang)
            moved.add("recurrence-id", found.planned.astimezone(zone))
            events.append(moved)
    return events


def _event(meeting: Meeting, start: datetime, lang: Language) -> Event:
    event = Event()
    event.add("uid", f"meeting-{meeting.id}@wgbot")
    event.add("summary", f"{meeting.title} ({meeting.group.name})")
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=meeting.duration_minutes))
    event.add("dtstamp", meeting.created_at)
    if meeting.status == MeetingStatus.CANCELLED:
        event.add("status", "CANCELLED")
    if meeting.link:
        event.add("url", meeting.link)
        event.add("location", meeting.link)
    answers = "|".join(lang.choice(answer) for answer in ANSWERS)
    event.add(
        "description",
        lang._(
            "{group} working group. Meeting {id} in wgbot: /meeting info {id}, /rsvp {id} {answers}.",
            group=meeting.group.name,
            id=meeting.id,
            answers=answers,
        ),
    )
    return event
