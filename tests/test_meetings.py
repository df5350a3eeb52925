"""Meetings as a working group lives them: scheduled in the room, across daylight saving,
cancelled and moved with everyone told, RSVPs, agendas, minutes, guests, reminders sent once,
and calendars that other programs read right. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from sqlalchemy import select, update

from bot.config import MeetingSettings
from bot.router import Router
from bot.transports.base import AttachmentRef
from handlers import build_registry
from handlers.meetings.reminders import MeetingReminders, post_reminder
from storage import meetings, rooms
from storage.groups import find_group
from storage.models import (
    AuditEntry,
    Meeting,
    MeetingReminder,
    MeetingStatus,
    Minutes,
    Notice,
    OrganisationStatus,
    RoomPurpose,
    utcnow,
)
from storage.rules.recurrence import upcoming
from tests.alliance import member_organisation, message, person

BRUSSELS = ZoneInfo("Europe/Brussels")
# A weekly meeting across the last Sunday of October 2027, when Brussels leaves summer time.
WEEKLY = '/meeting schedule "2027-10-19 10:00" "PFAS weekly" every=week until=2027-11-09 duration=90m link=https://meet.example.org/pfas'


@pytest.fixture
async def pfas(db):
    """PFAS: Jana (ACME) chairs, Ola (Fab Nord) represents a member, Gus is a guest from a
    non-member, Sam is the secretariat; PFAS also has a Telegram group."""
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=("console:ola",))
    outsider = await member_organisation(db, "Consult Ltd", status=OrganisationStatus.NON_MEMBER)
    await person(db, "Gus Guest", organisation=outsider, accounts=("telegram:777",))
    await person(db, "Sam", accounts=("console:sam",), roles=("secretariat",))
    async with db.transaction() as session:
        group = await find_group(session, "pfas")
        await rooms.bind_room(
            session, actor="t", platform="telegram", room_id="-100", purpose=RoomPurpose.GROUP, group=group
        )


NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    return lambda: NOW


@pytest.fixture
def router(db, settings, clock) -> Router:
    """The shared router, reading the tests' "files", which carry their content in their id."""

    async def fetch(attachment: AttachmentRef, limit: int) -> bytes:
        return attachment.file_id.encode()

    return Router(db, build_registry(), settings, fetch=fetch, clock=clock)


async def posted(db, like: str) -> list[tuple[str, str]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(Notice.target, Notice.text).where(Notice.text.like(like)).order_by(Notice.id)
        )
        return [tuple(r) for r in rows]


async def test_a_weekly_meeting_keeps_its_local_time_across_the_october_change(say, db, pfas):
    answer = await say(WEEKLY)
    assert answer == (
        "Scheduled: PFAS weekly (meeting 1.1), Tue 19 Oct 2027 10:00 CEST (Europe/Brussels, the alliance's zone; "
        "/tz sets yours), 90 min. /meeting info 1 shows it."
    )
    info = await say("/meeting info 1")
    assert "Then: 1.2 Tue 26 Oct 2027 10:00 CEST; 1.3 Tue 02 Nov 2027 10:00 CET; 1.4 Tue 09 Nov 2027 10:00 CET" in info
    async with db.transaction() as session:
        meeting = await session.get(Meeting, 1)
    assert (meeting.first_start.hour, meeting.last_start.hour) == (8, 9)  # UTC: +2 in summer, +1 after
    announced = await posted(db, "New meeting of PFAS:%")
    assert [target for target, _ in announced] == ["pfas", "-100"]
    assert "Link: https://meet.example.org/pfas" in announced[0][1] and "/rsvp 1.1 yes|no|maybe" in announced[0][1]


