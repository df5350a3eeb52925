"""Everything wgbot holds about one person: to show it them (GDPR art. 15) or erase it (art. 17).

`export` gathers, as plain JSON, every row that names the person or one of their chat accounts:
their accounts, name, roles, time zone, membership applications (with the eligibility answers
they gave), the casts they made (a secret vote keeps none), their RSVPs, agenda items, minutes,
drafts and comments, meeting invitations, the announcements and votes they started, their open
guided dialogs, and the audit entries that name them as actor or subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import cast as cast_as

from sqlalchemy import JSON, String, Text, cast, delete, false, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.models import (
    AgendaItem,
    Announcement,
    AuditEntry,
    AuditPersonal,
    BallotCast,
    Base,
    Broadcast,
    ChatAccount,
    Deliverable,
    Dialog,
    DraftComment,
    DraftVersion,
    LinkCode,
    LinkFailure,
    Meeting,
    MeetingGuest,
    MembershipApplication,
    Minutes,
    Notice,
    OccurrenceChange,
    Person,
    Presence,
    RoleAssignment,
    Rsvp,
    Vote,
    WorkingGroup,
    table_of,
)
from storage.rules.text import counted


def _at(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def export(session: AsyncSession, person: Person) -> dict[str, Any]:
    """The person's data as JSON-ready lists, one per kind of record (`person` loaded with its
    organisation, as `people.find_person` gives it)."""
    pid = person.id
    merged = await merged_into(session, pid)  # records of this person merged into this one: their acts too
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
        "merged_records": merged,
        "audit_entries": [
            {"entry": e.id, "at": _at(e.at), "actor": e.actor, "action": e.action, "subject": e.subject}
            for e in await session.scalars(
                select(AuditEntry)
                .where(
                    or_(
                        false(),
                        *(
                            or_(AuditEntry.subject == f"person:{i}", AuditEntry.actor.startswith(f"person:{i} "))
                            for i in (pid, *merged)
                        ),
                    )
                )
                .order_by(AuditEntry.id)
            )
        ],
    }


async def merged_into(session: AsyncSession, person_id: int) -> list[int]:
    """The ids of the records merged into this person, earlier merges' too (for their export)."""
    found: list[int] = []
    wanted = [person_id]
    while wanted:
        subject = f"person:{wanted.pop()}"
        for details in await session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "person.merged", AuditEntry.subject == subject)
        ):
            merged = (details or {}).get("merged")
            if isinstance(merged, int) and merged not in found:
                found.append(merged)
                wanted.append(merged)
    return found


@dataclass(frozen=True)
class Erasure:
    """What `erase` did, by kind of record, and where the person's name is still written."""

    pseudonym: str
    done: dict[str, int]
    still_named: list[str]

    def describe(self, *, only_shown: bool = False) -> str:
        """What was done; with `only_shown`, what would be done (the transaction rolled back)."""
        head = "Would erase, by kind:" if only_shown else f"Erased: the person is now {self.pseudonym!r}."
        lines = [head, *(f"  {kind}: {count}" for kind, count in self.done.items() if count)]
        if self.still_named:
            lines.append("Their name is still written in (check and correct these by hand):")
            lines += [f"  {where}" for where in self.still_named]
        else:
            lines.append(f"Their name {'would be' if only_shown else 'is'} found nowhere in the database.")
        return "\n".join(lines)


# Records that name an actor by their label ("person:12 via telegram"); before labels were
# references, they held the name and the account too.
LABELS = (
    table_of(Vote).c.opened_by,
    table_of(Meeting).c.created_by,
    table_of(OccurrenceChange).c.changed_by,
    table_of(Presence).c.recorded_by,
    table_of(MeetingGuest).c.invited_by,
    table_of(Deliverable).c.created_by,
    table_of(DraftVersion).c.withdrawn_by,
    table_of(MembershipApplication).c.decided_by,
    table_of(Announcement).c.author,
)
# Free texts outside the audit chain that people wrote or wgbot sent: a name in them is replaced.
_TEXTS = (
    table_of(Notice).c.text,
    table_of(Notice).c.html,
    table_of(AgendaItem).c.text,
    table_of(DraftComment).c.text,
    table_of(Minutes).c.text,
)


