"""People, their chat accounts and their roles; and who is behind an incoming message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, joinedload, selectinload

from storage import audit
from storage.errors import Refused
from storage.models import ChatAccount, Organisation, Person, RoleAssignment, RoleName, WorkingGroup
from storage.naming import fold
from storage.platforms import split_ref
from storage.rules.access import Actor
from storage.rules.ids import record_number
from storage.rules.text import Words, quote, state


def parse_account(text: str) -> tuple[str, str]:
    return split_ref(text, "an account", "telegram:12345 or matrix:@jana:example.org")


class SameName(Refused):
    """A person of that name already exists in that organisation: most likely the same person,
    who wants an account linked (or was added once already), not a second record."""

    def __init__(self, existing: Person) -> None:
        super().__init__(f"{existing.name} (#{existing.id}) is already known")  # each caller says what to do
        self.existing = existing


async def same_named(session: AsyncSession, name: str, organisation_id: int | None) -> Person | None:
    """The person of that name (any case, accents or spacing) in that organisation (or in none)."""
    in_organisation = (
        Person.organisation_id == organisation_id if organisation_id is not None else Person.organisation_id.is_(None)
    )
    wanted = fold(name)
    for person in await session.scalars(select(Person).where(in_organisation).order_by(Person.id)):
        if fold(person.name) == wanted:
            return person
    return None


async def add_person(
    session: AsyncSession,
    *,
    actor: str,
    name: str,
    organisation: Organisation | None = None,
    same_name_ok: bool = False,
) -> Person:
    """A new person; refused (SameName) when one of that name is already in the organisation,
    unless `same_name_ok` says this is another person of the same name."""
    name = " ".join(name.split())
    if not name:
        raise Refused("A person needs a name.")
    if not same_name_ok:
        existing = await same_named(session, name, organisation.id if organisation else None)
        if existing is not None:
            raise SameName(existing)
    person = Person(name=name, organisation_id=organisation.id if organisation else None)
    session.add(person)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="person.added",
        subject=f"person:{person.id}",
        details={
            "name": audit.Personal(name, person_id=person.id),
            "organisation": organisation.name if organisation else None,
        },
    )
    return person


async def add_account(session: AsyncSession, *, actor: str, person: Person, platform: str, user_id: str) -> ChatAccount:
    owner = await owner_of(session, platform, user_id)
    if owner is not None:
        raise Refused(
            "The {platform} account {user_id} already belongs to {name}.",
            platform=platform,
            user_id=user_id,
            name=owner.name,
        )
    account = ChatAccount(person_id=person.id, platform=platform, platform_user_id=user_id)
    session.add(account)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Refused(
            "The {platform} account {user_id} was just linked to someone else.", platform=platform, user_id=user_id
        ) from None
    await audit.record(
        session,
        actor=actor,
        action="account.linked",
        subject=f"person:{person.id}",
        details={
            "platform": platform,
            "user_id": audit.Personal(user_id, person_id=person.id, account=f"{platform}:{user_id}"),
        },
    )
    return account


async def owner_of(session: AsyncSession, platform: str, user_id: str) -> Person | None:
    """Whose the account is, if anyone's."""
    owner = await session.scalar(
        select(Person)
        .join(ChatAccount)
        .where(ChatAccount.platform == platform, ChatAccount.platform_user_id == user_id)
    )
    return owner


async def has_accounts(session: AsyncSession, person_id: int) -> bool:
    return await session.scalar(select(ChatAccount.id).where(ChatAccount.person_id == person_id).limit(1)) is not None


async def unlink_account(session: AsyncSession, *, actor: str, person: Person, platform: str, user_id: str) -> None:
    """The account no longer belongs to the person (audited); it becomes a stranger's again."""
    account = await session.scalar(
        select(ChatAccount).where(
            ChatAccount.person_id == person.id,
            ChatAccount.platform == platform,
            ChatAccount.platform_user_id == user_id,
        )
    )
    if account is None:
        not_theirs = f"{platform}:{user_id} is not {person.name}'s (#{person.id})"  # the operator's shell: English
        raise Refused(not_theirs)
    await session.delete(account)
    await audit.record(
        session,
        actor=actor,
        action="account.unlinked",
        subject=f"person:{person.id}",
        details={
            "platform": platform,
            "user_id": audit.Personal(user_id, person_id=person.id, account=f"{platform}:{user_id}"),
        },
    )