async def test_the_calendar_file_parses_and_lists_the_right_occurrences(router, db, pfas, say):
    await say(WEEKLY)
    await say("/meeting cancel 1.2")
    await say('/meeting move 1.3 "2027-11-04 15:00"')
    reply = await router.handle(message("/meeting ics", sender="ola", room="pfas"))
    assert reply.file.name == "pfas-meetings.ics" and reply.file.media_type == "text/calendar"
    parsed = icalendar.Calendar.from_ical(reply.file.content)
    series = next(e for e in parsed.walk("VEVENT") if "RRULE" in e)
    assert series["RRULE"]["FREQ"] == ["WEEKLY"] and series["URL"] == "https://meet.example.org/pfas"
    assert str(series["DTSTART"].params["TZID"]) == "Europe/Brussels"
    assert any(tz["TZID"] == "Europe/Brussels" for tz in parsed.walk("VTIMEZONE"))
    starts = [
        e["DTSTART"].dt.astimezone(BRUSSELS).replace(tzinfo=None)
        for e in recurring_ical_events.of(parsed).between(date(2027, 10, 1), date(2027, 12, 1))
    ]
    assert sorted(starts) == [datetime(2027, 10, 19, 10), datetime(2027, 11, 4, 15), datetime(2027, 11, 9, 10)]


@pytest.mark.parametrize(
    ("command", "reason", "misread"),
    [
        ('/meeting schedule "2026-11-20 10:00" "Too late"', "is in the past", False),
        ('/meeting schedule "2027-01-12 10:00" Budget tz=Mars/Olympus', "Unknown time zone 'Mars/Olympus'", True),
        ('/meeting schedule "2027-01-12 10:00" Budget tz=Lisbon', "Did you mean Europe/Lisbon?", True),
        ('/meeting schedule "2027-01-12 10:00" Budget every=FREQ=WEEKLY', "needs an end: add until=", False),
        (
            '/meeting schedule "2027-01-12 10:00" Budget every=FREQ=MINUTELY;COUNT=3',
            "FREQ=DAILY|WEEKLY|MONTHLY|YEARLY",
            False,
        ),
        ('/meeting schedule "2027-01-12 10:00" Budget duration=forever', "duration= is like 90m", True),
        ('/meeting schedule "2027-01-12 10:00" Budget talk', "Too many arguments: 'talk'", True),
        ('/meeting schedule "whenever" Budget', "I cannot read 'whenever' as a time", True),
        ("/meeting cancel 1.9", "Meeting 1 has no occurrence 9", False),
        ("/meeting move 7 tomorrow", "No meeting 7", False),
        ("/rsvp 1.x yes", "'1.x' is not a meeting", True),
        ("/meeting shedule tomorrow Budget", "Unknown subcommand 'shedule'. Did you mean /meeting schedule?", True),
    ],
)
async def test_bad_input_is_refused_clearly_and_nothing_is_scheduled(say, db, pfas, command, reason, misread):
    """One line says what was wrong; the usage line follows only when the command was not written
    as it says (a word it cannot read, one too many), not when it asks what cannot be done."""
    await say('/meeting schedule "2027-01-12 10:00" Kick-off')
    answer = await say(command)
    assert reason in answer and ("\nUsage: /" in answer) == misread, answer
    async with db.transaction() as session:
        assert [m.title for m in await session.scalars(select(Meeting))] == ["Kick-off"]


async def test_rsvps_show_the_organisation_and_only_members_and_guests_answer(say, db, pfas):
    await say(WEEKLY)
    assert await say("/rsvp 1 yes") == (
        "Noted: yes for Jana Novak (ACME GmbH) — PFAS weekly (meeting 1.1), Tue 19 Oct 2027 10:00 CEST, 90 min."
    )
    assert (await say("/rsvp 1.1 maybe", sender="ola")).endswith("90 min.")
    assert "(was maybe)" in await say("/rsvp 1.1 no", sender="ola")
    stranger = await say("/rsvp 1 yes", sender="gus", platform="telegram", room="-100")
    assert stranger.startswith("Only member representatives and invited guests answer for a meeting.")
    assert (await say("/rsvp 1 perhaps")).startswith("Answer yes, no or maybe, not 'perhaps'.")
    info = await say("/meeting info 1.1")
    assert "Attending (1): Jana Novak (ACME GmbH)" in info and "Not attending (1): Ola Nordmann (Fab Nord AS)" in info


