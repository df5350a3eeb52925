"""When a meeting's occurrences fall: RFC 5545 rules (python-dateutil) on wall-clock time.

A series is its first start as wall-clock time in its zone plus a rule. The rule runs on the
zone-aware start, and dateutil steps wall-clock fields, so a weekly 10:00 in Europe/Brussels
is 10:00 in winter and in summer (09:00 or 08:00 UTC). Occurrences are numbered from 1 in the
rule's order; cancelling or moving one never renumbers the others. Pure functions, no storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Protocol
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from storage.rules.text import N_, Words, n_words, quote

MAX_OCCURRENCES = 520  # ten years of weekly meetings
SHORTHANDS = {"week": "FREQ=WEEKLY", "weekly": "FREQ=WEEKLY", "2weeks": "FREQ=WEEKLY;INTERVAL=2", "day": "FREQ=DAILY"}
ALLOWED_FREQUENCIES = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
_WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


class RuleError(ValueError):
    """A recurrence that cannot be used, with the reason in words."""


class Change(Protocol):
    cancelled: bool
    moved_to: datetime | None


@dataclass(frozen=True)
class Series:
    local_start: datetime  # naive wall-clock time in `zone`
    zone: str
    rule: str | None = None  # canonical RRULE body (UNTIL in UTC), None for a one-off

    @property
    def first_start(self) -> datetime:
        return to_utc(self.local_start, self.zone)


@dataclass(frozen=True)
class Occurrence:
    number: int
    start: datetime  # UTC: where it is now
    planned: datetime  # UTC: where the rule put it
    cancelled: bool = False

    @property
    def moved(self) -> bool:
        return self.start != self.planned


def to_utc(local: datetime, zone: str) -> datetime:
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def monthly_like(local_start: datetime) -> str:
    """ "The same weekday of the month": the 1st Tuesday stays the 1st Tuesday; a date in the
    last seven days of its month becomes "the last Tuesday", which every month has."""
    weekday = _WEEKDAYS[local_start.weekday()]
    next_month = (local_start.replace(day=28) + timedelta(days=4)).replace(day=1)
    if (next_month - local_start.replace(hour=0, minute=0)).days <= 7:
        return f"FREQ=MONTHLY;BYDAY=-1{weekday}"
    return f"FREQ=MONTHLY;BYDAY=+{(local_start.day - 1) // 7 + 1}{weekday}"


def make_rule(every: str, local_start: datetime, zone: str, until: date | None) -> str:
    """The canonical rule for `every=` (week, 2weeks, month, or an RRULE) ending by `until`.

    Raises RuleError for a rule that never ends, repeats more often than daily or more than
    MAX_OCCURRENCES times, or that dateutil cannot read.
    """
    text = every.strip()
    if text.lower() in SHORTHANDS:
        body = SHORTHANDS[text.lower()]
    elif text.lower() in ("month", "monthly"):
        body = monthly_like(local_start)
    else:
        body = text.upper().removeprefix("RRULE:")
    parts = _parts(body) if "=" in body else {}
    if parts.get("FREQ") not in ALLOWED_FREQUENCIES:
        raise RuleError(
            f"every= is week, 2weeks, month or an RRULE with FREQ=DAILY|WEEKLY|MONTHLY|YEARLY, not {quote(every)}."
        )
    if until is not None:
        if "COUNT" in parts or "UNTIL" in parts:
            raise RuleError("Give the end once: until= or the rule's own COUNT/UNTIL, not both.")
        parts["UNTIL"] = _utc_stamp(to_utc(datetime.combine(until, time(23, 59, 59)), zone))
    elif "UNTIL" in parts and not parts["UNTIL"].endswith("Z"):
        parts["UNTIL"] = _utc_stamp(to_utc(_read_stamp(parts["UNTIL"]), zone))
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise RuleError(
            "A recurring meeting needs an end: add until=<date> (e.g. until=2027-06-30) or COUNT= to the rule."
        )
    rule = ";".join(f"{key}={value}" for key, value in parts.items())
    series = Series(local_start, zone, rule)
    count = sum(1 for _ in islice(_planned(series), MAX_OCCURRENCES + 1))
    if count > MAX_OCCURRENCES:
        raise RuleError(f"That is more than {MAX_OCCURRENCES} occurrences; end the series sooner.")
    if count == 0:
        raise RuleError("That rule gives no occurrence at all; check its end and its days.")
    return rule


# How often a series repeats, by its interval: "every week", "every 2 weeks".
_EVERY: dict[str, Callable[[int], Words]] = {
    "DAILY": lambda n: Words("every day") if n == 1 else n_words("every {count} day", "every {count} days", n),
    "WEEKLY": lambda n: Words("every week") if n == 1 else n_words("every {count} week", "every {count} weeks", n),
    "MONTHLY": lambda n: Words("every month") if n == 1 else n_words("every {count} month", "every {count} months", n),
    "YEARLY": lambda n: Words("every year") if n == 1 else n_words("every {count} year", "every {count} years", n),
}
_ON_DAY = {
    "MO": N_("on Monday"),
    "TU": N_("on Tuesday"),
    "WE": N_("on Wednesday"),
    "TH": N_("on Thursday"),
    "FR": N_("on Friday"),
    "SA": N_("on Saturday"),
    "SU": N_("on Sunday"),
}
# Each weekday with each position is one message: the ordinal agrees with the day in many
# languages ("am ersten Montag", "w pierwszą środę", "la prima domenica").
_ON_NTH_DAY = {
    ("1", "MO"): N_("on the first Monday"),
    ("1", "TU"): N_("on the first Tuesday"),
    ("1", "WE"): N_("on the first Wednesday"),
    ("1", "TH"): N_("on the first Thursday"),
    ("1", "FR"): N_("on the first Friday"),
    ("1", "SA"): N_("on the first Saturday"),
    ("1", "SU"): N_("on the first Sunday"),
    ("2", "MO"): N_("on the second Monday"),
    ("2", "TU"): N_("on the second Tuesday"),
    ("2", "WE"): N_("on the second Wednesday"),
    ("2", "TH"): N_("on the second Thursday"),
    ("2", "FR"): N_("on the second Friday"),
    ("2", "SA"): N_("on the second Saturday"),
    ("2", "SU"): N_("on the second Sunday"),
    ("3", "MO"): N_("on the third Monday"),
    ("3", "TU"): N_("on the third Tuesday"),
    ("3", "WE"): N_("on the third Wednesday"),
    ("3", "TH"): N_("on the third Thursday"),
    ("3", "FR"): N_("on the third Friday"),
    ("3", "SA"): N_("on the third Saturday"),
    ("3", "SU"): N_("on the third Sunday"),
    ("4", "MO"): N_("on the fourth Monday"),
    ("4", "TU"): N_("on the fourth Tuesday"),
    ("4", "WE"): N_("on the fourth Wednesday"),
    ("4", "TH"): N_("on the fourth Thursday"),
    ("4", "FR"): N_("on the fourth Friday"),
    ("4", "SA"): N_("on the fourth Saturday"),
    ("4", "SU"): N_("on the fourth Sunday"),
    ("-1", "MO"): N_("on the last Monday"),
    ("-1", "TU"): N_("on the last Tuesday"),
    ("-1", "WE"): N_("on the last Wednesday"),
    ("-1", "TH"): N_("on the last Thursday"),
    ("-1", "FR"): N_("on the last Friday"),
    ("-1", "SA"): N_("on the last Saturday"),
    ("-1", "SU"): N_("on the last Sunday"),
}


def describe(rule: str) -> Words:
    """The rule in words for the common cases ("every 2 weeks", "every month on the first
    Tuesday"), each case one message a translator can word whole; anything else as the rule
    itself, which no language words differently."""
    parts = _parts(rule)
    frequency = parts.get("FREQ", "")
    known = {"FREQ", "INTERVAL", "UNTIL", "COUNT", "BYDAY"}
    if frequency not in _EVERY or set(parts) - known:
        return Words(rule)
    every = _EVERY[frequency](int(parts.get("INTERVAL", "1")))
    day = parts.get("BYDAY")
    if day:
        position, weekday = day[:-2].lstrip("+"), day[-2:]
        if "," in day or weekday not in _WEEKDAYS:
            return Words(rule)
        if not position:
            every = Words("{every} {on_day}", {"every": every, "on_day": Words(_ON_DAY[weekday])})
        elif frequency == "MONTHLY" and (position, weekday) in _ON_NTH_DAY:
            every = Words("{every} {on_day}", {"every": every, "on_day": Words(_ON_NTH_DAY[position, weekday])})
        else:
            return Words(rule)
    if "COUNT" in parts:
        return n_words("{rule}, {count} occurrence", "{rule}, {count} occurrences", int(parts["COUNT"]), rule=every)
    return every


def _parts(body: str) -> dict[str, str]:
    parts = {}
    for item in filter(None, body.split(";")):
        key, sep, value = item.partition("=")
        if not sep or not value:
            raise RuleError(f"{quote(item)} in the rule is not KEY=VALUE.")
        parts[key.strip()] = value.strip()
    return parts


def _read_stamp(text: str) -> datetime:
    for pattern in ("%Y%m%dT%H%M%S", "%Y%m%d"):
        try:
            stamp = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return stamp if pattern != "%Y%m%d" else stamp.replace(hour=23, minute=59, second=59)
    raise RuleError(f"UNTIL={text} is not a date such as 20270630 or 20270630T235959Z.")


def _utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _planned(series: Series) -> Iterator[datetime]:
    """The rule's starts in UTC, in order."""
    aware = series.local_start.replace(tzinfo=ZoneInfo(series.zone))
    if series.rule is None:
        yield aware.astimezone(UTC)
        return
    try:
        rule = rrulestr(f"RRULE:{series.rule}", dtstart=aware)
    except (ValueError, TypeError) as error:
        raise RuleError(f"The rule cannot be read: {error}.") from None
    for start in rule:
        # dateutil steps wall-clock fields; re-attach the zone so the offset is the one of that day.
        yield start.replace(tzinfo=ZoneInfo(series.zone)).astimezone(UTC)


def occurrences(series: Series, changes: Mapping[int, Change] | None = None) -> Iterator[Occurrence]:
    """Every occurrence in the rule's order, with its changes applied."""
    changes = changes or {}
    for number, planned in enumerate(_planned(series), start=1):
        change = changes.get(number)
        if change is None:
            yield Occurrence(number, planned, planned)
        else:
            yield Occurrence(number, change.moved_to or planned, planned, change.cancelled)


def upcoming(series: Series, changes: Mapping[int, Change] | None, after: datetime, limit: int = 1) -> list[Occurrence]:
    """The next `limit` occurrences starting after `after`, cancelled ones left out, soonest first.

    A moved occurrence counts where it is now; the rule's own order decides nothing here.
    """
    changes = changes or {}
    last_moved = max((n for n, c in changes.items() if c.moved_to is not None), default=0)
    found: list[Occurrence] = []
    in_rule_order = 0  # unmoved ones found: they come in order, so `limit` of them is enough
    for occurrence in occurrences(series, changes):
        if in_rule_order >= limit and occurrence.number > last_moved:
            break  # nothing later in the rule can start sooner
        if occurrence.start > after and not occurrence.cancelled:
            found.append(occurrence)
            in_rule_order += not occurrence.moved
    return sorted(found, key=lambda o: o.start)[:limit]


def occurrence(series: Series, changes: Mapping[int, Change] | None, number: int) -> Occurrence | None:
    """Occurrence `number`, or None when the series has no such occurrence."""
    if number < 1:
        return None
    return next(islice(occurrences(series, changes), number - 1, None), None)