async def assign_role(
    session: AsyncSession,
    *,
    actor: str,
    person: Person,
    role: RoleName,
    group: WorkingGroup | None = None,
) -> bool:
    """Give a person a role; False if they already hold it."""
    if (role == RoleName.CHAIR) != (group is not None):
        raise Refused("A chair chairs one working group; the other roles are alliance-wide.")
    if await _assignment(session, person, role, group) is not None:
        return False
    assignment = RoleAssignment(person_id=person.id, role=role, group_id=group.id if group else None)
    session.add(assignment)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="role.assigned",
        subject=f"person:{person.id}",
        details={"role": role.value, "group": group.slug if group else None},
    )
    return True


async def _assignment(
    session: AsyncSession, person: Person, role: RoleName, group: WorkingGroup | None
) -> RoleAssignment | None:
    in_scope = RoleAssignment.group_id == group.id if group else RoleAssignment.group_id.is_(None)
    held = await session.scalar(
        select(RoleAssignment).where(RoleAssignment.person_id == person.id, RoleAssignment.role == role, in_scope)
    )
    return held


def parse_role(text: str) -> tuple[RoleName, str | None]:
    """ "secretariat", "commission" or "chair:<group>" → (role, group reference)."""
    name, _, group = text.partition(":")
    try:
        role = RoleName(name.strip().lower())
    except ValueError:
        raise Refused("Unknown role {text}: secretariat, commission or chair:<group>.", text=quote(text)) from None
    if (role == RoleName.CHAIR) != bool(group.strip()):
        raise Refused("Write a chair's role as chair:<group>, e.g. chair:pfas.")
    return role, group.strip() or None


async def find_person(session: AsyncSession, ref: str) -> Person:
    """By id ("7" or "#7"), by account ("telegram:12345") or by exact name."""
    ref = ref.strip()
    query = select(Person).options(selectinload(Person.organisation))
    number = record_number(ref)
    if number is not None:
        found = await session.scalar(query.where(Person.id == number))
    elif ":" in ref:
        platform, user_id = parse_account(ref)
        found = await session.scalar(
            query.join(ChatAccount).where(ChatAccount.platform == platform, ChatAccount.platform_user_id == user_id)
        )
    else:
        matches = list(await session.scalars(query.where(Person.name == " ".join(ref.split()))))
        if len(matches) > 1:
            ids = ", ".join(f"#{p.id}" for p in matches)
            raise Refused(
                "{count} people are called {ref} ({ids}); name one by number.",
                count=len(matches),
                ref=quote(ref),
                ids=ids,
            )
        found = matches[0] if matches else None
    if found is None:
        raise Refused("No person {ref}.", ref=quote(ref))
    return found


async def name_of(session: AsyncSession, label: str) -> str:
    """Who a record's label ("person:12 via telegram") names, for a reader: the person's name
    as it is now (a pseudonym once erased); another label as it is."""
    reference, _, _ = label.partition(" ")
    number = reference.removeprefix("person:")
    if reference == number or not number.isdigit():
        return label
    return await session.scalar(select(Person.name).where(Person.id == int(number))) or label


async def list_people(session: AsyncSession) -> list[Person]:
    result = await session.scalars(
        select(Person)
        .options(
            selectinload(Person.organisation),
            selectinload(Person.accounts),
            selectinload(Person.roles).selectinload(RoleAssignment.group),
        )
        .order_by(Person.name, Person.id)
    )
    return list(result)


async def load_person(session: AsyncSession, person_id: int) -> Person:
    """A person with their organisation, accounts and roles, ready to be described."""
    found = await session.scalars(
        select(Person)
        .where(Person.id == person_id)
        .options(
            joinedload(Person.organisation),
            selectinload(Person.accounts),
            selectinload(Person.roles).joinedload(RoleAssignment.group),
        )
    )
    return found.one()


@dataclass(frozen=True)
class Profile:
    """What /whoami tells a person about themselves, read as plain rows."""

    person_id: int
    name: str
    organisation: Words | None  # "ACME GmbH (DE, industry), member", in the reader's words
    roles: list[Words]  # "secretariat", "chair of PFAS"
    accounts: list[str]  # "telegram 1001"


_PROFILE = (
    select(Person.name, Organisation.name, Organisation.country, Organisation.kind, Organisation.status)
    .outerjoin(Organisation, Organisation.id == Person.organisation_id)
    .where(Person.id == bindparam("person"))
)
_PROFILE_ROLES = (
    select(RoleAssignment.role, WorkingGroup.name)
    .outerjoin(WorkingGroup, WorkingGroup.id == RoleAssignment.group_id)
    .where(RoleAssignment.person_id == bindparam("person"))
    .order_by(RoleAssignment.id)
)
_PROFILE_ACCOUNTS = (
    select(ChatAccount.platform, ChatAccount.platform_user_id)
    .where(ChatAccount.person_id == bindparam("person"))
    .order_by(ChatAccount.id)
)


