"""/meeting: schedule a group's meetings, list them, cancel or move them, export them as .ics."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import Call, Command, Option, Param
from bot.context import Context
from bot.timeparse import parse_when, shown, zone_named
from bot.transports.base import OutgoingFile, Reply
from handlers import calendar
from storage import meetings, notices, people
from storage.errors import Refused
from storage.models import Meeting, MeetingStatus
from storage.rules.access import Access
from storage.rules.recurrence import Occurrence, describe, upcoming

_DURATION = re.compile(r"^(?:(\d+)\s*h)?\s*(?:(\d+)\s*(?:m|min)?)?$")


def _minutes(text: str) -> int:
    """ "90m", "90", "2h", "1h30" → minutes."""
    found = _DURATION.match(text.strip().lower())
    if not found or not any(found.groups()):
        raise Refused(f"duration= is like 90m, 2h or 1h30, not {text!r}.")
    return int(found.group(1) or 0) * 60 + int(found.group(2) or 0)


def _until(text: str, zone: str, now: datetime) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return parse_when(text, zone, now).astimezone(ZoneInfo(zone)).date()


def where(meeting: Meeting, occurrence: Occurrence, zone: str) -> str:
    """ "PFAS monthly (meeting 12.3), Tue 01 Dec 2026 10:00 CET, 90 min" in the reader's zone."""
    moved = " (moved)" if occurrence.moved else ""
    return (
        f"{meeting.title} (meeting {meetings.label(meeting, occurrence)}), "
        f"{shown(occurrence.start, zone)}{moved}, {meeting.duration_minutes} min"
    )


def _rsvp_buttons(meeting: Meeting, occurrence: Occurrence) -> list[list[str]]:
    ref = meetings.label(meeting, occurrence)
    return [[answer, f"/rsvp {ref} {answer}"] for answer in meetings.ANSWERS]


async def tell_everyone(session: AsyncSession, meeting: Meeting, text: str, buttons: list | None = None) -> None:
    """The group's rooms and the meeting's guests (privately)."""
    await notices.to_group(session, meeting.group_id, text, buttons=buttons)
    for guest in await meetings.guests(session, meeting.id):
        await notices.to_person(session, guest.id, text)


async def post_reminder(
    session: AsyncSession, meeting: Meeting, occurrence: Occurrence, late: bool, now: datetime
) -> None:
    """The reminder in the group's rooms (in the meeting's zone) and to each guest (in theirs)."""
    details = await describe_occurrence(session, meeting, occurrence)
    link = [f"Link: {meeting.link}"] if meeting.link else []
    late_note = ["(Sent late: the bot was not running when this reminder was due.)"] if late else []

    def text(zone: str) -> str:
        heading = f"Reminder: {where(meeting, occurrence, zone)} — starts {_in(occurrence.start - now)}."
        return "\n".join([heading, *link, *details, *late_note])

    await notices.to_group(session, meeting.group_id, text(meeting.zone), buttons=_rsvp_buttons(meeting, occurrence))
    for guest in await meetings.guests(session, meeting.id):
        await notices.to_person(session, guest.id, text(guest.timezone or meeting.zone))


def _in(left: timedelta) -> str:
    minutes = max(0, round(left.total_seconds() / 60))
    if minutes < 90:
        return f"in {minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"in {hours} hours" if hours < 48 else f"in {round(hours / 24)} days"


def _may_manage(ctx: Context, meeting: Meeting) -> None:
    if meeting.group_id != ctx.require_group().id and not ctx.actor.is_secretariat:
        raise Refused(f"Meeting {meeting.id} belongs to {meeting.group.name}; manage it in that group's room.")


def _recurrence(meeting: Meeting) -> str:
    if meeting.rule is None:
        return ""
    return f"\nRepeats {describe(meeting.rule)}, until {shown(meeting.last_start, meeting.zone)}."


