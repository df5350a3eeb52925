"""Reading the times people write: ISO, with a zone, plain phrases, or a duration from now."""

from __future__ import annotations

import difflib
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from storage.errors import Misread, Refused
from storage.rules.text import quote

_DURATION = re.compile(r"^(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# "10 Uhr", "10h", "10h30" in a phrase: a clock time, which dateparser would read as now (or as
# ten hours from now).
_CLOCK = re.compile(r"(?<![:\d])(\d{1,2})\s*(?:uhr|h)(?:\s*(\d{2}))?\b", re.IGNORECASE)
EXAMPLES = "2026-12-03 14:00, 2026-12-03 14:00 Europe/Rome, tomorrow 10:00, next tuesday 14:30 or 3d"


def parse_when(text: str, zone: str, now: datetime, language: str = "en") -> datetime:
    """An aware future moment; a time without a zone is read in `zone` (the reader's), and
    words in the reader's `language` or in English."""
    text = " ".join(text.split())
    duration = _DURATION.match(text.lower())
    if duration:
        return now + timedelta(**{_UNITS[duration.group(2)[0]]: int(duration.group(1))})
    words = text.split(" ")
    if len(words) > 1 and "/" in words[-1]:  # an IANA zone written after the time
        zone, text = zone_named(words[-1]), " ".join(words[:-1])
    phrase = _CLOCK.sub(lambda found: f"{int(found.group(1)):02d}:{found.group(2) or '00'}", text)
    import dateparser  # slow to import, so only when a time is read

    local_now = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    moment: datetime | None = dateparser.parse(  # dateparser ships no types
        phrase,
        languages=list(dict.fromkeys((language, "en"))),
        settings={
            "PREFER_DATES_FROM": "future",
            "TIMEZONE": zone,
            "RETURN_AS_TIMEZONE_AWARE": True,
            "RELATIVE_BASE": local_now,
        },
    )
    if moment is None:
        raise Misread("I cannot read {text} as a time; try {EXAMPLES}.", text=quote(text), EXAMPLES=EXAMPLES)
    if moment <= now:
        raise Refused("{text} is in the past.", text=quote(text))
    return moment


def zone_named(text: str) -> str:
    """An IANA time zone name, checked; a near miss ("Lisbon", "europe/lisbon") is answered with
    the name it probably means."""
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        guess = _zone_meant(text)
        if guess:
            raise Misread("Unknown time zone {text}. Did you mean {guess}?", text=quote(text), guess=guess) from None
        raise Misread(
            "Unknown time zone {text}; use a name like Europe/Rome or Europe/Lisbon.", text=quote(text)
        ) from None
    return text


def _zone_meant(text: str) -> str | None:
    """The IANA zone a place or a misspelt name most likely means: its city ("Lisbon",
    "new york"), the name in another case, or the closest name."""
    wanted = "_".join(text.strip().split()).casefold()
    if not wanted:
        return None
    zones = sorted(available_timezones())
    by_name = {zone.casefold(): zone for zone in zones}
    by_city: dict[str, str] = {}
    for zone in zones:  # the first, in order, of the zones a city names (Europe/ before posix/)
        by_city.setdefault(zone.rsplit("/", 1)[-1].casefold(), zone)
    found = by_name.get(wanted) or by_city.get(wanted)
    if found:
        return found
    close = difflib.get_close_matches(wanted, list(by_city) + list(by_name), n=1, cutoff=0.8)
    return (by_city.get(close[0]) or by_name[close[0]]) if close else None


def shown(moment: datetime, zone: str) -> str:
    """A moment as a reader in `zone` reads it."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b %Y %H:%M %Z")