async def test_an_agenda_is_built_by_members_in_order(say, db, pfas):
    await say(WEEKLY)
    assert (
        await say('/meeting agenda 1 add "Budget 2027"', sender="ola")
        == "Added as item 1 of the agenda of meeting 1.1."
    )
    assert await say("/meeting agenda 1 add Roadmap v2") == "Added as item 2 of the agenda of meeting 1.1."
    listed = await say("/meeting agenda 1.1")
    assert listed.splitlines()[1:] == ["1. Budget 2027 (Ola Nordmann)", "2. Roadmap v2 (Jana Novak)"]
    assert "The agenda of meeting 1.2 is empty" in await say("/meeting agenda 1.2")


async def test_cancelling_and_moving_tell_everyone_and_are_audited(say, db, pfas):
    await say(WEEKLY)
    series = await say("/meeting cancel 1")
    assert series.startswith("Meeting 1 is a series: cancel one occurrence (1.N")
    assert (
        await say("/meeting cancel 1.2") == "Cancelled: PFAS weekly (meeting 1.2), Tue 26 Oct 2027 10:00 CEST, 90 min."
    )
    assert (await say('/meeting move 1.3 "2027-11-04 15:00"')).startswith("Moved to Thu 04 Nov 2027 15:00 CET")
    # Once per room: the room the chair typed in has the answer, the group's other room the notice.
    assert [t for t, _ in await posted(db, "Cancelled: PFAS weekly%")] == ["-100"]
    assert [
        t
        for t, _ in await posted(
            db, "Moved: PFAS weekly (meeting 1.3) from Tue 02 Nov 2027 10:00 CET to Thu 04 Nov 2027 15:00 CET."
        )
    ] == ["pfas", "-100"]
    listed = await say("/meeting list", sender="ola")
    assert [line.split(",")[0] for line in listed.splitlines()[1:]] == [
        "• PFAS weekly (meeting 1.1)",
        "• PFAS weekly (meeting 1.3)",
        "• PFAS weekly (meeting 1.4)",
    ]
    assert (await say("/meeting cancel 1 all")).endswith("is cancelled: the whole series.")
    assert "No meetings to come." in await say("/meeting list")
    async with db.transaction() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.action.like("meeting.%")).order_by(AuditEntry.id)
            )
        )
    assert actions == ["meeting.scheduled", "meeting.occurrence_cancelled", "meeting.moved", "meeting.cancelled"]


async def test_only_the_groups_chair_or_the_secretariat_manage_its_meetings(say, db, pfas):
    await say(WEEKLY)
    assert (await say("/meeting cancel 1.2", sender="ola")).startswith("Only the chair of this working group")
    assert (await say("/meeting cancel 1.2", room="skills")).startswith("Only the chair of this working group")
    assert (await say("/meeting cancel 1.2", sender="sam", room="skills")).startswith("Cancelled:")


async def test_minutes_are_kept_after_the_meeting_as_text_or_file(router, db, pfas, settings, say):
    await say(WEEKLY)
    too_early = await say("/meeting minutes 1.1 We agreed on the roadmap.")
    assert too_early.startswith("Meeting 1.1 has not taken place yet; minutes come after it.")
    async with db.transaction() as session:  # time passes: the first meeting took place
        await session.execute(
            update(Meeting).values(
                local_start=datetime(2026, 11, 3, 10), first_start=datetime(2026, 11, 3, 9, tzinfo=UTC)
            )
        )
    attachment = AttachmentRef("console", "Minutes: roadmap agreed.", "minutes.md", "text/markdown")
    kept = await say("/meeting minutes 1.1", attachments=(attachment,))
    assert kept.startswith("Minutes of meeting 1.1 kept: minutes.md (sha256 ")
    reply = await router.handle(message("/meeting minutes 1.1", sender="ola"))
    assert reply.file.name == "minutes.md" and reply.file.content == b"Minutes: roadmap agreed."
    assert (await say("/meeting minutes 1.1 My own version", sender="ola")).startswith("Only the group's chair")


