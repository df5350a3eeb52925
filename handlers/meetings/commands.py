"""/meeting: schedule a group's meetings, list them, cancel or move them, export them as .ics."""

from __future__ import annotations

import enum
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot import arguments
from bot.commands import Call, Command, Option, Param, at_most
from bot.context import Context
from bot.timeparse import parse_when, shown
from bot.transports.base import OutgoingFile, Reply
from handlers import arguments as records
from handlers.meetings import calendar
from handlers.meetings.refs import meeting_ref
from handlers.meetings.reminders import REMINDERS
from handlers.meetings.wording import describe_occurrence, rsvp_buttons, tell_everyone, where
from storage import calendar_feeds, meetings, notices
from storage.errors import Refused
from storage.models import Meeting, MeetingStatus
from storage.rules.access import REFUSALS, Access, may
from storage.rules.recurrence import describe, upcoming

# The start and the end are read in the meeting's zone, which tz= may give: as written here,
# read by the handler once the zone is known.
WHEN = Param("when", at_most(100))
TITLE = Param("title", at_most(200))
EVERY = Option("every", "week|2weeks|month|<RRULE>", at_most(200))
UNTIL = Option("until", "<date>", at_most(100))
DURATION = Option("duration", "90m", arguments.minutes)
LINK = Option("link", "<video link>", at_most(500))
TZ = Option("tz", "Europe/Rome", arguments.zone)
NEW_TITLE = Option("title", '"<new title>"', at_most(200))
MEETING = Param("id", meeting_ref)
SOME_MEETING = Param("id", meeting_ref, required=False)
NEW_TIME = Param("when", arguments.moment, rest=True)
GUEST = Param("person", records.person)
INVITED_TO = Param("meeting", meeting_ref)


