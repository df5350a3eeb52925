"""What a handler knows about the command it is answering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import Registry
from bot.config import Settings
from bot.transports.base import Incoming
from storage.errors import Refused
from storage.models import RoomBinding, WorkingGroup
from storage.rules.access import Actor


@dataclass
class Context:
    incoming: Incoming
    actor: Actor
    session: AsyncSession  # the command's one unit of work
    binding: RoomBinding | None  # what the room is bound to, if anything
    settings: Settings
    registry: Registry
    now: datetime

    @property
    def group(self) -> WorkingGroup | None:
        return self.binding.group if self.binding else None

    def require_group(self) -> WorkingGroup:
        if self.group is None:
            raise Refused("This works only in a working group's room.")
        return self.group