async def test_a_guest_is_invited_to_one_meeting_and_gets_its_reminders_privately(say, db, pfas):
    await say(WEEKLY)
    assert (await say("/guest invite telegram:777 1")).startswith("Gus Guest is invited to meeting 1 (PFAS weekly)")
    assert (await say("/guest invite telegram:777 1")) == "Gus Guest is already invited to meeting 1."
    assert (await say("/rsvp 1 yes", sender="777", platform="telegram", room="-100")).startswith("Noted: yes for Gus")
    first = datetime(2027, 10, 19, 8, 0, tzinfo=UTC)
    due_at = first - timedelta(minutes=1440)
    async with db.transaction() as session:
        due = await meetings.claim_due_reminder(session, 1, [1440, 15], due_at)
        assert due is not None and due[1].minutes_before == 1440 and due[2] is False  # on time, not late
        await post_reminder(session, due[0], due[1].occurrence, False, due_at, "en")
    texts = await posted(db, "Reminder: PFAS weekly%")
    assert [t for t, _ in texts] == ["pfas", "-100", "777"]
    assert "Attending (1): Gus Guest (Consult Ltd)" in texts[0][1] and "starts in 24 hours" in texts[0][1]


async def test_a_reminder_is_claimed_once_even_when_fired_twice_at_once(db, pfas, settings, say):
    say = say.using(Router(db, build_registry(), settings))
    soon = (utcnow() + timedelta(minutes=20)).astimezone(BRUSSELS).strftime("%Y-%m-%d %H:%M:%S")
    await say(f'/meeting schedule "{soon} Europe/Brussels" Stand-up')
    async with db.transaction() as session:
        await session.execute(update(Meeting).values(created_at=utcnow() - timedelta(days=2)))
    reminders = MeetingReminders(db, MeetingSettings(reminder_minutes=[1440, 30]))
    results = await asyncio.gather(reminders.remind(1), reminders.remind(1))
    assert sorted(results) == [False, True]
    async with db.transaction() as session:
        marks = list(
            (
                await session.execute(
                    select(MeetingReminder.minutes_before, MeetingReminder.outcome).order_by(
                        MeetingReminder.minutes_before
                    )
                )
            ).tuples()
        )
    assert marks == [(30, "late"), (1440, "skipped")]  # both fell due while "down": only the latest goes, late
    texts = await posted(db, "Reminder: Stand-up%")
    assert len(texts) == 2 and all(
        "(Sent late: the bot was not running when this reminder was due.)" in t for _, t in texts
    )
    assert await reminders.remind(1) is False
    assert await reminders.plan() == []


async def test_tz_sets_the_zone_times_are_shown_in(say, db, pfas):
    assert await say("/tz") == "Your time zone is Europe/Brussels. /tz Europe/Lisbon changes it."
    assert (await say("/tz Europe/Lisbon")).startswith("Your time zone is now Europe/Lisbon")
    assert "Tue 19 Oct 2027 09:00 WEST" in await say(WEEKLY + " tz=Europe/Brussels")
    assert "Tue 19 Oct 2027 10:00 WEST" in await say('/meeting schedule "2027-10-19 10:00" "Lisbon time"')
    assert (await say("/tz Atlantis/Capital")).startswith("Unknown time zone 'Atlantis/Capital'")


async def a_meeting_that_took_place(say, db) -> None:
    await say(WEEKLY)
    async with db.transaction() as session:  # time passes: the first meeting took place
        await session.execute(
            update(Meeting).values(
                local_start=datetime(2026, 11, 3, 10), first_start=datetime(2026, 11, 3, 9, tzinfo=UTC)
            )
        )


