"""Reading a deliverable's version in a command: "2" or "v2", and "3.2" for version 2 of
deliverable 3 (a vote's approve=)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.commands import Unreadable
from bot.context import Context
from storage.rules.ids import LARGEST_ID

_VERSION = re.compile(r"^[vV]?(\d{1,9})$")
_VERSION_REF = re.compile(r"^#?(\d{1,18})\.[vV]?(\d{1,9})$")


@dataclass(frozen=True)
class VersionRef:
    deliverable: int
    version: int


async def version_number(raw: str, ctx: Context) -> int:
    found = _VERSION.match(raw.strip())
    if found is None or int(found.group(1)) > LARGEST_ID:
        raise Unreadable("a version number such as 2")
    return int(found.group(1))


async def version_ref(raw: str, ctx: Context) -> VersionRef:
    found = _VERSION_REF.match(raw.strip())
    if found is None or any(int(part) > LARGEST_ID for part in found.groups()):
        raise Unreadable("a deliverable's version as <deliverable>.<version>, e.g. 3.2")
    return VersionRef(int(found.group(1)), int(found.group(2)))