async def meeting_schedule(ctx: Context, call: Call) -> Reply:
    """Schedule a one-off or recurring meeting of this group."""
    group = ctx.require_group()
    zone = zone_named(call.options["tz"]) if "tz" in call.options else ctx.zone
    start = parse_when(call.args["when"], zone, ctx.now)
    plan = meetings.MeetingPlan(
        title=call.args["title"],
        local_start=start.astimezone(ZoneInfo(zone)).replace(tzinfo=None, microsecond=0),
        zone=zone,
        every=call.options.get("every"),
        until=_until(call.options["until"], zone, ctx.now) if "until" in call.options else None,
        duration_minutes=_minutes(call.options["duration"])
        if "duration" in call.options
        else ctx.settings.meetings.default_duration_minutes,
        link=call.options.get("link"),
    )
    meeting = await meetings.schedule(ctx.session, actor=ctx.actor, group=group, plan=plan, now=ctx.now)
    ctx.changed.add(f"meetings:{meeting.id}")
    first = await meetings.pick(ctx.session, meeting, None, ctx.now)
    link = f"\nLink: {meeting.link}" if meeting.link else ""
    await tell_everyone(
        ctx.session,
        meeting,
        f"New meeting of {group.name}: {where(meeting, first, meeting.zone)}.{_recurrence(meeting)}{link}\n"
        f"Will you attend? /rsvp {meetings.label(meeting, first)} yes|no|maybe",
        buttons=_rsvp_buttons(meeting, first),
    )
    return Reply(f"Scheduled: {where(meeting, first, ctx.zone)}. /meeting info {meeting.id} shows it.")


async def meeting_list(ctx: Context, call: Call) -> Reply:
    """The next meetings of this group (of every group in a private chat)."""
    found = await meetings.upcoming_in(ctx.session, ctx.group, ctx.now)
    if not found:
        return Reply("No meetings to come. A chair schedules one with /meeting schedule.")
    lines = [f"{'Next meetings' if ctx.group is None else f'Next meetings of {ctx.group.name}'}:"]
    lines += [f"• {where(m, o, ctx.zone)}" + ("" if ctx.group else f" — {m.group.name}") for m, o in found]
    return Reply("\n".join(lines))


async def meeting_info(ctx: Context, call: Call) -> Reply:
    """One meeting: its time, link, agenda, who comes, and the next occurrences of a series."""
    meeting, number = await meetings.find(ctx.session, call.args["id"])
    if meeting.status == MeetingStatus.CANCELLED:
        return Reply(f"Meeting {meeting.id} ({meeting.title}, {meeting.group.name}) is cancelled.")
    target = await meetings.pick(ctx.session, meeting, number, ctx.now)
    lines = [
        f"{where(meeting, target, ctx.zone)} — {meeting.group.name}" + (" — CANCELLED" if target.cancelled else "")
    ]
    if meeting.link:
        lines.append(f"Link: {meeting.link}")
    lines += await describe_occurrence(ctx.session, meeting, target)
    if meeting.rule is not None:
        changes = (await meetings.changes_of(ctx.session, [meeting.id])).get(meeting.id)
        ahead = upcoming(meetings.series_of(meeting), changes, target.start, limit=4)
        repeats = f"Repeats {describe(meeting.rule)}"
        lines.append(
            f"{repeats}. Then: " + "; ".join(f"{meetings.label(meeting, o)} {shown(o.start, ctx.zone)}" for o in ahead)
            if ahead
            else f"{repeats}; that was the last one."
        )
    minutes = await meetings.minutes_of(ctx.session, meeting.id, target.number)
    if minutes:
        lines.append(
            "Minutes: " + (minutes.file_name or "as text") + f" — /meeting minutes {meetings.label(meeting, target)}"
        )
    return Reply("\n".join(lines))


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


def _attendee(person) -> str:
    return f"{person.name} ({person.organisation.name})" if person.organisation else person.name


async def meeting_cancel(ctx: Context, call: Call) -> Reply:
    """Cancel one occurrence, or the whole series with `all`."""
    meeting, number = await meetings.find(ctx.session, call.args["id"])
    _may_manage(ctx, meeting)
    whole = "all" in call.flags
    cancelled = await meetings.cancel(ctx.session, meeting, number, whole=whole, actor=ctx.actor, now=ctx.now)
    ctx.changed.add(f"meetings:{meeting.id}")
    if cancelled is None:
        text = f"Meeting {meeting.id} ({meeting.title}) is cancelled: the whole series."
    else:
        text = f"Cancelled: {where(meeting, cancelled, meeting.zone)}."
    await tell_everyone(ctx.session, meeting, text)
    return Reply(text)


