"""When meetings fall: wall-clock times kept across daylight saving, stable numbering, honest
refusals for rules that never end or run too often."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.rules.recurrence import (
    MAX_OCCURRENCES,
    RuleError,
    Series,
    describe,
    make_rule,
    occurrence,
    occurrences,
    upcoming,
)

BRUSSELS = "Europe/Brussels"
UTC = UTC


@dataclass
class Change:
    cancelled: bool = False
    moved_to: datetime | None = None


def local(moment: datetime, zone: str = BRUSSELS) -> datetime:
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def test_a_weekly_meeting_keeps_ten_oclock_across_the_october_change():
    start = datetime(2026, 10, 13, 10, 0)  # Tuesday; Brussels leaves summer time on 25 October
    series = Series(start, BRUSSELS, make_rule("week", start, BRUSSELS, date(2026, 11, 10)))
    starts = [o.start for o in occurrences(series)]
    assert [local(s) for s in starts] == [datetime(2026, 10, d, 10, 0) for d in (13, 20, 27)] + [
        datetime(2026, 11, d, 10, 0) for d in (3, 10)
    ]
    assert [s.hour for s in starts] == [8, 8, 9, 9, 9]  # in UTC: summer +2, then winter +1


def test_every_month_means_the_same_weekday_of_the_month():
    first_tuesday = datetime(2026, 12, 1, 14, 0)
    series = Series(first_tuesday, BRUSSELS, make_rule("month", first_tuesday, BRUSSELS, date(2027, 3, 31)))
    assert [local(o.start).date() for o in occurrences(series)] == [
        date(2026, 12, 1),
        date(2027, 1, 5),
        date(2027, 2, 2),
        date(2027, 3, 2),
    ]
    last_thursday = datetime(2026, 12, 31, 9, 0)
    rule = make_rule("month", last_thursday, BRUSSELS, date(2027, 2, 28))
    assert "BYDAY=-1TH" in rule
    assert [local(o.start).date() for o in occurrences(Series(last_thursday, BRUSSELS, rule))] == [
        date(2026, 12, 31),
        date(2027, 1, 28),
        date(2027, 2, 25),
    ]


def test_an_rrule_with_a_local_until_is_kept_in_utc_and_works():
    start = datetime(2026, 12, 2, 9, 30)
    rule = make_rule("FREQ=WEEKLY;BYDAY=WE;UNTIL=20261223", start, BRUSSELS, None)
    assert rule == "FREQ=WEEKLY;BYDAY=WE;UNTIL=20261223T225959Z"
    assert len(list(occurrences(Series(start, BRUSSELS, rule)))) == 4


@pytest.mark.parametrize(
    ("every", "until", "reason"),
    [
        ("week", None, "needs an end"),
        ("FREQ=HOURLY;COUNT=5", None, "FREQ=DAILY|WEEKLY|MONTHLY|YEARLY"),
        ("fortnightly", date(2027, 1, 1), "not 'fortnightly'"),
        ("FREQ=WEEKLY;COUNT=3", date(2027, 1, 1), "Give the end once"),
        ("FREQ=DAILY;UNTIL=20400101", None, f"more than {MAX_OCCURRENCES} occurrences"),
        ("FREQ=WEEKLY;BYDAY=XX;COUNT=2", None, "cannot be read"),
        ("FREQ=WEEKLY;UNTIL=20200101", None, "no occurrence at all"),
    ],
)
def test_a_rule_that_cannot_be_used_is_refused_with_the_reason(every, until, reason):
    with pytest.raises(RuleError, match=reason):
        make_rule(every, datetime(2026, 12, 1, 10), BRUSSELS, until)


def test_numbers_stay_when_an_occurrence_is_cancelled_or_moved():
    start = datetime(2026, 12, 1, 10, 0)
    series = Series(start, BRUSSELS, make_rule("FREQ=WEEKLY;COUNT=4", start, BRUSSELS, None))
    moved_to = datetime(2026, 12, 16, 15, 0, tzinfo=UTC)
    changes = {2: Change(cancelled=True), 3: Change(moved_to=moved_to)}
    listed = list(occurrences(series, changes))
    assert [(o.number, o.cancelled, o.moved) for o in listed] == [
        (1, False, False),
        (2, True, False),
        (3, False, True),
        (4, False, False),
    ]
    assert occurrence(series, changes, 3).start == moved_to
    assert occurrence(series, changes, 5) is None and occurrence(series, changes, 0) is None


def test_upcoming_skips_cancelled_ones_and_finds_a_late_occurrence_moved_early():
    start = datetime(2026, 12, 1, 10, 0)
    series = Series(start, BRUSSELS, make_rule("FREQ=WEEKLY;COUNT=10", start, BRUSSELS, None))
    now = datetime(2026, 11, 30, tzinfo=UTC)
    early = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    changes = {1: Change(cancelled=True), 9: Change(moved_to=early)}
    assert [o.number for o in upcoming(series, changes, now, limit=3)] == [9, 2, 3]


@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31)),
    st.sampled_from(["Europe/Brussels", "Europe/Lisbon", "America/New_York", "Asia/Tokyo"]),
    st.sampled_from(["week", "2weeks", "month"]),
)
def test_every_occurrence_keeps_the_first_ones_wall_clock_time(start, zone, every):
    start = start.replace(second=0, microsecond=0)
    series = Series(start, zone, make_rule(every, start, zone, (start + timedelta(days=400)).date()))
    for found in occurrences(series):
        wall = local(found.start, zone)
        intended = datetime.combine(wall.date(), start.time())
        exists = local(intended.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC), zone) == intended  # not in a gap
        if exists:
            assert (wall.hour, wall.minute) == (start.hour, start.minute)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=WEEKLY;UNTIL=20270630T215959Z", "every week"),
        ("FREQ=WEEKLY;INTERVAL=2;UNTIL=20270630T215959Z", "every 2 weeks"),
        ("FREQ=MONTHLY;BYDAY=+1TU;UNTIL=20270630T215959Z", "every month on the first Tuesday"),
        ("FREQ=MONTHLY;BYDAY=-1TH;COUNT=6", "every month on the last Thursday, 6 occurrences"),
        ("FREQ=WEEKLY;BYDAY=WE;COUNT=4", "every week on Wednesday, 4 occurrences"),
        ("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4", "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4"),
    ],
)
def test_a_rule_is_described_in_words_where_it_can_be(rule, words):
    assert str(describe(rule)) == words
