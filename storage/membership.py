"""Membership applications: submitted by an organisation, decided by the Commission.

Every step is audited and tells the applicant (through the outbox). Approval makes the
organisation a member, the applicant its representative, and enrols it in its groups, whose
rooms are told of the new member, all in the one transaction of the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, groups, notices, organisations, people
from storage.errors import Refused
from storage.models import (
    ApplicationStatus,
    MembershipApplication,
    Organisation,
    OrganisationKind,
    OrganisationStatus,
    Person,
)
from storage.naming import fold
from storage.rules.access import Actor
from storage.rules.text import Say, Words, in_english, state


@dataclass(frozen=True)
class ApplicationForm:
    """What an applicant gives: validated here before anything is written."""

    organisation: str
    country: str
    kind: OrganisationKind
    groups: tuple[str, ...]  # working group references as the applicant wrote them
    contact: str
    eligibility: tuple[tuple[str, str], ...]  # (question, "yes" | "no")
    declaration_sha256: str
    declaration_accepted_at: datetime


async def applicable_name(session: AsyncSession, name: str) -> str:
    """The organisation's name, tidied, if it may apply now: not a member, nothing pending."""
    name = " ".join(name.split())
    if not name:
        raise Refused("An application needs the organisation's name.")
    existing = await session.scalar(select(Organisation).where(Organisation.name_key == fold(name)))
    if existing is not None and existing.status == OrganisationStatus.MEMBER:
        raise Refused("{name} is already a member of the alliance.", name=existing.name)
    pending = await session.scalar(
        select(MembershipApplication).where(
            MembershipApplication.name_key == fold(name),
            MembershipApplication.status == ApplicationStatus.PENDING,
        )
    )
    if pending is not None:
        raise Refused(
            "An application for {organisation_name} is already pending (#{id}).",
            organisation_name=pending.organisation_name,
            id=pending.id,
        )
    return name


async def submit(
    session: AsyncSession,
    form: ApplicationForm,
    *,
    platform: str,
    user_id: str,
    actor: str,
    language: str | None = None,
) -> MembershipApplication:
    """The application, recorded with the language the applicant read it in (to be told the
    decision in it)."""
    name = await applicable_name(session, form.organisation)
    if not form.contact.strip():
        raise Refused("An application needs a contact person.")
    if not form.groups:
        raise Refused("Name at least one working group to join.")
    slugs = [(await groups.find_group(session, ref)).slug for ref in form.groups]
    application = MembershipApplication(
        organisation_name=name,
        name_key=fold(name),
        country=organisations.country_code(form.country),
        kind=form.kind,
        groups=sorted(set(slugs)),
        contact_name=" ".join(form.contact.split()),
        applicant_platform=platform,
        applicant_user_id=user_id,
        declaration_sha256=form.declaration_sha256,
        declaration_accepted_at=form.declaration_accepted_at,
        eligibility=[{"question": q, "answer": a} for q, a in form.eligibility],
        status=ApplicationStatus.PENDING,
        language=language,
    )
    session.add(application)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # another application for it was submitted at the same instant
        raise Refused("An application for {name} is already pending.", name=name) from None
    await audit.record(
        session,
        actor=actor,
        action="application.submitted",
        subject=f"application:{application.id}",
        details={
            "organisation": name,
            "country": application.country,
            "kind": form.kind.value,
            "groups": application.groups,
            "declaration_sha256": form.declaration_sha256,
            "declaration_accepted_at": form.declaration_accepted_at.isoformat(),
            "eligibility": application.eligibility,
        },
    )
    return application


@dataclass(frozen=True)
class Standing:
    """What the alliance already knows of the organisation an application names."""

    existing: Organisation | None  # the organisation of that very name
    look_alikes: list[Organisation]  # organisations whose names only read like it

    def describe(self) -> list[Words]:
        """What the Commission should know of the name before deciding, a line each."""
        lines = []
        if self.existing is None:
            lines.append(Words("A new organisation."))
        else:
            o = self.existing
            lines.append(
                Words(
                    "Existing organisation: {name} (#{id}), {status}. Approving never changes its standing; "
                    "the secretariat may add the applicant as its representative with /member confirm.",
                    {"name": o.name, "id": o.id, "status": state(o.status.value, of="organisation")},
                )
            )
        for o in self.look_alikes:
            lines.append(
                Words(
                    "⚠ Its name reads like {name} (#{id}, {status}): check it is not posing as it.",
                    {"name": o.name, "id": o.id, "status": state(o.status.value, of="organisation")},
                )
            )
        return lines


