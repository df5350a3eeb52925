"""/meeting: schedule a group's meetings, list them, cancel or move them, export them as .ics."""

from __future__ import annotations

import enum
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot import arguments
from bot.commands import Call, Command, Option, Param, at_most
from bot.context import MEETING_ZONE, Context
from bot.i18n import Language, language
from bot.timeparse import parse_when
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
from storage.rules.text import N_, Words

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
NEW_TIME = Param("when", at_most(100), rest=True)  # read in the meeting's zone, once it is known
GUEST = Param("person", records.person)
INVITED_TO = Param("meeting", meeting_ref)


def _until(text: str, zone: str, now: datetime, language: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return parse_when(text, zone, now, language).astimezone(ZoneInfo(zone)).date()


def _may_manage(ctx: Context, meeting: Meeting) -> None:
    if meeting.group_id != ctx.require_group_id() and not ctx.actor.is_secretariat:
        raise Refused(
            "Meeting {id} belongs to {name}; manage it in that group's room.", id=meeting.id, name=meeting.group.name
        )


def _recurrence(meeting: Meeting, lang: Language) -> str:
    if meeting.rule is None:
        return ""
    # TRANSLATORS: {rule} is how often, already in your words: "every week on Tuesday".
    return "\n" + lang._(
        "Repeats {rule}, until {until}.",
        rule=lang.say(describe(meeting.rule)),
        until=lang.moment(meeting.last_start, meeting.zone),
    )


async def meeting_schedule(ctx: Context, call: Call) -> Reply:
    """Schedule a one-off or recurring meeting of this group, its times read in its zone (tz=,
    else the reader's)."""
    group = await ctx.require_group()
    zone = call.get(TZ) or ctx.zone
    whose = MEETING_ZONE if call.given(TZ) else ctx.whose_zone
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

    def news(lang: Language) -> str:
        lines = [
            lang._(
                "New meeting of {group}: {meeting}.",
                group=group.name,
                meeting=where(meeting, first, meeting.zone, lang),
            )
        ]
        lines[0] += _recurrence(meeting, lang)
        if meeting.link:
            lines.append(lang._("Link: {link}", link=meeting.link))
        answers = "|".join(lang.choice(answer) for answer in meetings.ANSWERS)
        lines.append(
            lang._("Will you attend? /rsvp {label} {answers}", label=meetings.label(meeting, first), answers=answers)
        )
        return "\n".join(lines)

    await tell_everyone(
        ctx.session, meeting, news, ctx.settings.alliance.language, buttons=rsvp_buttons(meeting, first)
    )
    read = ctx.lang.read_in(first.start, meeting.zone, whose, ctx.zone)
    return Reply(
        ctx.lang._(
            "Scheduled: {meeting}. /meeting info {id} shows it.",
            meeting=where(meeting, first, meeting.zone, ctx.lang, when=read),
            id=meeting.id,
        )
    )


async def meeting_list(ctx: Context, call: Call) -> Reply:
    """The next meetings of this group (of every group in a private chat)."""
    group = await ctx.group()
    found = await meetings.upcoming_in(ctx.session, group, ctx.now)
    lang = ctx.lang
    if not found:
        return Reply(lang._("No meetings to come. A chair schedules one with /meeting schedule."))
    lines = [lang._("Next meetings:") if group is None else lang._("Next meetings of {group}:", group=group.name)]
    lines += [f"• {where(m, o, ctx.zone, lang)}" + ("" if group else f" — {m.group.name}") for m, o in found]
    return Reply("\n".join(lines))


async def meeting_info(ctx: Context, call: Call) -> Reply:
    """One meeting: its time, link, agenda, who comes, and the next occurrences of a series."""
    ref = call[MEETING]
    meeting, number = await meetings.find(ctx.session, ref.meeting), ref.occurrence
    lang = ctx.lang
    if meeting.status == MeetingStatus.CANCELLED:
        return Reply(
            lang._(
                "Meeting {id} ({title}, {group}) is cancelled.",
                id=meeting.id,
                title=meeting.title,
                group=meeting.group.name,
            )
        )
    target = await meetings.pick(ctx.session, meeting, number, ctx.now)
    about = {"meeting": where(meeting, target, ctx.zone, lang), "group": meeting.group.name}
    lines = [
        lang._("{meeting} — {group} — CANCELLED", **about)
        if target.cancelled
        else f"{about['meeting']} — {about['group']}"
    ]
    if meeting.link:
        lines.append(lang._("Link: {link}", link=meeting.link))
    lines += await describe_occurrence(ctx.session, meeting, target, lang)
    if meeting.rule is not None:
        changes = (await meetings.changes_of(ctx.session, [meeting.id])).get(meeting.id)
        ahead = upcoming(meetings.series_of(meeting), changes, target.start, limit=4)
        rule = lang.say(describe(meeting.rule))
        then = "; ".join(f"{meetings.label(meeting, o)} {lang.moment(o.start, ctx.zone)}" for o in ahead)
        lines.append(
            lang._("Repeats {rule}. Then: {then}", rule=rule, then=then)
            if ahead
            else lang._("Repeats {rule}; that was the last one.", rule=rule)
        )
    minutes = await meetings.minutes_of(ctx.session, meeting.id, target.number)
    if minutes:
        label = meetings.label(meeting, target)
        lines.append(
            lang._("Minutes: {file} — /meeting minutes {label}", file=minutes.file_name, label=label)
            if minutes.file_name
            else lang._("Minutes: as text — /meeting minutes {label}", label=label)
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

    def text(lang: Language) -> str:
        if cancelled is None:
            return lang._("Meeting {id} ({title}) is cancelled: the whole series.", id=meeting.id, title=meeting.title)
        return lang._("Cancelled: {meeting}.", meeting=where(meeting, cancelled, meeting.zone, lang))

    await tell_everyone(ctx.session, meeting, text, ctx.settings.alliance.language)
    return Reply(text(ctx.lang))


async def meeting_move(ctx: Context, call: Call) -> Reply:
    """Move one occurrence (the next one by default) to another time, read in the meeting's zone."""
    ref = call[MEETING]
    meeting = await meetings.find(ctx.session, ref.meeting)
    _may_manage(ctx, meeting)
    to = parse_when(call[NEW_TIME], meeting.zone, ctx.now, ctx.reader.code)
    before, after = await meetings.move(ctx.session, meeting, ref.occurrence, to, actor=ctx.actor, now=ctx.now)
    ctx.changed.add(REMINDERS.of(meeting.id))

    def text(lang: Language) -> str:
        return lang._(
            "Moved: {title} (meeting {label}) from {before} to {after}.",
            title=meeting.title,
            label=meetings.label(meeting, after),
            before=lang.moment(before.start, meeting.zone),
            after=lang.moment(after.start, meeting.zone),
        )

    await tell_everyone(
        ctx.session, meeting, text, ctx.settings.alliance.language, buttons=rsvp_buttons(meeting, after)
    )
    when = ctx.lang.read_in(after.start, meeting.zone, MEETING_ZONE, ctx.zone)
    return Reply(ctx.lang._("Moved to {when}; everyone is told.", when=when))


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
        ctx.session,
        meeting,
        lambda lang: lang._(
            "Corrected: meeting {id} ({title}): {changes}.",
            id=meeting.id,
            title=meeting.title,
            changes="; ".join(lang.say(change) for change in changes),
        ),
        ctx.settings.alliance.language,
    )
    done = "; ".join(ctx.lang.say(change) for change in changes)
    return Reply(ctx.lang._("Meeting {id} corrected ({changes}); everyone is told.", id=meeting.id, changes=done))


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
            raise Refused("{group} has no meetings yet.", group=group.name)
    changes = await meetings.changes_of(ctx.session, [m.id for m in chosen])
    content = calendar.ics(chosen, changes, lang=ctx.lang)
    return Reply(
        ctx.lang.n_("{count} meeting as a calendar file:", "{count} meetings as a calendar file:", len(chosen)),
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
            ctx.lang._(
                "{group}'s calendar link is renewed: the old one no longer works. "
                "Representatives ask /meeting feed for the new one.",
                group=group.name,
            )
        )
    token = await calendar_feeds.token_for(ctx.session, group, ctx.actor.label)
    url = f"{base}/calendar/{group.slug}.ics?token={token}"
    return await ctx.privately(
        ctx.reader._(
            "{group}'s meetings as a calendar to subscribe to (Outlook: Add calendar › From internet; "
            "Thunderbird: New calendar › On the network; Google: Other calendars › From URL):\n{url}\n"
            "It follows moves and cancellations. Keep it to the alliance: anyone with the link sees the "
            "group's meetings; the chair can renew it with /meeting feed renew.",
            group=group.name,
            url=url,
        ),
        Words(
            "I have sent the calendar link to you in a private chat. If it does not arrive, open a private chat "
            "with me and ask there."
        ),
    )


async def guest_invite(ctx: Context, call: Call) -> Reply:
    """Invite a person of a non-member organisation to a meeting: they get its reminders."""
    meeting = await meetings.find(ctx.session, call[INVITED_TO].meeting)
    _may_manage(ctx, meeting)
    person = call[GUEST]
    lang = ctx.lang
    if not await meetings.invite(ctx.session, meeting, person, ctx.actor, ctx.now):
        return Reply(lang._("{name} is already invited to meeting {id}.", name=person.name, id=meeting.id))
    guest = language(person.language, ctx.settings.alliance.language)
    reached = await notices.to_person(
        ctx.session,
        person.id,
        guest._(
            "You are invited to {title} of {group} (meeting {id}). "
            "You will get its reminders; /rsvp {id} yes|no|maybe tells the chair whether you come.",
            title=meeting.title,
            group=meeting.group.name,
            id=meeting.id,
        ),
    )
    invited = {"name": person.name, "id": meeting.id, "title": meeting.title}
    if reached:
        return Reply(lang._("{name} is invited to meeting {id} ({title}) and gets its reminders.", **invited))
    return Reply(
        lang._(
            "{name} is invited to meeting {id} ({title}) and gets its reminders. "
            "{name} has no chat account linked, so they cannot be told or reminded yet.",
            **invited,
        )
    )


COMMANDS = [
    Command(
        "meeting schedule",
        "schedule a meeting of this group",
        meeting_schedule,
        Access.CHAIR,
        params=(WHEN, TITLE),
        options=(EVERY, UNTIL, DURATION, LINK, TZ),
        details=N_(
            'Quote what has spaces: /meeting schedule "next tuesday 14:30" "PFAS monthly" every=month '
            "until=2027-06-30. every=month keeps the weekday (the first Tuesday stays the first Tuesday). "
            "A recurring meeting needs until= (or COUNT/UNTIL in its RRULE)."
        ),
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
        details=N_(
            'e.g. /meeting edit 12 title="PFAS monthly" link=https://meet.example.org/pfas duration=90m '
            "(link=none removes the link). The group's rooms and the meeting's guests are told."
        ),
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
        details=N_(
            "Sent to you privately; it follows moves and cancellations. "
            "/meeting feed renew (the chair, the secretariat) replaces it: the old link stops working."
        ),
    ),
    Command(
        "guest invite",
        "invite a guest to a meeting",
        guest_invite,
        Access.CHAIR,
        params=(GUEST, INVITED_TO),
    ),
]
