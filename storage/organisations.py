"""Member organisations: adding and finding them."""

from __future__ import annotations

from collections.abc import Mapping

import pycountry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import audit, mandates
from storage.errors import Misread, Refused
from storage.models import Organisation, OrganisationKind, OrganisationStatus, Participation, utcnow
from storage.naming import fold, look_alike
from storage.rules.ids import record_number
from storage.rules.text import N_, OneOf, Words, quote, state
from storage.rules.voting import option_key


def country_code(text: str) -> str:
    """ISO 3166-1 alpha-2 code for a code or a country name ("de", "Germany" → "DE")."""
    found = pycountry.countries.get(alpha_2=text.upper()) if len(text) == 2 else None
    if found is None:
        try:
            found = pycountry.countries.lookup(text)
        except LookupError:
            raise Misread("Unknown country {text}: give an ISO code such as DE or FR.", text=quote(text)) from None
    return found.alpha_2


# The kinds of organisation, as a sentence names them in the reader's language.
KINDS = (N_("industry"), N_("research"), N_("university"), N_("association"), N_("cluster"))


def kind_words(kind: OrganisationKind) -> Words:
    return Words(kind.value)


def organisation_kind(text: str, aliases: Mapping[str, str] | None = None) -> OrganisationKind:
    """The kind `text` names: its English word, or (by `option_key`) any of `aliases`, the
    kinds' words in other languages ("Forschung" → research)."""
    typed = text.strip().lower()
    try:
        return OrganisationKind((aliases or {}).get(option_key(typed), typed))
    except ValueError:
        kinds = OneOf(tuple(kind_words(k) for k in OrganisationKind))
        raise Misread("Unknown kind {text}: one of {kinds}.", text=quote(text), kinds=kinds) from None


async def add_organisation(
    session: AsyncSession,
    *,
    actor: str,
    name: str,
    country: str,
    kind: OrganisationKind,
    status: OrganisationStatus,
    look_alike_ok: bool = False,
) -> Organisation:
    """A new organisation, audited; refused when its name reads like a known one's (one could
    pass for the other) unless `look_alike_ok` says someone checked."""
    name = " ".join(name.split())
    if not name:
        raise Refused("An organisation needs a name.")
    existing = await session.scalar(select(Organisation).where(Organisation.name_key == fold(name)))
    if existing is not None:
        raise Refused("{name} is already known (#{id}).", name=existing.name, id=existing.id)
    alike = await resembling(session, name)
    if alike and not look_alike_ok:
        known = ", ".join(f"{o.name} (#{o.id}, {o.status.value})" for o in alike)
        raise Refused(
            "{name} reads like {known}: refused, so that one cannot pass for the other.", name=quote(name), known=known
        )
    organisation = Organisation(name=name, name_key=fold(name), country=country_code(country), kind=kind, status=status)
    session.add(organisation)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="organisation.added",
        subject=f"organisation:{organisation.id}",
        details={
            "name": organisation.name,
            "country": organisation.country,
            "kind": organisation.kind.value,
            "status": organisation.status.value,
        },
    )
    return organisation


async def resembling(session: AsyncSession, name: str) -> list[Organisation]:
    """Known organisations whose names read like `name` without being it (Cyrillic "А" for
    Latin "A", an invisible space, a direction mark…)."""
    key = fold(name)
    known = await session.scalars(select(Organisation).order_by(Organisation.id))
    return [o for o in known if o.name_key != key and look_alike(o.name, name)]


async def find_organisation(session: AsyncSession, ref: str) -> Organisation:
    """By id ("12" or "#12") or by name, however it is cased or accented."""
    ref = ref.strip()
    number = record_number(ref)
    if number is not None:
        found = await session.get(Organisation, number) if number else None
    else:
        found = await session.scalar(select(Organisation).where(Organisation.name_key == fold(ref)))
    if found is None:
        raise Refused("No organisation {ref}.", ref=quote(ref))
    return found


async def join_group(
    session: AsyncSession, *, actor: str, organisation: Organisation, group_id: int, group_slug: str
) -> bool:
    """Enrol the organisation in a group; False if it already takes part."""
    if await session.get(Participation, (organisation.id, group_id)) is not None:
        return False
    session.add(Participation(organisation_id=organisation.id, group_id=group_id))
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="group.joined",
        subject=f"organisation:{organisation.id}",
        details={"organisation": organisation.name, "group": group_slug},
    )
    return True


async def list_organisations(session: AsyncSession) -> list[Organisation]:
    result = await session.scalars(
        select(Organisation)
        .options(selectinload(Organisation.participations).selectinload(Participation.group))
        .order_by(Organisation.name_key)
    )
    return list(result)


async def set_status(
    session: AsyncSession, *, actor: str, organisation: Organisation, status: OrganisationStatus, reason: str = ""
) -> None:
    """Suspend or reinstate an organisation (its representatives keep their accounts)."""
    if organisation.status == status:
        raise Refused(
            "{name} is already {value}.", name=organisation.name, value=state(status.value, of="organisation")
        )
    before = organisation.status
    organisation.status = status
    await audit.record(
        session,
        actor=actor,
        action="organisation.status",
        subject=f"organisation:{organisation.id}",
        details={"from": before.value, "to": status.value, "reason": reason},
    )
    if before == OrganisationStatus.MEMBER:
        await mandates.end_for_organisation(session, organisation.id, status, utcnow(), actor)
