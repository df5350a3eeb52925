"""Working groups: the alliance's founding three, adding more, and finding one by any name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import Refused
from storage.models import (
    AuditEntry,
    Organisation,
    OrganisationStatus,
    Participation,
    Person,
    RoleAssignment,
    RoleName,
    RoomBinding,
    RoomPurpose,
    WorkingGroup,
)
from storage.naming import closest, fold
from storage.rules.text import Words, quote

FOUNDING_GROUPS = (
    (
        "supply-chains",
        "Supply Chains",
        "Map the semiconductor supply chains, find their weak links and propose how to make them resilient.",
    ),
    (
        "pfas",
        "PFAS",
        "Assess the use of PFAS in semiconductor manufacturing and the paths to alternatives.",
    ),
    (
        "skills",
        "Skills",
        "Identify the skills the industry needs and how education and training can supply them.",
    ),
)

_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def slug_for(name: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", fold(name)))


async def add_group(
    session: AsyncSession, *, actor: str, name: str, slug: str | None = None, mandate: str = ""
) -> WorkingGroup:
    name = " ".join(name.split())
    slug = (slug or slug_for(name)).lower()
    await check_new_group(session, name, slug)
    group = WorkingGroup(slug=slug, name=name, mandate=mandate)
    session.add(group)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="group.created",
        subject=f"group:{group.id}",
        details={"slug": slug, "name": name, "mandate": mandate},
    )
    return group


async def check_new_group(session: AsyncSession, name: str, slug: str | None = None) -> None:
    """Refuse a group that could not be created: no name, a bad short id, or a clash."""
    slug = (slug or slug_for(name)).lower()
    if not name.strip() or not _SLUG.match(slug):
        raise Refused(
            "A working group needs a name and a short id of letters, digits and dashes, not {slug}.", slug=quote(slug)
        )
    clash = await session.scalar(
        select(WorkingGroup).where(
            (WorkingGroup.slug == slug) | (func.lower(WorkingGroup.name) == name.strip().lower())
        )
    )
    if clash is not None:
        raise Refused("The working group {name} ({slug}) already exists.", name=clash.name, slug=clash.slug)


async def seed_founding_groups(session: AsyncSession) -> list[WorkingGroup]:
    """On a brand-new database, create the alliance's three groups and their console rooms.

    "Brand-new" means no group and no audit entry yet, so groups removed later never come back.
    Two processes starting together on a new database take turns (seeding appends to the audit
    log, whose turn it takes first): the second finds the groups made.
    """
    await audit.take_turn(session)
    if await session.scalar(select(func.count()).select_from(WorkingGroup)):
        return []
    if await session.scalar(select(func.count()).select_from(AuditEntry)):
        return []
    created = []
    for slug, name, mandate in FOUNDING_GROUPS:
        group = await add_group(session, actor="system", name=name, slug=slug, mandate=mandate)
        session.add(RoomBinding(platform="console", room_id=slug, purpose=RoomPurpose.GROUP, group_id=group.id))
        created.append(group)
    for purpose in (RoomPurpose.PLENARY, RoomPurpose.SECRETARIAT):
        session.add(RoomBinding(platform="console", room_id=purpose.value, purpose=purpose))
    await session.flush()
    return created


async def set_language(session: AsyncSession, group: WorkingGroup, language: str, *, actor: str) -> None:
    """The language the group's rooms speak from now on (audited: it changes what every member reads)."""
    before, group.language = group.language, language
    await audit.record(
        session,
        actor=actor,
        action="group.language",
        subject=f"group:{group.id}",
        details={"from": before, "to": language},
    )


async def language_of(session: AsyncSession, group_id: int) -> str | None:
    """The language the group's rooms speak, if it chose one (/wg language)."""
    return await session.scalar(select(WorkingGroup.language).where(WorkingGroup.id == group_id))


async def list_groups(session: AsyncSession) -> list[WorkingGroup]:
    return list(await session.scalars(select(WorkingGroup).order_by(WorkingGroup.name)))


async def find_group(session: AsyncSession, ref: str) -> WorkingGroup:
    """By short id, by name (any case or accents) or by number; a near miss gets a suggestion."""
    groups = await list_groups(session)
    key = fold(ref)
    for group in groups:
        if key in (group.slug, fold(group.name), str(group.id)):
            return group
    known = ", ".join(g.slug for g in groups) or Words("none yet")
    guess = closest(key, [g.slug for g in groups] + [fold(g.name) for g in groups])
    if guess:
        raise Refused(
            "No working group {ref}. Did you mean {guess}? Known groups: {known}.",
            ref=quote(ref),
            guess=guess,
            known=known,
        )
    raise Refused("No working group {ref}. Known groups: {known}.", ref=quote(ref), known=known)


@dataclass(frozen=True)
class GroupOverview:
    group: WorkingGroup
    members: list[str]  # member organisations' names
    chairs: list[str]
    rooms: list[str]  # "platform:room id"


async def member_counts(session: AsyncSession) -> dict[int, int]:
    """Member organisations taking part in each group, by group id."""
    rows = await session.execute(
        select(Participation.group_id, func.count())
        .join(Organisation, Organisation.id == Participation.organisation_id)
        .where(Organisation.status == OrganisationStatus.MEMBER)
        .group_by(Participation.group_id)
    )
    return dict(rows.tuples().all())


async def overview(session: AsyncSession, group: WorkingGroup) -> GroupOverview:
    members = await session.scalars(
        select(Organisation.name)
        .join(Participation, Participation.organisation_id == Organisation.id)
        .where(Participation.group_id == group.id, Organisation.status == OrganisationStatus.MEMBER)
        .order_by(Organisation.name_key)
    )
    chairs = await session.scalars(
        select(Person.name)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.group_id == group.id, RoleAssignment.role == RoleName.CHAIR)
        .order_by(Person.name)
    )
    rooms = await session.execute(
        select(RoomBinding.platform, RoomBinding.room_id)
        .where(RoomBinding.group_id == group.id)
        .order_by(RoomBinding.platform, RoomBinding.room_id)
    )
    return GroupOverview(group, list(members), list(chairs), [f"{p}:{r}" for p, r in rooms.tuples()])


async def chairs_by_group(session: AsyncSession) -> dict[int, list[str]]:
    rows = await session.execute(
        select(RoleAssignment.group_id, Person.name)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(RoleAssignment.role == RoleName.CHAIR)
        .order_by(Person.name)
    )
    chairs: dict[int, list[str]] = {}
    for group_id, name in rows.tuples():
        if group_id is not None:  # a chair always holds the role in a group
            chairs.setdefault(group_id, []).append(name)
    return chairs