@pytest.mark.parametrize(
    ("name", "content", "refusal"),
    [
        ("tool.exe", "MZ\x90\x00", "tool.exe is not a draft type"),
        ("empty.md", "", "empty.md is empty."),
        ("fake.pdf", "not a pdf", "fake.pdf does not contain what its name says"),
    ],
)
async def test_minutes_files_are_checked_like_drafts(db, pfas, say, name, content, refusal):
    await a_meeting_that_took_place(say, db)
    refused = await say("/meeting minutes 1.1", attachments=(AttachmentRef("console", content, name, "x/y"),))
    assert refused.startswith(refusal)
    async with db.transaction() as session:
        assert await session.scalar(select(Minutes.file_name)) is None


async def test_a_minutes_file_name_is_reduced_to_a_safe_base_name(router, db, pfas, say, settings):
    await a_meeting_that_took_place(say, db)
    hostile = AttachmentRef("console", "We agreed.", "../../../pwned\u202e.md", "text/markdown")
    kept = await say("/meeting minutes 1.1", attachments=(hostile,))
    assert kept.startswith("Minutes of meeting 1.1 kept: pwned.md (sha256 ")
    reply = await router.handle(message("/meeting minutes 1.1", sender="ola"))
    assert reply.file.name == "pwned.md"


async def test_the_next_meetings_are_the_soonest_of_many_series_as_time_passes(db, pfas, settings, tmp_path):
    """/meeting list reads series in the order of their stored lower bound: what it lists must
    be exactly the soonest occurrences of all series, whichever was scheduled first, after
    moves, and after occurrences have passed (when the stored bounds are stale)."""
    clock = [NOW]
    router = Router(db, build_registry(), settings, clock=lambda: clock[0])

    async def chair(text: str) -> str:
        reply = await router.handle(message(text, sender="jana", room="pfas"))
        assert reply is not None
        return reply.text

    for n in range(12):  # series scheduled late in the year first, sooner one-offs after them
        day = date(2027, 3, 1) + timedelta(days=3 * n)
        await chair(f'/meeting schedule "{day} 10:{n:02d}" "Series {n}" every=week until=2027-06-30')
    for n in range(12):
        day = date(2027, 2, 1) + timedelta(days=7 * n)
        await chair(f'/meeting schedule "{day} 09:00" "One-off {n}"')
    await chair('/meeting move 12.3 "2027-01-20 08:00"')  # an occurrence moved before every bound

    async def expected() -> list[str]:
        """The soonest ten occurrences, by expanding every series (what the list must equal)."""
        async with db.transaction() as session:
            every = list(await session.scalars(select(Meeting).where(Meeting.status == MeetingStatus.ACTIVE)))
            changes = await meetings.changes_of(session, [m.id for m in every])
        soonest = sorted(
            (o.start, meetings.label(m, o))
            for m in every
            for o in upcoming(meetings.series_of(m), changes.get(m.id), clock[0] - timedelta(minutes=90), 10)
        )
        return [label for _, label in soonest[:10]]

    for now in (
        NOW,
        datetime(2027, 2, 20, tzinfo=UTC),
        datetime(2027, 4, 2, tzinfo=UTC),
        datetime(2027, 6, 25, tzinfo=UTC),
    ):
        clock[0] = now
        shown = re.findall(r"\(meeting ([\d.]+)\)", await chair("/meeting list"))
        assert shown == await expected() and shown, now


