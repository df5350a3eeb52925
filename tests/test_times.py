"""Every command that takes a time reads it in the zone the README names for it, and says which:
a meeting's own zone for its schedule and its moves, the reader's for votes, announcements and
deliverables. One table: each time-taking command, given by a chair in Lisbon about a PFAS
meeting in Brussels, for a day in winter and for a day after the spring change (today is in
January, so the offset now is not the offset then). What each person is told is what the
database holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from storage.models import Announcement, Deliverable, Meeting, Notice, OccurrenceChange, Vote
from tests.alliance import member_organisation, person

NOW = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)  # winter: Lisbon UTC+0, Brussels UTC+1
DAYS = {"winter": "2027-01-20", "summer": "2027-07-07"}  # summer: Lisbon UTC+1, Brussels UTC+2
OFFSET = {("winter", "Lisbon"): 0, ("winter", "Brussels"): 1, ("summer", "Lisbon"): 1, ("summer", "Brussels"): 2}
ZONE_NAME = {("winter", "Lisbon"): "WET", ("winter", "Brussels"): "CET"}
ZONE_NAME |= {("summer", "Lisbon"): "WEST", ("summer", "Brussels"): "CEST"}
IANA = {"Lisbon": "Europe/Lisbon", "Brussels": "Europe/Brussels"}


@dataclass(frozen=True)
class TimeTaking:
    """One command that takes a time, which zone it reads it in, and where the time lands."""

    name: str
    command: str  # with {when} for the time written
    read_in: str  # "Lisbon" (the chair's own zone) or "Brussels" (the meeting's)
    whose: str  # how the answer names that zone
    stored: str  # what the database holds: "meeting", "move", "vote", "announcement", "deliverable"


COMMANDS = [
    TimeTaking(
        "meeting schedule, tz= the meeting's",
        '/meeting schedule "{when}" "Budget" tz=Europe/Brussels',
        "Brussels",
        "the meeting's zone",
        "meeting",
    ),
    TimeTaking("meeting schedule, no tz=", '/meeting schedule "{when}" "Budget"', "Lisbon", "your zone", "meeting"),
    TimeTaking("meeting move", "/meeting move 1 {when}", "Brussels", "the meeting's zone", "move"),
    TimeTaking("vote open closes=", '/vote open "Adopt it?" closes="{when}"', "Lisbon", "your zone", "vote"),
    TimeTaking("announce at=", '/announce pfas at="{when}" Drafts are due.', "Lisbon", "your zone", "announcement"),
    TimeTaking("deliverable new due=", '/deliverable new "Roadmap" due="{when}"', "Lisbon", "your zone", "deliverable"),
]


@pytest.fixture
def clock():
    return lambda: NOW


@pytest.fixture
async def lisbon_chair(db, say):
    """Jana chairs PFAS from Lisbon (her /tz); PFAS already has a Brussels meeting, meeting 1."""
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas", "secretariat"))
    await say('/meeting schedule "2027-01-15 10:00" "Kick-off" tz=Europe/Brussels')
    await say("/tz Europe/Lisbon")


async def stored_moment(db, kind: str) -> datetime:
    async with db.transaction() as session:
        if kind == "meeting":
            return (await session.scalars(select(Meeting.first_start).order_by(Meeting.id.desc()))).first()
        if kind == "move":
            return await session.scalar(select(OccurrenceChange.moved_to))
        if kind == "vote":
            return await session.scalar(select(Vote.closes_at))
        if kind == "announcement":
            return await session.scalar(select(Announcement.due_at))
        return await session.scalar(select(Deliverable.due_at))


@pytest.mark.parametrize("season", list(DAYS))
@pytest.mark.parametrize("case", COMMANDS, ids=lambda c: c.name)
async def test_a_time_is_read_in_the_zone_its_command_names_and_the_answer_says_which(
    db, say, lisbon_chair, case, season
):
    written = f"{DAYS[season]} 14:30"
    answer = await say(case.command.format(when=written))

    expected = datetime.fromisoformat(f"{written}+00:00").replace(hour=14 - OFFSET[(season, case.read_in)])
    assert await stored_moment(db, case.stored) == expected, answer
    # The answer shows the wall-clock time as written, in the zone it was read in, and says whose it is.
    read = f"14:30 {ZONE_NAME[(season, case.read_in)]} ({IANA[case.read_in]}, {case.whose}"
    assert read in answer, answer
    if case.read_in == "Brussels":  # and the chair's own time beside it
        local = expected.replace(hour=14 + OFFSET[(season, "Lisbon")] - OFFSET[(season, "Brussels")])
        assert f" {local:%H:%M} {ZONE_NAME[(season, 'Lisbon')]} for you)" in answer, answer


async def test_a_moved_meeting_is_announced_at_the_time_the_chair_wrote_in_its_own_zone(db, say, lisbon_chair):
    """The pilot's trap: a chair in Lisbon moves a Brussels meeting to 14:30; the group is told
    14:30 CET, and the chair's confirmation says the same moment."""
    answer = await say("/meeting move 1 2027-01-13 14:30")
    async with db.transaction() as session:
        told = await session.scalar(select(Notice.text).where(Notice.text.like("Moved:%")))
    assert "to Wed 13 Jan 2027 14:30 CET" in told
    assert answer == (
        "Moved to Wed 13 Jan 2027 14:30 CET (Europe/Brussels, the meeting's zone; Wed 13 Jan 2027 13:30 WET for you); "
        "everyone is told."
    )