async def standing(session: AsyncSession, application: MembershipApplication) -> Standing:
    existing = await session.scalar(select(Organisation).where(Organisation.name_key == application.name_key))
    return Standing(existing, await organisations.resembling(session, application.organisation_name))


async def pending_applications(session: AsyncSession) -> list[MembershipApplication]:
    return list(
        await session.scalars(
            select(MembershipApplication)
            .where(MembershipApplication.status == ApplicationStatus.PENDING)
            .order_by(MembershipApplication.id)
        )
    )


async def find_application(
    session: AsyncSession, application_id: int, *, for_decision: bool = False
) -> MembershipApplication:
    """By number; `for_decision` locks it, so two reviewers deciding at once decide once."""
    application = await session.get(
        MembershipApplication, application_id, with_for_update=for_decision, populate_existing=for_decision
    )
    if application is None:
        raise Refused(
            "No application '{application_id}'; /applications lists the pending ones.", application_id=application_id
        )
    return application


async def _decidable(session: AsyncSession, application_id: int, actor: Actor) -> MembershipApplication:
    application = await find_application(session, application_id, for_decision=True)
    if application.status != ApplicationStatus.PENDING:
        raise Refused(
            "Application #{id} was already {value}.",
            id=application.id,
            value=state(application.status.value, of="application"),
        )
    if await _is_applicant(session, application, actor):
        raise Refused("You cannot decide on an application you made yourself.")
    return application


async def _is_applicant(session: AsyncSession, application: MembershipApplication, actor: Actor) -> bool:
    if (actor.platform, actor.platform_user_id) == (application.applicant_platform, application.applicant_user_id):
        return True
    owner = await _applicant_person(session, application)
    return owner is not None and owner.id == actor.person_id


async def _applicant_person(session: AsyncSession, application: MembershipApplication) -> Person | None:
    return await people.owner_of(session, application.applicant_platform, application.applicant_user_id)


def _worded(words: Words, say: Say) -> notices.Worded:
    """`words` as each room's group language says them."""

    def word(code: str | None) -> tuple[str | None, str]:
        return code, say(words, code)

    return word


async def approve(
    session: AsyncSession, application_id: int, actor: Actor, now: datetime, say: Say = in_english
) -> MembershipApplication:
    application = await _decidable(session, application_id, actor)
    known = await standing(session, application)
    if known.existing is not None:
        o = known.existing
        raise Refused(
            "{name} already exists (#{id}, {status}), and approving an application never changes an "
            "organisation's standing. If the applicant should represent it, the secretariat confirms that with "
            "/member confirm {application}; otherwise reject #{application}.",
            name=o.name,
            id=o.id,
            status=o.status.value,
            application=application.id,
        )
    organisation = await organisations.add_organisation(
        session,
        actor=actor.label,
        name=application.organisation_name,
        country=application.country,
        kind=application.kind,
        status=OrganisationStatus.MEMBER,
        look_alike_ok=True,  # the Commission saw the warning in /applications
    )
    representative = await _representative(session, application, organisation, actor)
    joined = []
    for slug in application.groups:
        group = await groups.find_group(session, slug)
        await organisations.join_group(
            session, actor=actor.label, organisation=organisation, group_id=group.id, group_slug=group.slug
        )
        welcome = Words(
            "Welcome to {organisation} ({country}, {kind}), a new member of the alliance, now taking part in {group}.",
            {
                "organisation": organisation.name,
                "country": organisation.country,
                "kind": organisation.kind.value,
                "group": group.name,
            },
        )
        await notices.to_group(session, group.id, _worded(welcome, say))
        joined.append(group.name)
    await _approved(
        session,
        application,
        organisation,
        actor,
        now,
        "application.approved",
        {"representative_id": representative.id, "groups": application.groups},
    )
    await notices.to_account(
        session,
        application.applicant_platform,
        application.applicant_user_id,
        say(
            Words(
                "Your application #{id} is approved: {organisation} is now a member of the alliance, taking part "
                "in {groups}, and you are its representative. Send /whoami to see it, and /link to use the bot "
                "from your other chat accounts too.",
                {"id": application.id, "organisation": organisation.name, "groups": ", ".join(joined)},
            ),
            application.language,
        ),
    )
    return application


