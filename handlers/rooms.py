"""/room: which group a chat room serves, set from the room itself by the secretariat."""

from __future__ import annotations

from argparse import Namespace
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.areas import Area
from bot.commands import Call, Command, Param
from bot.context import Context
from bot.shell import admin
from bot.transports.base import Reply
from storage import groups, rooms
from storage.errors import Refused
from storage.models import RoomPurpose, WorkingGroup
from storage.rules.access import Access
from storage.rules.text import N_


@dataclass(frozen=True)
class Purpose:
    """What a room is for: one working group's room, the plenary or the secretariat."""

    purpose: RoomPurpose
    group: WorkingGroup | None = None


async def purpose(raw: str, ctx: Context) -> Purpose:
    """`plenary`, `secretariat`, or a working group (by short id, name or number)."""
    word = raw.strip().lower()
    if word in (RoomPurpose.PLENARY.value, RoomPurpose.SECRETARIAT.value):
        return Purpose(RoomPurpose(word))
    return Purpose(RoomPurpose.GROUP, await groups.find_group(ctx.session, raw))


FOR = Param("group", purpose, rest=True)


def _here(ctx: Context) -> tuple[str, str]:
    if ctx.incoming.is_direct:
        raise Refused("A private chat serves no group: send this in the room (or topic) you mean.")
    return ctx.incoming.platform, ctx.incoming.room_id


async def room_bind(ctx: Context, call: Call) -> Reply:
    """Bind this room to a working group, the plenary or the secretariat."""
    platform, room_id = _here(ctx)
    chosen = call[FOR]
    binding = await rooms.bind_room(
        ctx.session,
        actor=ctx.actor.label,
        platform=platform,
        room_id=room_id,
        purpose=chosen.purpose,
        group=chosen.group,
    )
    return Reply(
        ctx.lang._(
            "This room is now {served}'s room. /help shows what can be done here.",
            served=ctx.lang.say(rooms.Room.of(binding).describe()),
        )
    )


async def room_unbind(ctx: Context, call: Call) -> Reply:
    """Stop serving this room: nothing is posted here any more."""
    platform, room_id = _here(ctx)
    binding = await rooms.binding_for(ctx.session, platform, room_id)
    if binding is None:
        raise Refused("This room is not bound to anything.")
    served = ctx.lang.say(rooms.Room.of(binding).describe())
    await rooms.unbind_room(ctx.session, actor=ctx.actor.label, platform=platform, room_id=room_id)
    return Reply(ctx.lang._("This room no longer serves {served}. /room bind <group> binds it again.", served=served))


async def room_info(ctx: Context, call: Call) -> Reply:
    """Which group this room serves, and its id on its platform."""
    platform, room_id = _here(ctx)
    where = f"{platform}:{room_id}"
    if ctx.binding is None:
        return Reply(
            ctx.lang._(
                "This room ({room}) serves no group yet. The secretariat binds it with /room bind <group>.", room=where
            )
        )
    return Reply(
        ctx.lang._("This room ({room}) serves {served}.", room=where, served=ctx.lang.say(ctx.binding.describe()))
    )


COMMANDS = [
    Command(
        "room bind",
        "make this room a working group's room (or: plenary, secretariat)",
        room_bind,
        Access.SECRETARIAT,
        params=(FOR,),
        anywhere=True,
    ),
    Command("room unbind", "stop serving this room", room_unbind, Access.SECRETARIAT, anywhere=True),
    Command("room info", "which group this room serves, and its id", room_info, anywhere=True),
]


async def room_bind_at_the_shell(session: AsyncSession, actor: str, args: Namespace) -> None:
    platform, room_id = rooms.parse_room(args.room)
    if args.group:
        group = await groups.find_group(session, args.group)
        purpose = RoomPurpose.GROUP
    else:
        group = None
        purpose = RoomPurpose.SECRETARIAT if args.secretariat else RoomPurpose.PLENARY
    binding = await rooms.bind_room(
        session, actor=actor, platform=platform, room_id=room_id, purpose=purpose, group=group
    )
    print(f"bound {platform}:{room_id} to {rooms.describe(binding)}")


async def room_unbind_at_the_shell(session: AsyncSession, actor: str, args: Namespace) -> None:
    platform, room_id = rooms.parse_room(args.room)
    await rooms.unbind_room(session, actor=actor, platform=platform, room_id=room_id)
    print(f"unbound {platform}:{room_id}")


async def room_list(session: AsyncSession, actor: str, args: Namespace) -> None:
    for binding in await rooms.list_bindings(session):
        print(f"{binding.platform}:{binding.room_id}\t{rooms.describe(binding)}")


AREA = Area(
    "rooms",
    COMMANDS,
    title=N_("Rooms"),
    topics={"room": N_("which working group this chat room serves")},
    shell={
        "room_bind": admin(room_bind_at_the_shell),
        "room_unbind": admin(room_unbind_at_the_shell),
        "room_list": admin(room_list),
    },
)
