"""Which chat room belongs to which working group (or to the secretariat or plenary)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from storage import audit
from storage.errors import Refused
from storage.models import ChatAccount, Notice, NoticeStatus, RoleAssignment, RoomBinding, RoomPurpose, WorkingGroup
from storage.platforms import split_ref
from storage.rules.access import RoleName
from storage.rules.text import N_, Words


def parse_room(text: str) -> tuple[str, str]:
    return split_ref(text, "a room", "matrix:!abc:example.org or telegram:-100123")


async def bind_room(
    session: AsyncSession,
    *,
    actor: str,
    platform: str,
    room_id: str,
    purpose: RoomPurpose,
    group: WorkingGroup | None = None,
) -> RoomBinding:
    if (purpose == RoomPurpose.GROUP) != (group is not None):
        raise Refused("A room is bound to one working group, or to the secretariat or plenary.")
    existing = await binding_for(session, platform, room_id)
    if existing is not None:
        raise Refused(
            "{platform}:{room_id} is already bound to {existing}; unbind it first.",
            platform=platform,
            room_id=room_id,
            existing=describe(existing),
        )
    binding = RoomBinding(platform=platform, room_id=room_id, purpose=purpose, group_id=group.id if group else None)
    session.add(binding)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="room.bound",
        subject=f"room:{platform}:{room_id}",
        details={"purpose": purpose.value, "group": group.slug if group else None},
    )
    binding.group = group
    return binding


async def unbind_room(session: AsyncSession, *, actor: str, platform: str, room_id: str) -> None:
    binding = await binding_for(session, platform, room_id)
    if binding is None:
        raise Refused("{platform}:{room_id} is not bound to anything.", platform=platform, room_id=room_id)
    await session.delete(binding)
    await audit.record(session, actor=actor, action="room.unbound", subject=f"room:{platform}:{room_id}")


async def binding_for(session: AsyncSession, platform: str, room_id: str) -> RoomBinding | None:
    binding = await session.scalar(
        select(RoomBinding)
        .where(RoomBinding.platform == platform, RoomBinding.room_id == room_id)
        .options(joinedload(RoomBinding.group))
    )
    return binding


async def list_bindings(session: AsyncSession) -> list[RoomBinding]:
    result = await session.scalars(
        select(RoomBinding).options(selectinload(RoomBinding.group)).order_by(RoomBinding.platform, RoomBinding.room_id)
    )
    return list(result)


@dataclass(frozen=True)
class Room:
    """What a chat room is bound to: a working group, the secretariat or the plenary."""

    platform: str
    room_id: str
    purpose: RoomPurpose
    group_id: int | None
    group_name: str | None
    language: str | None = None  # the group's, when it chose one (/wg language)

    @classmethod
    def of(cls, binding: RoomBinding) -> Room:
        return cls(
            binding.platform,
            binding.room_id,
            binding.purpose,
            binding.group_id,
            binding.group.name if binding.group else None,
            binding.group.language if binding.group else None,
        )

    def describe(self) -> Words:
        """What the room serves, in words for a sentence ("the PFAS working group")."""
        if self.purpose == RoomPurpose.GROUP and self.group_name is not None:
            return Words(N_("the {group} working group"), {"group": self.group_name})
        if self.purpose == RoomPurpose.PLENARY:
            return Words(N_("the plenary"))
        return Words(N_("the secretariat"))


_ROOM = (
    select(RoomBinding.purpose, RoomBinding.group_id, WorkingGroup.name, WorkingGroup.language)
    .outerjoin(WorkingGroup, WorkingGroup.id == RoomBinding.group_id)
    .where(RoomBinding.platform == bindparam("platform"), RoomBinding.room_id == bindparam("room_id"))
)


def room_on(connection: Connection, platform: str, room_id: str) -> Room | None:
    """What the room is bound to, as a plain row on a synchronous connection (every command asks)."""
    bound = connection.execute(_ROOM, {"platform": platform, "room_id": room_id}).first()
    return Room(platform, room_id, *bound) if bound else None


def describe(binding: RoomBinding) -> str:
    """What the room serves, in English (for the operator's tools)."""
    return str(Room.of(binding).describe())


CONSOLE = "console"


async def bind_console(session: AsyncSession) -> int:
    """The console's rooms, for trying wgbot locally: one per working group (named by its short
    id), the plenary and the secretariat. Idempotent; returns how many were bound now."""
    bound = {b.room_id for b in await session.scalars(select(RoomBinding).where(RoomBinding.platform == CONSOLE))}
    wanted: list[tuple[str, RoomPurpose, int | None]] = [
        (g.slug, RoomPurpose.GROUP, g.id) for g in await session.scalars(select(WorkingGroup))
    ]
    wanted += [(p.value, p, None) for p in (RoomPurpose.PLENARY, RoomPurpose.SECRETARIAT)]
    added = [
        RoomBinding(platform=CONSOLE, room_id=room_id, purpose=purpose, group_id=group_id)
        for room_id, purpose, group_id in wanted
        if room_id not in bound
    ]
    session.add_all(added)
    await session.flush()
    return len(added)


async def unbind_console(session: AsyncSession) -> set[int]:
    """No console rooms while chat platforms are served: they are never delivery targets of a
    chat bot. Their pending notices go too; returns the announcements those belonged to."""
    dropped = set(
        await session.scalars(
            select(Notice.announcement_id).where(
                Notice.platform == CONSOLE, Notice.status == NoticeStatus.PENDING, Notice.announcement_id.is_not(None)
            )
        )
    )
    await session.execute(delete(Notice).where(Notice.platform == CONSOLE, Notice.status == NoticeStatus.PENDING))
    await session.execute(delete(RoomBinding).where(RoomBinding.platform == CONSOLE))
    return {a for a in dropped if a is not None}


async def unhoused(session: AsyncSession, platform: str) -> list[tuple[RoomPurpose, WorkingGroup | None]]:
    """What has no room on `platform` yet: the plenary, the secretariat, and each working group."""
    bound = await session.execute(
        select(RoomBinding.purpose, RoomBinding.group_id).where(RoomBinding.platform == platform)
    )
    purposes = set()
    housed_groups = set()
    for purpose, group_id in bound.tuples():
        purposes.add(purpose)
        housed_groups.add(group_id)
    missing: list[tuple[RoomPurpose, WorkingGroup | None]] = [
        (purpose, None) for purpose in (RoomPurpose.PLENARY, RoomPurpose.SECRETARIAT) if purpose not in purposes
    ]
    all_groups = await session.scalars(select(WorkingGroup).order_by(WorkingGroup.id))
    missing += [(RoomPurpose.GROUP, group) for group in all_groups if group.id not in housed_groups]
    return missing


async def bindings_on(session: AsyncSession, platform: str) -> list[RoomBinding]:
    return [b for b in await list_bindings(session) if b.platform == platform]


async def secretariat_accounts(session: AsyncSession, platform: str) -> list[str]:
    """The secretariat's accounts on `platform`, e.g. to invite them into new rooms."""
    found = await session.scalars(
        select(ChatAccount.platform_user_id)
        .join(RoleAssignment, RoleAssignment.person_id == ChatAccount.person_id)
        .where(ChatAccount.platform == platform, RoleAssignment.role == RoleName.SECRETARIAT)
        .order_by(ChatAccount.id)
    )
    return list(dict.fromkeys(found))
