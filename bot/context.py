"""What a handler knows about the command it is answering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.changes import Change
from bot.commands import Registry
from bot.config import Settings
from bot.i18n import Language, T, for_answer, language, saying, worded_in
from bot.transports.base import Incoming, Reply
from storage import notices
from storage.errors import Refused
from storage.models import WorkingGroup
from storage.rooms import Room
from storage.rules.access import Actor
from storage.rules.text import N_, Say, Words

# Whose zone a time was read in, as replies name it (Language.read_in).
YOUR_ZONE = N_("your zone")
ALLIANCE_ZONE = N_("the alliance's zone; /tz sets yours")
MEETING_ZONE = N_("the meeting's zone")


@dataclass(frozen=True)
class ReceivedFile:
    """A file that came with the command, already read (the router fetches it first)."""

    name: str
    media_type: str
    data: bytes


@dataclass
class Context:
    incoming: Incoming
    actor: Actor
    session: AsyncSession  # the command's one unit of work
    binding: Room | None  # what the room is bound to, if anything
    settings: Settings
    registry: Registry
    now: datetime
    files: tuple[ReceivedFile, ...]  # for commands that take files
    # What the command changed that the running bot must follow up after the commit, e.g.
    # `DEADLINES.every`: the scheduler re-reads the open votes' deadlines (see bot/changes.py).
    changed: set[Change] = field(default_factory=set)

    @property
    def zone(self) -> str:
        """The reader's time zone: their own when known, else the alliance's."""
        return self.actor.timezone or self.settings.alliance.timezone

    @property
    def whose_zone(self) -> str:
        """Whose zone `zone` is, as a reply names it (a marked message)."""
        return YOUR_ZONE if self.actor.timezone else ALLIANCE_ZONE

    def _language(self, *, direct: bool) -> Language:
        return answer_language(self.incoming, self.actor, self.binding, self.settings, direct=direct)

    @property
    def reader(self) -> Language:
        """The sender's language, wherever they wrote (for what is said to them alone)."""
        return self._language(direct=True)

    @property
    def lang(self) -> Language:
        """What the answer is written in: the reader's in a private chat, the room's in a room."""
        return self._language(direct=self.incoming.is_direct)

    @property
    def alliance_language(self) -> Language:
        """The alliance's language: the secretariat's rooms and a vote's record speak it."""
        return language(None, self.settings.alliance.language)

    @property
    def say(self) -> Say:
        """How storage's Words reach readers and rooms: in their language, else the alliance's."""
        return saying(self.settings.alliance.language)

    def worded(self, text: Callable[[Language], T]) -> Callable[[str | None], tuple[str | None, T]]:
        """`text` (or buttons) for notices to rooms, each in its group's language (the alliance's by default)."""
        return worded_in(text, self.settings.alliance.language)

    async def group(self) -> WorkingGroup | None:
        """The working group this room serves, loaded when a command needs more than its id."""
        if self.binding is None or self.binding.group_id is None:
            return None
        return await self.session.get_one(WorkingGroup, self.binding.group_id)

    async def privately(self, secret: str, sent: Words) -> Reply:
        """The answer when it carries a secret (a link code): as it is in a private chat; from a
        room, sent to the sender's private chat, and the room is told only `sent` (that it was)."""
        if self.incoming.is_direct:
            return Reply(secret)
        await notices.to_account(self.session, self.incoming.platform, self.incoming.sender_id, secret)
        return Reply(self.lang.say(sent))

    def require_group_id(self) -> int:
        """The id of the working group this room serves; refused in any other room."""
        if self.binding is None or self.binding.group_id is None:
            raise Refused("This works only in a working group's room.")
        return self.binding.group_id

    async def require_group(self) -> WorkingGroup:
        group = await self.group()
        if group is None:
            raise Refused("This works only in a working group's room.")
        return group


def answer_language(
    incoming: Incoming, actor: Actor | None, binding: Room | None, settings: Settings, *, direct: bool | None = None
) -> Language:
    """What an answer to `incoming` is in (bot/i18n.for_answer decides): what the sender chose,
    what their platform says, what the room speaks. A refusal the router words before there is
    a Context (the sender or room not yet known) asks here as the Context does. `direct`
    overrides where the answer goes: True for what is said to the sender alone."""
    return for_answer(
        direct=incoming.is_direct if direct is None else direct,
        chosen=actor.language if actor else None,
        platform_says=incoming.language,
        room_speaks=binding.language if binding else None,
        default=settings.alliance.language,
    )
