"""Building an alliance for a test through the real storage services, in the alliance's words."""

from __future__ import annotations

import itertools

from bot.transports.base import Incoming
from storage import groups, organisations, people
from storage.db import Database
from storage.models import Organisation, OrganisationKind, OrganisationStatus, Person

_events = itertools.count(1)


async def member_organisation(
    db: Database,
    name: str,
    *,
    joins: tuple[str, ...] = (),
    status: OrganisationStatus = OrganisationStatus.MEMBER,
    country: str = "DE",
) -> Organisation:
    async with db.transaction() as session:
        organisation = await organisations.add_organisation(
            session,
            actor="test",
            name=name,
            country=country,
            kind=OrganisationKind.INDUSTRY,
            status=status,
        )
        for ref in joins:
            group = await groups.find_group(session, ref)
            await organisations.join_group(
                session, actor="test", organisation=organisation, group_id=group.id, group_slug=group.slug
            )
        return organisation


async def person(
    db: Database,
    name: str,
    *,
    organisation: Organisation | None = None,
    accounts: tuple[str, ...] = (),
    roles: tuple[str, ...] = (),
) -> Person:
    """A person with accounts like "console:jana" and roles like "secretariat" or "chair:pfas"."""
    async with db.transaction() as session:
        added = await people.add_person(session, actor="test", name=name, organisation=organisation)
        for text in accounts:
            platform, user_id = people.parse_account(text)
            await people.add_account(session, actor="test", person=added, platform=platform, user_id=user_id)
        for text in roles:
            role, group_ref = people.parse_role(text)
            group = await groups.find_group(session, group_ref) if group_ref else None
            await people.assign_role(session, actor="test", person=added, role=role, group=group)
        return added


def message(
    text: str,
    *,
    sender: str = "jana",
    room: str = "pfas",
    platform: str = "console",
    event_id: str | None = None,
    direct: bool = False,
    attachments: tuple = (),
    pressed: bool = False,
) -> Incoming:
    """What arrives when `sender` writes `text` in `room`."""
    return Incoming(
        platform=platform,
        room_id=room,
        sender_id=sender,
        sender_name=sender.title(),
        text=text,
        event_id=event_id or f"test-event-{next(_events)}",
        is_direct=direct,
        attachments=attachments,
        answered_privately=pressed,
    )
