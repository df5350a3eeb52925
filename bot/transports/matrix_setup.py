"""The alliance on Matrix, set up by the bot: a Space, a room in it for each working group, the
plenary and the secretariat, each bound to what it serves.

`wgbot matrix setup` runs this once. Running it again only adds what is missing: a group that
`/wg propose` created, a room that left the Space. The running bot runs it too, every few
minutes, once a Space exists, so a new group gets its room without anyone asking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.config import Settings
from bot.locks import held
from bot.shell import Declined
from bot.transports.matrix import MatrixError
from bot.transports.matrix_space import SpaceBuilder
from storage import rooms
from storage.db import Database
from storage.models import RoomPurpose
from storage.transport_state import TransportMemory

log = logging.getLogger(__name__)
SPACE_KEY = "space"  # where the Space's room id is kept (the Matrix transport's memory)
PLATFORM = "matrix"


@dataclass
class Furnished:
    space: str = ""
    space_created: bool = False
    rooms_created: list[str] = field(default_factory=list)  # "PFAS: !room:server"
    rooms_added: list[str] = field(default_factory=list)  # bound earlier, now children of the Space
    invited: list[str] = field(default_factory=list)

    def report(self) -> list[str]:
        lines = [f"Space {'created' if self.space_created else 'found'}: {self.space}"]
        lines += [f"created and bound: {line}" for line in self.rooms_created]
        lines += [f"added to the Space: {line}" for line in self.rooms_added]
        lines += [f"invited: {user}" for user in self.invited]
        if len(lines) == 1:
            lines.append("nothing was missing")
        return lines


async def set_up(db: Database, settings: Settings, *, actor: str) -> Furnished:
    """`wgbot matrix setup`: the Space and whatever it lacks, with the device the bot signed in
    as (its token sealed in the database, or the configured one)."""
    if settings.matrix is None:
        raise Declined("no [matrix] section is configured")
    memory = TransportMemory(db, PLATFORM, settings.matrix.store_key)
    token = settings.matrix.access_token or await memory.get_secret("access_token")
    if not token:
        raise Declined("the bot has no Matrix device yet: start it once (wgbot run), then run this again")
    try:
        return await furnish(db, settings, token, create_space=True, actor=actor)
    except MatrixError as error:
        raise Declined(f"matrix: {error}") from None


async def furnish(db: Database, settings: Settings, access_token: str, *, create_space: bool, actor: str) -> Furnished:
    """Make the Space hold a room for everything the alliance has (see the module's docstring).
    Without `create_space`, nothing happens until an operator has made the Space."""
    assert settings.matrix is not None
    memory = TransportMemory(db, PLATFORM)
    done = Furnished(space=await memory.get(SPACE_KEY) or "")
    if not done.space and not create_space:
        return done
    builder = SpaceBuilder(
        settings.matrix.homeserver, settings.matrix.user_id, access_token, settings.matrix.encryption
    )
    try:
        async with held(db, "matrix-space"):  # an operator's run and the bot's never make a room twice
            done.space = await memory.get(SPACE_KEY) or ""  # read again, under the lock
            await _furnish(db, settings, builder, done, actor)
    finally:
        await builder.close()
    for line in done.rooms_created:
        log.info("matrix: %s", line)
    return done


async def _furnish(db: Database, settings: Settings, builder: SpaceBuilder, done: Furnished, actor: str) -> None:
    async with db.transaction() as session:
        secretariat = await rooms.secretariat_accounts(session, PLATFORM)
        missing = await rooms.unhoused(session, PLATFORM)
        bound = [(b.room_id, rooms.describe(b)) for b in await rooms.bindings_on(session, PLATFORM)]
    if not done.space:
        done.space = await builder.create_space(settings.alliance.name, "The alliance's working groups")
        done.space_created = True
        await TransportMemory(db, PLATFORM).put(SPACE_KEY, done.space)
    children = await builder.children(done.space)
    for room_id, served in bound:
        if room_id not in children:
            await builder.add_child(done.space, room_id)
            done.rooms_added.append(f"{served}: {room_id}")
    created: list[str] = []
    for purpose, group in missing:
        name = group.name if group else purpose.value.capitalize()
        topic = group.mandate if group and group.mandate else f"{settings.alliance.name}: {name}"
        room_id = await builder.create_room(done.space, name, topic, open_to_space=purpose != RoomPurpose.SECRETARIAT)
        async with db.transaction() as session:
            binding = await rooms.bind_room(
                session, actor=actor, platform=PLATFORM, room_id=room_id, purpose=purpose, group=group
            )
            done.rooms_created.append(f"{rooms.describe(binding)}: {room_id}")
        created.append(room_id)
    for room_id in [done.space, *created]:
        done.invited += [f"{user} to {room_id}" for user in await builder.invite(room_id, secretariat)]