async def meeting_move(ctx: Context, call: Call) -> Reply:
    """Move one occurrence (the next one by default) to another time."""
    meeting, number = await meetings.find(ctx.session, call.args["id"])
    _may_manage(ctx, meeting)
    to = parse_when(call.args["when"], ctx.zone, ctx.now)
    before, after = await meetings.move(ctx.session, meeting, number, to, actor=ctx.actor, now=ctx.now)
    ctx.changed.add(f"meetings:{meeting.id}")
    await tell_everyone(
        ctx.session,
        meeting,
        f"Moved: {meeting.title} (meeting {meetings.label(meeting, after)}) from {shown(before.start, meeting.zone)} "
        f"to {shown(after.start, meeting.zone)}.",
        buttons=_rsvp_buttons(meeting, after),
    )
    return Reply(f"Moved to {shown(after.start, ctx.zone)}; everyone is told.")


async def meeting_ics(ctx: Context, call: Call) -> Reply:
    """An iCalendar file: one meeting, or all of this group's."""
    if "id" in call.args:
        meeting, _ = await meetings.find(ctx.session, call.args["id"])
        chosen, name = [meeting], f"meeting-{meeting.id}.ics"
    else:
        group = ctx.require_group()
        chosen, name = await meetings.of_group(ctx.session, group), f"{group.slug}-meetings.ics"
        if not chosen:
            raise Refused(f"{group.name} has no meetings yet.")
    changes = await meetings.changes_of(ctx.session, [m.id for m in chosen])
    content = calendar.ics(chosen, changes)
    return Reply(
        f"{len(chosen)} meeting{'s' if len(chosen) != 1 else ''} as a calendar file:",
        file=OutgoingFile(name, "text/calendar", content),
    )


async def guest_invite(ctx: Context, call: Call) -> Reply:
    """Invite a person of a non-member organisation to a meeting: they get its reminders."""
    meeting, _ = await meetings.find(ctx.session, call.args["meeting"])
    _may_manage(ctx, meeting)
    person = await people.find_person(ctx.session, call.args["person"])
    if not await meetings.invite(ctx.session, meeting, person, ctx.actor, ctx.now):
        return Reply(f"{person.name} is already invited to meeting {meeting.id}.")
    reached = await notices.to_person(
        ctx.session,
        person.id,
        f"You are invited to {meeting.title} of {meeting.group.name} (meeting {meeting.id}). "
        f"You will get its reminders; /rsvp {meeting.id} yes|no|maybe tells the chair whether you come.",
    )
    told = "" if reached else f" {person.name} has no chat account linked, so they cannot be told or reminded yet."
    return Reply(f"{person.name} is invited to meeting {meeting.id} ({meeting.title}) and gets its reminders.{told}")


COMMANDS = [
    Command(
        "meeting schedule",
        "schedule a meeting of this group",
        meeting_schedule,
        Access.CHAIR,
        params=(Param("when"), Param("title")),
        options=(
            Option("every", "week|2weeks|month|<RRULE>"),
            Option("until", "<date>"),
            Option("duration", "90m"),
            Option("link", "<video link>"),
            Option("tz", "Europe/Rome"),
        ),
        details='Quote what has spaces: /meeting schedule "next tuesday 14:30" "PFAS monthly" every=month '
        "until=2027-06-30. every=month keeps the weekday (the first Tuesday stays the first Tuesday). "
        "A recurring meeting needs until= (or COUNT/UNTIL in its RRULE).",
    ),
    Command("meeting list", "the next meetings", meeting_list, Access.MEMBER, anywhere=True),
    Command(
        "meeting info",
        "a meeting's time, link, agenda and attendance",
        meeting_info,
        Access.MEMBER,
        params=(Param("id"),),
        anywhere=True,
    ),
    Command(
        "meeting cancel",
        "cancel one occurrence, or the series with all",
        meeting_cancel,
        Access.CHAIR,
        params=(Param("id"),),
        flags=("all",),
    ),
    Command(
        "meeting move",
        "move one occurrence to another time",
        meeting_move,
        Access.CHAIR,
        params=(Param("id"), Param("when", rest=True)),
    ),
    Command(
        "meeting ics",
        "a calendar file of one meeting or of the group's",
        meeting_ics,
        Access.MEMBER,
        params=(Param("id", required=False),),
        anywhere=True,
    ),
    Command(
        "guest invite",
        "invite a guest to a meeting",
        guest_invite,
        Access.CHAIR,
        params=(Param("person"), Param("meeting")),
    ),
]