def _until(text: str, zone: str, now: datetime, language: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return parse_when(text, zone, now, language).astimezone(ZoneInfo(zone)).date()


def _may_manage(ctx: Context, meeting: Meeting) -> None:
    if meeting.group_id != ctx.require_group_id() and not ctx.actor.is_secretariat:
        raise Refused(f"Meeting {meeting.id} belongs to {meeting.group.name}; manage it in that group's room.")


def _recurrence(meeting: Meeting) -> str:
    if meeting.rule is None:
        return ""
    return f"\nRepeats {describe(meeting.rule)}, until {shown(meeting.last_start, meeting.zone)}."


async def meeting_schedule(ctx: Context, call: Call) -> Reply:
    """Schedule a one-off or recurring meeting of this group."""
    group = await ctx.require_group()
    zone = call.get(TZ) or ctx.zone
    start = parse_when(call[WHEN], zone, ctx.now, ctx.reader.code)
    until = call.get(UNTIL)
    duration = call.get(DURATION)
    plan = meetings.MeetingPlan(
        title=call[TITLE],
        local_start=start.astimezone(ZoneInfo(zone)).replace(tzinfo=None, microsecond=0),
        zone=zone,
        every=call.get(EVERY),
        until=_until(until, zone, ctx.now, ctx.reader.code) if until is not None else None,
        duration_minutes=duration if duration is not None else ctx.settings.meetings.default_duration_minutes,
        link=call.get(LINK),
    )
    meeting = await meetings.schedule(ctx.session, actor=ctx.actor, group=group, plan=plan, now=ctx.now)
    ctx.changed.add(REMINDERS.of(meeting.id))
    first = await meetings.pick(ctx.session, meeting, None, ctx.now)
    link = f"\nLink: {meeting.link}" if meeting.link else ""
    await tell_everyone(
        ctx.session,
        meeting,
        f"New meeting of {group.name}: {where(meeting, first, meeting.zone)}.{_recurrence(meeting)}{link}\n"
        f"Will you attend? /rsvp {meetings.label(meeting, first)} yes|no|maybe",
        buttons=rsvp_buttons(meeting, first),
    )
    return Reply(f"Scheduled: {where(meeting, first, ctx.zone)}. /meeting info {meeting.id} shows it.")


async def meeting_list(ctx: Context, call: Call) -> Reply:
    """The next meetings of this group (of every group in a private chat)."""
    group = await ctx.group()
    found = await meetings.upcoming_in(ctx.session, group, ctx.now)
    if not found:
        return Reply("No meetings to come. A chair schedules one with /meeting schedule.")
    lines = [f"{'Next meetings' if group is None else f'Next meetings of {group.name}'}:"]
    lines += [f"• {where(m, o, ctx.zone)}" + ("" if group else f" — {m.group.name}") for m, o in found]
    return Reply("\n".join(lines))


async def meeting_info(ctx: Context, call: Call) -> Reply:
    """One meeting: its time, link, agenda, who comes, and the next occurrences of a series."""
    ref = call[MEETING]
    meeting, number = await meetings.find(ctx.session, ref.meeting), ref.occurrence
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


async def meeting_cancel(ctx: Context, call: Call) -> Reply:
    """Cancel one occurrence, or the whole series with `all`."""
    ref = call[MEETING]
    meeting = await meetings.find(ctx.session, ref.meeting)
    _may_manage(ctx, meeting)
    whole = "all" in call.flags
    cancelled = await meetings.cancel(ctx.session, meeting, ref.occurrence, whole=whole, actor=ctx.actor, now=ctx.now)
    ctx.changed.add(REMINDERS.of(meeting.id))
    if cancelled is None:
        text = f"Meeting {meeting.id} ({meeting.title}) is cancelled: the whole series."
    else:
        text = f"Cancelled: {where(meeting, cancelled, meeting.zone)}."
    await tell_everyone(ctx.session, meeting, text)
    return Reply(text)


async def meeting_move(ctx: Context, call: Call) -> Reply:
    """Move one occurrence (the next one by default) to another time."""
    ref = call[MEETING]
    meeting = await meetings.find(ctx.session, ref.meeting)
    _may_manage(ctx, meeting)
    before, after = await meetings.move(
        ctx.session, meeting, ref.occurrence, call[NEW_TIME], actor=ctx.actor, now=ctx.now
    )
    ctx.changed.add(REMINDERS.of(meeting.id))
    await tell_everyone(
        ctx.session,
        meeting,
        f"Moved: {meeting.title} (meeting {meetings.label(meeting, after)}) from {shown(before.start, meeting.zone)} "
        f"to {shown(after.start, meeting.zone)}.",
        buttons=rsvp_buttons(meeting, after),
    )
    return Reply(f"Moved to {shown(after.start, ctx.zone)}; everyone is told.")


async def meeting_edit(ctx: Context, call: Call) -> Reply:
    """Correct a meeting's title, link or duration; its rooms and guests are told."""
    meeting = await meetings.find(ctx.session, call[MEETING].meeting)
    _may_manage(ctx, meeting)
    link = call.get(LINK)
    fix = meetings.Corrections(
        title=call.get(NEW_TITLE),
        link=None if link is None else ("" if link.strip().lower() == "none" else link),
        duration_minutes=call.get(DURATION),
    )
    changes = await meetings.correct(ctx.session, meeting, fix, actor=ctx.actor, now=ctx.now)
    ctx.changed.add(REMINDERS.of(meeting.id))  # reminders name the title and the link
    await tell_everyone(
        ctx.session, meeting, f"Corrected: meeting {meeting.id} ({meeting.title}): {'; '.join(changes)}."
    )
    return Reply(f"Meeting {meeting.id} corrected ({'; '.join(changes)}); everyone is told.")


async def meeting_ics(ctx: Context, call: Call) -> Reply:
    """An iCalendar file: one meeting, or all of this group's."""
    ref = call.get(SOME_MEETING)
    if ref is not None:
        meeting = await meetings.find(ctx.session, ref.meeting)
        chosen, name = [meeting], f"meeting-{meeting.id}.ics"
    else:
        group = await ctx.require_group()
        chosen, name = await meetings.of_group(ctx.session, group), f"{group.slug}-meetings.ics"
        if not chosen:
            raise Refused(f"{group.name} has no meetings yet.")
    changes = await meetings.changes_of(ctx.session, [m.id for m in chosen])
    content = calendar.ics(chosen, changes)
    return Reply(
        f"{len(chosen)} meeting{'s' if len(chosen) != 1 else ''} as a calendar file:",
        file=OutgoingFile(name, "text/calendar", content),
    )


class FeedAct(enum.StrEnum):
    RENEW = "renew"


RENEW = Param("renew", arguments.one_of(FeedAct), required=False)


async def meeting_feed(ctx: Context, call: Call) -> Reply:
    """The group's calendar subscription link, privately; `renew` makes a new one (the chair)."""
    group = await ctx.require_group()
    base = ctx.settings.http.base_url
    if not base or ctx.settings.http.pages == "off":
        raise Refused(
            "The calendar feed is not served here: the operator sets [http] listen, pages and base_url "
            "first. /meeting ics sends the group's meetings as a file meanwhile."
        )
    if call.get(RENEW) is not None:
        if not may(Access.CHAIR, ctx.actor, group.id):
            raise Refused(REFUSALS[Access.CHAIR])
        await calendar_feeds.renew(ctx.session, group, ctx.actor.label)
        return Reply(
            f"{group.name}'s calendar link is renewed: the old one no longer works. "
            "Representatives ask /meeting feed for the new one."
        )
    token = await calendar_feeds.token_for(ctx.session, group, ctx.actor.label)
    url = f"{base}/calendar/{group.slug}.ics?token={token}"
    return await ctx.privately(
        f"{group.name}'s meetings as a calendar to subscribe to (Outlook: Add calendar › From internet; "
        f"Thunderbird: New calendar › On the network; Google: Other calendars › From URL):\n{url}\n"
        "It follows moves and cancellations. Keep it to the alliance: anyone with the link sees the "
        "group's meetings; the chair can renew it with /meeting feed renew.",
        "the calendar link",
    )


async def guest_invite(ctx: Context, call: Call) -> Reply:
    """Invite a person of a non-member organisation to a meeting: they get its reminders."""
    meeting = await meetings.find(ctx.session, call[INVITED_TO].meeting)
    _may_manage(ctx, meeting)
    person = call[GUEST]
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
        params=(WHEN, TITLE),
        options=(EVERY, UNTIL, DURATION, LINK, TZ),
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
        params=(MEETING,),
        anywhere=True,
    ),
    Command(
        "meeting cancel",
        "cancel one occurrence, or the series with all",
        meeting_cancel,
        Access.CHAIR,
        params=(MEETING,),
        flags=("all",),
    ),
    Command(
        "meeting move",
        "move one occurrence to another time",
        meeting_move,
        Access.CHAIR,
        params=(MEETING, NEW_TIME),
    ),
    Command(
        "meeting edit",
        "correct a meeting's title, link or duration",
        meeting_edit,
        Access.CHAIR,
        params=(MEETING,),
        options=(NEW_TITLE, LINK, DURATION),
        details='e.g. /meeting edit 12 title="PFAS monthly" link=https://meet.example.org/pfas duration=90m '
        "(link=none removes the link). The group's rooms and the meeting's guests are told.",
    ),
    Command(
        "meeting ics",
        "a calendar file of one meeting or of the group's",
        meeting_ics,
        Access.MEMBER,
        params=(SOME_MEETING,),
        anywhere=True,
    ),
    Command(
        "meeting feed",
        "a link that puts the group's meetings in your own calendar",
        meeting_feed,
        Access.MEMBER,
        params=(RENEW,),
        details="Sent to you privately; it follows moves and cancellations. "
        "/meeting feed renew (the chair, the secretariat) replaces it: the old link stops working.",
    ),
    Command(
        "guest invite",
        "invite a guest to a meeting",
        guest_invite,
        Access.CHAIR,
        params=(GUEST, INVITED_TO),
    ),
]