async def _approved(
    session: AsyncSession,
    application: MembershipApplication,
    organisation: Organisation,
    actor: Actor,
    now: datetime,
    action: str,
    details: dict[str, object],
) -> None:
    """The application is settled for `organisation`; the decision is audited."""
    application.status = ApplicationStatus.APPROVED
    application.decided_at, application.decided_by = now, actor.label
    application.organisation_id = organisation.id
    await audit.record(
        session,
        actor=actor.label,
        action=action,
        subject=f"application:{application.id}",
        details={"organisation_id": organisation.id, **details},
        at=now,
    )


async def _representative(
    session: AsyncSession, application: MembershipApplication, organisation: Organisation, actor: Actor
) -> Person:
    """The applicant, as the organisation's representative (a new person if they are unknown)."""
    representative = await _applicant_person(session, application)
    if representative is None:
        representative = await people.add_person(  # a name alone never says who someone is: the secretariat merges
            session, actor=actor.label, name=application.contact_name, organisation=organisation, same_name_ok=True
        )
        await people.add_account(
            session,
            actor=actor.label,
            person=representative,
            platform=application.applicant_platform,
            user_id=application.applicant_user_id,
        )
    elif representative.organisation_id not in (None, organisation.id):
        raise Refused("The applicant already represents another organisation; the secretariat must move them first.")
    else:
        representative.organisation_id = organisation.id
    return representative


async def confirm_representative(
    session: AsyncSession, application_id: int, actor: Actor, now: datetime, say: Say = in_english
) -> tuple[MembershipApplication, Organisation]:
    """The secretariat's word that the applicant represents the existing organisation their
    application names: they become its representative; its standing stays as it is."""
    application = await _decidable(session, application_id, actor)
    organisation = (await standing(session, application)).existing
    if organisation is None:
        raise Refused(
            "No organisation is called {organisation_name} yet: the Commission decides #{id} with /approve or /reject.",
            organisation_name=application.organisation_name,
            id=application.id,
        )
    representative = await _representative(session, application, organisation, actor)
    await _approved(
        session,
        application,
        organisation,
        actor,
        now,
        "application.confirmed_as_representative",
        {"organisation_status": organisation.status.value, "representative_id": representative.id},
    )
    await notices.to_account(
        session,
        application.applicant_platform,
        application.applicant_user_id,
        say(
            Words(
                "Your application #{id} is settled: you now represent {organisation}, whose standing in the "
                "alliance is {status}. Send /whoami to see it.",
                {"id": application.id, "organisation": organisation.name, "status": organisation.status.value},
            ),
            application.language,
        ),
    )
    return application, organisation


async def reject(
    session: AsyncSession, application_id: int, actor: Actor, reason: str, now: datetime, say: Say = in_english
) -> MembershipApplication:
    reason = " ".join(reason.split())
    if not reason:
        raise Refused("Give the reason for the rejection; the applicant is told it.")
    application = await _decidable(session, application_id, actor)
    application.status = ApplicationStatus.REJECTED
    application.decided_at, application.decided_by, application.reason = now, actor.label, reason
    await audit.record(
        session,
        actor=actor.label,
        action="application.rejected",
        subject=f"application:{application.id}",
        details={"reason": reason},
    )
    await notices.to_account(
        session,
        application.applicant_platform,
        application.applicant_user_id,
        say(
            Words(
                "Your application #{id} for {organisation} was not approved. Reason: {reason}",
                {"id": application.id, "organisation": application.organisation_name, "reason": reason},
            ),
            application.language,
        ),
    )
    return application
