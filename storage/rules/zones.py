"""A time zone's yearly rule, as a calendar's VTIMEZONE writes it (RFC 5545, 3.6.5).

Calendar programs read a VTIMEZONE most reliably in the form they write themselves: one STANDARD
and one DAYLIGHT observance, each with a yearly RRULE ("the last Sunday of March at 02:00").
The other form, a list of every transition as RDATEs, is what `icalendar` writes, and some
widely used readers misread it (summer occurrences an hour off). `vobject` writes the RRULE form
but dates the autumn change an hour late; so wgbot derives the rule itself, from the zone's
own transitions (zoneinfo), and checks it holds for the years that follow before using it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
YEARS_CHECKED = 3  # the rule must hold this many years from the one asked about
EARLIEST = 1970


@dataclass(frozen=True)
class Observance:
    """One STANDARD or DAYLIGHT block: from `start` (local wall time, in the offset before it),
    yearly by `rule` (None: once), offsets in seconds east of UTC."""

    daylight: bool
    start: datetime  # naive: a wall-clock time
    rule: str | None
    offset_from: int
    offset_to: int
    name: str


@cache  # a zone's rules do not change while the process runs
def yearly_observances(zone: str, year: int) -> list[Observance] | None:
    """The zone's observances as yearly rules that hold from `year` for YEARS_CHECKED years, each
    starting with the earliest year since 1970 from which it held; a zone without daylight
    saving is one STANDARD observance. None when the zone keeps no yearly rule (its changes move
    from year to year): then only a list of transitions describes it."""
    tz = ZoneInfo(zone)
    changes = _transitions(tz, year)
    if not changes:
        offset = _offset(tz, datetime(year, 1, 1, tzinfo=UTC))
        name = datetime(year, 1, 1, tzinfo=UTC).astimezone(tz).tzname() or zone
        return [Observance(False, datetime(EARLIEST, 1, 1), None, offset, offset, name)]
    rules = [_rule_of(change) for change in changes]
    for later in range(year + 1, year + YEARS_CHECKED):
        if [_rule_of(change) for change in _transitions(tz, later)] != rules:
            return None
    first = year
    while first > EARLIEST and [_rule_of(change) for change in _transitions(tz, first - 1)] == rules:
        first -= 1
    return [
        Observance(
            daylight=change.after > change.before if len(changes) == 2 else change.after != change.before,
            start=start.local,
            rule=f"FREQ=YEARLY;BYMONTH={start.local.month};BYDAY={rule[1]}",
            offset_from=change.before,
            offset_to=change.after,
            name=change.name,
        )
        for change, rule in zip(changes, rules, strict=True)
        for start in [next(c for c in _transitions(tz, first) if _rule_of(c) == rule)]
    ]


@dataclass(frozen=True)
class _Change:
    at: datetime  # UTC
    before: int
    after: int
    name: str

    @property
    def local(self) -> datetime:
        """The wall-clock time it happens at, in the offset before it (as DTSTART writes it)."""
        return (self.at + timedelta(seconds=self.before)).replace(tzinfo=None)


def _rule_of(change: _Change) -> tuple[int, str, int, int, int]:
    """(month, BYDAY, hour, minute, offsets): the same for each year a yearly rule holds."""
    local = change.local
    last = (local + timedelta(days=7)).month != local.month
    nth = -1 if last else (local.day - 1) // 7 + 1
    return (
        local.month,
        f"{nth}{WEEKDAYS[local.weekday()]}",
        local.hour * 60 + local.minute,
        change.before,
        change.after,
    )


def _transitions(tz: ZoneInfo, year: int) -> list[_Change]:
    """The zone's offset changes within the year, to the second."""
    found = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while day < end:
        following = day + timedelta(days=1)
        if _offset(tz, day) != _offset(tz, following):
            low, high = day, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if _offset(tz, middle) == _offset(tz, day) else (low, middle)
            after = high.astimezone(tz)
            found.append(
                _Change(high.replace(microsecond=0), _offset(tz, low), _offset(tz, high), after.tzname() or "")
            )
        day = following
    return found


def _offset(tz: ZoneInfo, moment: datetime) -> int:
    delta = moment.astimezone(tz).utcoffset()
    assert delta is not None
    return int(delta.total_seconds())