async def erase(session: AsyncSession, person: Person) -> Erasure:
    """Remove or pseudonymise everything wgbot holds about `person` (GDPR art. 17), in the
    caller's transaction, keeping what their organisation did: their casts, RSVPs, drafts and
    the audit entries stay, naming a pseudonym. The audit chain holds only tokens for their
    name and accounts; the rows those stand for are deleted, and the chain still verifies."""
    pid, name = person.id, person.name
    pseudonym = f"erased person #{pid}"
    accounts = [
        (platform, user)
        for platform, user in await session.execute(
            select(ChatAccount.platform, ChatAccount.platform_user_id).where(ChatAccount.person_id == pid)
        )
    ]
    refs = [f"{platform}:{user}" for platform, user in accounts]

    def of_accounts(platform: Any, user: Any) -> Any:
        return or_(false(), *((platform == p) & (user == u) for p, u in accounts))

    done: dict[str, int] = {}

    async def count(kind: str, statement: Any) -> None:
        changed = cast_as(CursorResult[Any], await session.execute(statement))
        done[kind] = done.get(kind, 0) + changed.rowcount

    await count(
        "personal data the audit log named",
        delete(AuditPersonal).where(or_(AuditPersonal.person_id == pid, AuditPersonal.account.in_(refs))),
    )
    await count("guided dialogs", delete(Dialog).where(of_accounts(Dialog.platform, Dialog.user_id)))
    await count("wrong link codes", delete(LinkFailure).where(of_accounts(LinkFailure.platform, LinkFailure.user_id)))
    await count("link codes", delete(LinkCode).where(LinkCode.person_id == pid))
    await count(
        "private messages",
        delete(Notice).where(Notice.direct.is_(True), of_accounts(Notice.platform, Notice.target)),
    )
    await count(
        "membership applications",
        update(MembershipApplication)
        .where(of_accounts(MembershipApplication.applicant_platform, MembershipApplication.applicant_user_id))
        .values(contact_name=pseudonym, applicant_user_id=pseudonym),
    )
    await count("roles", delete(RoleAssignment).where(RoleAssignment.person_id == pid))
    await count("broadcast limits", delete(Broadcast).where(Broadcast.person_id == pid))
    await count("chat accounts", delete(ChatAccount).where(ChatAccount.person_id == pid))
    for model in (DraftVersion, DraftComment):
        await count("authorships", update(model).where(model.person_id == pid).values(author=pseudonym))
    for column in LABELS:
        await count(
            "records of their acts",
            update(column.table).where(column.like(f"person:{pid} %")).values({column.name: f"person:{pid}"}),
        )
    for column in _TEXTS:
        await count(
            "texts naming them",
            update(column.table)
            .where(column.contains(name, autoescape=True))
            .values({column.name: func.replace(column, name, pseudonym)}),
        )
    await session.execute(
        update(Person).where(Person.id == pid).values(name=pseudonym, timezone=None, organisation_id=None)
    )
    await audit.record(session, actor="wgbot person erase", action="person.erased", subject=f"person:{pid}")
    return Erasure(pseudonym, done, await where_named(session, name))


async def where_named(session: AsyncSession, name: str) -> list[str]:
    """Every table and column whose text still holds `name` (any case), with how many rows."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | Text | JSON):
                continue
            held = await session.scalar(
                select(func.count())
                .select_from(table)
                .where(func.lower(cast(column, Text)).contains(name.lower(), autoescape=True))
            )
            if held:
                found.append(f"{table.name}.{column.name}: {counted(held, 'row')}")
    return found