async def test_the_chair_records_who_attended_and_the_minutes_and_the_export_show_it(db, pfas, settings):
    clock = [NOW]
    router = Router(db, build_registry(), settings, clock=lambda: clock[0])

    async def said(text: str, sender: str = "jana", room: str = "pfas") -> str:
        reply = await router.handle(message(text, sender=sender, room=room))
        assert reply is not None
        return reply.text

    await said('/meeting schedule "2026-12-01 10:00" "PFAS sync"')
    await said("/rsvp 1 yes", sender="ola")
    await said("/rsvp 1 maybe")
    early = await said("/meeting attended 1 ACME GmbH")
    assert early.startswith("Meeting 1 has not taken place yet")
    clock[0] = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # 10:30 in Brussels: under way
    assert (await said("/meeting attended 1 ACME GmbH", sender="ola")).startswith(
        "Only the group's chair or the secretariat record who attended."
    )
    assert (await said("/meeting attended 1 Nobody Ltd")).startswith("No organisation 'Nobody Ltd'")
    await member_organisation(db, "Skills Only BV", joins=("skills",))
    assert await said("/meeting attended 1 ACME GmbH, Skills Only BV") == (
        "Skills Only BV takes no part in PFAS, and no one of it was invited to meeting 1: /guest invite invites a "
        "person first."
    )
    assert (await said("/meeting attended 1 Consult Ltd")).startswith("Consult Ltd takes no part in PFAS")
    assert (await said('/guest invite "Gus Guest" 1')).startswith("Gus Guest is invited to meeting 1")
    assert await said("/meeting attended 1 ACME GmbH, acme gmbh") == (
        "Attendance of meeting 1 recorded: ACME GmbH (1 organisation)."
    )
    assert await said("/meeting attended 1 Consult Ltd, ACME GmbH") == (  # recorded again: it replaces the list
        "Attendance of meeting 1 recorded: ACME GmbH, Consult Ltd (guest) (2 organisations)."
    )
    await said("/meeting minutes 1 Budget agreed.")
    assert (await said("/meeting minutes 1", sender="ola")).splitlines()[1:] == [
        "Present: ACME GmbH, Consult Ltd (guest).",
        "Budget agreed.",
    ]
    await router.handle(message("/whoami", sender="sam", room="secretariat"))
    exported = await router.handle(message("/export attendance", sender="sam", room="secretariat"))
    rows = list(csv.DictReader(io.StringIO(exported.file.content.decode("utf-8-sig"))))
    assert [(r["meeting"], r["start"], r["organisation"], r["rsvp"], r["present"], r["as_guest"]) for r in rows] == [
        ("1", "2026-12-01T09:00+00:00", "ACME GmbH", "maybe", "yes", ""),
        ("1", "2026-12-01T09:00+00:00", "Consult Ltd", "", "yes", "yes"),
        ("1", "2026-12-01T09:00+00:00", "Fab Nord AS", "yes", "no", ""),
    ]


async def test_the_chair_corrects_a_meeting_and_its_agenda_and_everyone_is_told(db, pfas, say):
    await say(WEEKLY)
    fixed = await say('/meeting edit 1 title="PFAS weekly sync" link=none duration=60m')
    assert fixed == (
        "Meeting 1 corrected (title: PFAS weekly → PFAS weekly sync; link: https://meet.example.org/pfas → none; "
        "duration (minutes): 90 → 60); everyone is told."
    )
    assert [target for target, _ in await posted(db, "Corrected: meeting 1 (PFAS weekly sync): title:%")] == [
        "pfas",
        "-100",
    ]
    info = await say("/meeting info 1")
    assert "PFAS weekly sync" in info and "60 min" in info and "meet.example.org" not in info
    assert (await say("/meeting edit 1 duration=60m")).startswith("Nothing to change: give title=, link= or duration=")
    assert (await say('/meeting edit 1 title="Mine now"', sender="ola")).startswith(
        "Only the chair of this working group or the secretariat may do this."
    )

    await say('/meeting agenda 1 add "Budget"')
    await say('/meeting agenda 1 add "AOB"')
    assert (await say("/meeting agenda 1 remove 1", sender="ola")).startswith(
        "Only the group's chair or the secretariat remove agenda items."
    )
    assert await say("/meeting agenda 1 remove 1") == "Removed item 1 (Budget) from the agenda of meeting 1.1."
    assert (await say("/meeting agenda 1")).splitlines()[1:] == ["1. AOB (Jana Novak)"]
    assert (await say("/meeting agenda 1 remove 5")).startswith(
        "The agenda of meeting 1.1 has 1 item; there is no item 5."
    )
    async with db.transaction() as session:
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.subject == "meeting:1")))
    assert "meeting.edited" in actions and "meeting.agenda_item_removed" in actions