async def profile(session: AsyncSession, person_id: int) -> Profile:
    def read(sync: Session) -> Profile:
        connection, where = sync.connection(), {"person": person_id}
        name, organisation, country, kind, status = connection.execute(_PROFILE, where).one()
        about = {"organisation": organisation, "country": country}
        return Profile(
            person_id,
            name,
            Words(
                "{organisation} ({country}, {kind}), {standing}",
                about | {"kind": Words(kind.value), "standing": state(status.value, of="organisation")},
            )
            if organisation
            else None,
            [
                Words("chair of {group}", {"group": group}) if group else state(role.value)
                for role, group in connection.execute(_PROFILE_ROLES, where)
            ],
            [f"{platform} {user_id}" for platform, user_id in connection.execute(_PROFILE_ACCOUNTS, where)],
        )

    return await session.run_sync(read)


_IDENTITY = (
    select(
        Person.id,
        Person.name,
        Person.timezone,
        Person.language,
        Organisation.id,
        Organisation.name,
        Organisation.status,
        RoleAssignment.role,
        RoleAssignment.group_id,
    )
    .join(ChatAccount, ChatAccount.person_id == Person.id)
    .outerjoin(Organisation, Organisation.id == Person.organisation_id)
    .outerjoin(RoleAssignment, RoleAssignment.person_id == Person.id)
    .where(ChatAccount.platform == bindparam("platform"), ChatAccount.platform_user_id == bindparam("user_id"))
)


async def identify(session: AsyncSession, platform: str, user_id: str, display_name: str) -> Actor:
    """Who sent a message: one query from the account to the person, organisation and roles."""
    return await session.run_sync(lambda sync: identify_on(sync.connection(), platform, user_id, display_name))


def identify_on(connection: Connection, platform: str, user_id: str, display_name: str) -> Actor:
    """`identify` on a synchronous connection: plain rows, no ORM objects (every command asks)."""
    return actor_of(
        platform, user_id, display_name, connection.execute(_IDENTITY, {"platform": platform, "user_id": user_id}).all()
    )


def actor_of(platform: str, user_id: str, display_name: str, rows: Sequence[Sequence[Any]]) -> Actor:
    """The Actor from identity rows (person id, name, time zone, language, organisation id, name
    and status, role, role's group), one per role; no rows or no person: a stranger."""
    if not rows or rows[0][0] is None:
        return Actor(platform, user_id, display_name)
    person_id, name, timezone, language, organisation_id, organisation_name, status = rows[0][:7]
    return Actor(
        platform,
        user_id,
        name,
        person_id=person_id,
        organisation_id=organisation_id,
        organisation_name=organisation_name,
        organisation_status=status,
        roles=frozenset((role, group_id) for *_, role, group_id in rows if role is not None),
        timezone=timezone,
        language=language,
    )


async def stop_representing(session: AsyncSession, *, actor: str, person: Person) -> Organisation:
    """The person no longer represents their organisation (their chair roles end with it)."""
    organisation = person.organisation
    if organisation is None:
        raise Refused("{name} does not represent an organisation.", name=person.name)
    person.organisation_id = None
    for role in list(
        await session.scalars(
            select(RoleAssignment).where(RoleAssignment.person_id == person.id, RoleAssignment.role == RoleName.CHAIR)
        )
    ):
        await session.delete(role)
    await audit.record(
        session,
        actor=actor,
        action="representative.removed",
        subject=f"person:{person.id}",
        details={"name": audit.Personal(person.name, person_id=person.id), "organisation": organisation.name},
    )
    return organisation


async def unassign_role(
    session: AsyncSession, *, actor: str, person: Person, role: RoleName, group: WorkingGroup | None = None
) -> None:
    assignment = await _assignment(session, person, role, group)
    if assignment is None:
        if group is not None:
            raise Refused(
                "{name} is not {role} of {group}.", name=person.name, role=state(role.value), group=group.name
            )
        raise Refused("{name} is not {role}.", name=person.name, role=state(role.value))
    await session.delete(assignment)
    await audit.record(
        session,
        actor=actor,
        action="role.removed",
        subject=f"person:{person.id}",
        details={"role": role.value, "group": group.slug if group else None},
    )


async def set_language(session: AsyncSession, person_id: int, language: str) -> None:
    """The language a person reads wgbot in (not a governance act: not audited)."""
    person = await session.get_one(Person, person_id)
    person.language = language


async def set_timezone(session: AsyncSession, person_id: int, zone: str) -> None:
    """The zone a person reads times in (not a governance act: not audited)."""
    person = await session.get_one(Person, person_id)
    person.timezone = zone
