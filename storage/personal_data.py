"""Everything wgbot holds about one person, for their request to see it (GDPR art. 15).

`export` gathers, as plain JSON, every row that names the person or one of their chat accounts:
their accounts, name, roles, time zone, membership applications (with the eligibility answers
they gave), the casts they made (a secret vote keeps none), their RSVPs, agenda items, minutes,
drafts and comments, meeting invitations, the announcements and votes they started, their open
guided dialogs, and the audit entries that name them as actor or subject.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    AgendaItem,
    Announcement,
    AuditEntry,
    BallotCast,
    ChatAccount,
    Dialog,
    DraftComment,
    DraftVersion,
    MeetingGuest,
    MembershipApplication,
    Minutes,
    Person,
    RoleAssignment,
    Rsvp,
    Vote,
    WorkingGroup,
)


def _at(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def export(session: AsyncSession, person: Person) -> dict[str, Any]:
    """The person's data as JSON-ready lists, one per kind of record (`person` loaded with its
    organisation, as `people.find_person` gives it)."""
    pid = person.id
    accounts = list(await session.scalars(select(ChatAccount).where(ChatAccount.person_id == pid)))
    pairs = [(a.platform, a.platform_user_id) for a in accounts]
    by_account = or_(
        false(),
        *(
            (MembershipApplication.applicant_platform == platform) & (MembershipApplication.applicant_user_id == user)
            for platform, user in pairs
        ),
    )
    dialogs = or_(false(), *((Dialog.platform == platform) & (Dialog.user_id == user) for platform, user in pairs))
    roles = await session.execute(
        select(RoleAssignment.role, WorkingGroup.slug)
        .outerjoin(WorkingGroup, WorkingGroup.id == RoleAssignment.group_id)
        .where(RoleAssignment.person_id == pid)
    )
    return {
        "person": {
            "id": pid,
            "name": person.name,
            "organisation": person.organisation.name if person.organisation else None,
            "time_zone": person.timezone,
            "since": _at(person.created_at),
        },
        "accounts": [
            {"platform": a.platform, "user_id": a.platform_user_id, "since": _at(a.created_at)} for a in accounts
        ],
        "roles": [{"role": role.value, "group": group} for role, group in roles.tuples()],
        "membership_applications": [
            {
                "id": a.id,
                "organisation": a.organisation_name,
                "country": a.country,
                "kind": a.kind.value,
                "groups": a.groups,
                "contact_name": a.contact_name,
                "eligibility": a.eligibility,
                "status": a.status.value,
                "at": _at(a.created_at),
                "decided_at": _at(a.decided_at),
            }
            for a in await session.scalars(select(MembershipApplication).where(by_account))
        ],
        "casts": [
            {"vote": c.vote_id, "option": c.option, "platform": c.platform, "at": _at(c.cast_at)}
            for c in await session.scalars(
                select(BallotCast).where(BallotCast.person_id == pid).order_by(BallotCast.id)
            )
        ],
        "rsvps": [
            {"meeting": r.meeting_id, "occurrence": r.occurrence, "answer": r.answer, "at": _at(r.answered_at)}
            for r in await session.scalars(select(Rsvp).where(Rsvp.person_id == pid))
        ],
        "agenda_items": [
            {"meeting": i.meeting_id, "occurrence": i.occurrence, "text": i.text, "at": _at(i.added_at)}
            for i in await session.scalars(select(AgendaItem).where(AgendaItem.person_id == pid))
        ],
        "minutes_kept": [
            {"meeting": m.meeting_id, "occurrence": m.occurrence, "at": _at(m.added_at)}
            for m in await session.scalars(select(Minutes).where(Minutes.person_id == pid))
        ],
        "drafts": [
            {
                "deliverable": d.deliverable_id,
                "version": d.number,
                "file": d.file_name,
                "sha256": d.sha256,
                "at": _at(d.submitted_at),
                "withdrawn_at": _at(d.withdrawn_at),
            }
            for d in await session.scalars(select(DraftVersion).where(DraftVersion.person_id == pid))
        ],
        "comments": [
            {"deliverable": c.deliverable_id, "version": c.version, "text": c.text, "at": _at(c.at)}
            for c in await session.scalars(select(DraftComment).where(DraftComment.person_id == pid))
        ],
        "meeting_invitations": [
            {"meeting": g.meeting_id, "invited_by": g.invited_by, "at": _at(g.invited_at)}
            for g in await session.scalars(select(MeetingGuest).where(MeetingGuest.person_id == pid))
        ],
        "announcements": [
            {"id": a.id, "text": a.text, "at": _at(a.created_at)}
            for a in await session.scalars(select(Announcement).where(Announcement.author_person_id == pid))
        ],
        "votes_opened": [
            {"id": v.id, "question": v.question, "at": _at(v.opened_at)}
            for v in await session.scalars(select(Vote).where(Vote.opener_person_id == pid))
        ],
        "open_dialogs": [
            {"platform": d.platform, "kind": d.kind} for d in await session.scalars(select(Dialog).where(dialogs))
        ],
        "audit_entries": [
            {"entry": e.id, "at": _at(e.at), "actor": e.actor, "action": e.action, "subject": e.subject}
            for e in await session.scalars(
                select(AuditEntry)
                .where(or_(AuditEntry.subject == f"person:{pid}", AuditEntry.actor.startswith(f"person:{pid} ")))
                .order_by(AuditEntry.id)
            )
        ],
    }
