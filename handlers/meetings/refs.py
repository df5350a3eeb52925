"""Reading a meeting in a command: "12" is meeting 12 (its next occurrence), "12.3" its third."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.context import Context
from storage.errors import Misread
from storage.rules.ids import LARGEST_ID
from storage.rules.text import quote

_REF = re.compile(r"^#?(\d{1,18})(?:\.(\d{1,9}))?$")


@dataclass(frozen=True)
class MeetingRef:
    meeting: int
    occurrence: int | None  # None: the next one to come


async def meeting_ref(raw: str, ctx: Context) -> MeetingRef:
    found = _REF.match(raw.strip())
    if found is None or any(int(part) > LARGEST_ID for part in found.groups() if part):
        raise Misread(
            "{raw} is not a meeting: give its number (12) or one occurrence (12.3); /meeting list shows them.",
            raw=quote(raw),
        )
    return MeetingRef(int(found.group(1)), int(found.group(2)) if found.group(2) else None)
