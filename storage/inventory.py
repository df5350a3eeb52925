"""Where wgbot names a person, declared once.

Each `Held` is one kind of record that can name a person: which table, how a row names them (by
their record's id, by one of their chat accounts, by the label of an act they did, or by their
name in a free text), what `wgbot person export` shows of it, and what `wgbot person erase`
does to it: delete the row, pseudonymise the named columns, or keep it as a reference to the
person's record (which is itself pseudonymised). storage/personal_data.py runs both from this
list, and storage/merging.py moves what names a person by id or by label from it.

`unaccounted()` walks the schema: a column that can hold a person's id, name, account or
contact must be in an entry here, or in `IMPERSONAL` with the reason it names no one
(tests/test_personal_data.py keeps it so).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import JSON, Column, ColumnElement, Label, MetaData, Table, Text, false, func, or_, select, true
from sqlalchemy.sql.base import ReadOnlyColumnCollection

from storage.models import (
    AgendaItem,
    Announcement,
    AuditEntry,
    AuditPersonal,
    Ballot,
    BallotCast,
    Base,
    Broadcast,
    CalendarFeed,
    ChatAccount,
    Deliverable,
    Dialog,
    DraftComment,
    DraftVersion,
    ElectorateMember,
    LinkCode,
    LinkFailure,
    Mandate,
    Meeting,
    MeetingGuest,
    MembershipApplication,
    Minutes,
    Notice,
    OccurrenceChange,
    Organisation,
    Person,
    Presence,
    RoleAssignment,
    Rsvp,
    StatusChange,
    TransportState,
    Vote,
    WorkingGroup,
    table_of,
)
from storage.platforms import private_chat_key


class Fate(enum.Enum):
    """What erasure does to a record that names the person."""

    DELETE = "deleted"
    PSEUDONYMISE = "pseudonymised"
    KEEP = "kept"  # what their organisation did stands, naming the pseudonymised record


@dataclass(frozen=True)
class Subject:
    """Whom an export or an erasure is about."""

    person_id: int
    name: str
    accounts: tuple[tuple[str, str], ...]  # (platform, user id)
    merged: tuple[int, ...] = ()  # records merged into this one: the audit log still names them

    @property
    def ids(self) -> tuple[int, ...]:
        return (self.person_id, *self.merged)

    @property
    def pseudonym(self) -> str:
        return f"erased person #{self.person_id}"

    @property
    def reference(self) -> str:
        """How an act's label names them once erased: their record, no platform (see Actor.label)."""
        return f"person:{self.person_id}"


class Naming(Protocol):
    """How a row names a person."""

    @property
    def column(self) -> Column[Any]: ...

    def where(self, subject: Subject) -> ColumnElement[bool]: ...


@dataclass(frozen=True)
class ById:
    """The column holds their record's id."""

    column: Column[Any]

    def where(self, subject: Subject) -> ColumnElement[bool]:
        return self.column.in_(subject.ids)


@dataclass(frozen=True)
class ByAccount:
    """The row is one of their chat accounts': `column` holds the user id (as `written`), and
    `platform` the platform; without `platform`, `column` holds "platform:user"."""

    column: Column[Any]
    platform: Column[Any] | None = None
    written: Callable[[str], str] = str
    only: Callable[[], ColumnElement[bool]] = true  # which of the table's rows are a person's at all

    def where(self, subject: Subject) -> ColumnElement[bool]:
        accounts: ColumnElement[bool]
        if self.platform is None:
            accounts = self.column.in_([f"{platform}:{user}" for platform, user in subject.accounts])
        else:
            accounts = or_(
                false(),
                *(
                    (self.platform == platform) & (self.column == self.written(user))
                    for platform, user in subject.accounts
                ),
            )
        return accounts & self.only()


@dataclass(frozen=True)
class ByLabel:
    """The column labels an act by its actor, "person:12 via telegram" (see Actor.label)."""

    column: Column[Any]

    def where(self, subject: Subject) -> ColumnElement[bool]:
        return or_(
            false(), *((self.column.like(f"person:{i} %")) | (self.column == f"person:{i}") for i in subject.ids)
        )


@dataclass(frozen=True)
class ByName:
    """A free text that writes their name."""

    column: Column[Any]

    def where(self, subject: Subject) -> ColumnElement[bool]:
        return self.column.contains(subject.name, autoescape=True)


# What a pseudonymised column becomes, given whom and the column.
Becomes = Callable[[Subject, Column[Any]], Any]


def _pseudonym(subject: Subject, column: Column[Any]) -> str:
    return subject.pseudonym


def _nothing(subject: Subject, column: Column[Any]) -> None:
    return None


def _no(subject: Subject, column: Column[Any]) -> bool:
    return False


def _reference(subject: Subject, column: Column[Any]) -> str:
    return subject.reference


def _name_replaced(subject: Subject, column: Column[Any]) -> ColumnElement[str]:
    return func.replace(column, subject.name, subject.pseudonym)


@dataclass(frozen=True)
class Held:
    """One kind of record that names a person, and what export and erasure do with it."""

    key: str  # the export's list (records sharing a key are listed together, each saying its table)
    kind: str  # how erasure reports it
    naming: tuple[Naming, ...]  # a row is theirs when any of these says so
    fate: Fate
    shown: tuple[ColumnElement[Any], ...]  # what the export lists of each row
    becomes: Mapping[str, Becomes] = field(default_factory=dict)  # PSEUDONYMISE: column name → new value
    one: bool = False  # their own record: exported as one object, not a list
    says_table: bool = False  # each exported row says which table it is from

    @property
    def table(self) -> Table:
        table = self.naming[0].column.table
        assert isinstance(table, Table)
        return table

    def where(self, subject: Subject) -> ColumnElement[bool]:
        return or_(*(naming.where(subject) for naming in self.naming))

    def columns(self) -> Iterator[Column[Any]]:
        """Every column of the table this entry reads, shows or changes."""
        yield from (naming.column for naming in self.naming)
        for shown in self.shown:
            element = shown.element if isinstance(shown, Label) else shown
            if isinstance(element, Column):
                yield element
        yield from (self.table.c[name] for name in self.becomes)


def _c(model: type[Base]) -> ReadOnlyColumnCollection[str, Column[Any]]:
    """A model's table's columns: the inventory speaks of columns, as the schema has them."""
    return table_of(model).c


def _act(column: Column[Any]) -> Held:
    """A label of an act they did: kept, without the platform it came from."""
    table = column.table
    assert isinstance(table, Table)
    return Held(
        "records_of_their_acts",
        "records of their acts",
        (ByLabel(column),),
        Fate.PSEUDONYMISE,
        (*table.primary_key.columns, column),
        {column.name: _reference},
        says_table=True,
    )


def _mention(column: Column[Any]) -> Held:
    """A text others or the bot wrote that names them: the name is replaced. The export says
    where, not the text, which is as much its writer's."""
    table = column.table
    assert isinstance(table, Table)
    return Held(
        "texts_naming_them",
        "texts naming them",
        (ByName(column),),
        Fate.PSEUDONYMISE,
        tuple(table.primary_key.columns),
        {column.name: _name_replaced},
        says_table=True,
    )


_organisation_name = (
    select(_c(Organisation).name).where(_c(Organisation).id == _c(Person).organisation_id).scalar_subquery()
)
_group_slug = select(_c(WorkingGroup).slug).where(_c(WorkingGroup).id == _c(RoleAssignment).group_id).scalar_subquery()

INVENTORY: tuple[Held, ...] = (
    Held(
        "person",
        "their record",
        (ById(_c(Person).id),),
        Fate.PSEUDONYMISE,
        (
            _c(Person).id,
            _c(Person).name,
            _organisation_name.label("organisation"),
            _c(Person).organisation_id,
            _c(Person).timezone.label("time_zone"),
            _c(Person).language,
            _c(Person).created_at.label("since"),
        ),
        {"name": _pseudonym, "timezone": _nothing, "language": _nothing, "organisation_id": _nothing},
        one=True,
    ),
    Held(
        "accounts",
        "chat accounts",
        (ById(_c(ChatAccount).person_id),),
        Fate.DELETE,
        (
            _c(ChatAccount).platform,
            _c(ChatAccount).platform_user_id.label("user_id"),
            _c(ChatAccount).created_at.label("since"),
        ),
    ),
    Held(
        "roles",
        "roles",
        (ById(_c(RoleAssignment).person_id),),
        Fate.DELETE,
        (_c(RoleAssignment).role, _group_slug.label("group")),
    ),
    Held(
        "link_codes",
        "link codes",
        (ById(_c(LinkCode).person_id),),
        Fate.DELETE,
        (_c(LinkCode).created_at, _c(LinkCode).expires_at, _c(LinkCode).used_at),
    ),
    Held(
        "failed_link_attempts",
        "wrong link codes",
        (ByAccount(_c(LinkFailure).user_id, _c(LinkFailure).platform),),
        Fate.DELETE,
        (_c(LinkFailure).platform, _c(LinkFailure).at),
    ),
    Held(
        "open_dialogs",
        "guided dialogs",
        (ByAccount(_c(Dialog).user_id, _c(Dialog).platform),),
        Fate.DELETE,
        (_c(Dialog).platform, _c(Dialog).kind, _c(Dialog).answers, _c(Dialog).updated_at.label("at")),
    ),
    Held(
        "private_notices",
        "private messages",
        (ByAccount(_c(Notice).target, _c(Notice).platform, only=lambda: _c(Notice).direct.is_(True)),),
        Fate.DELETE,
        (
            _c(Notice).id,
            _c(Notice).platform,
            _c(Notice).status,
            _c(Notice).text,
            _c(Notice).created_at.label("at"),
            _c(Notice).sent_at,
        ),
    ),
    Held(
        "private_chats",
        "private chats noted",
        (ByAccount(_c(TransportState).key, _c(TransportState).platform, written=private_chat_key),),
        Fate.DELETE,
        (_c(TransportState).platform, _c(TransportState).value.label("chat")),
    ),
    Held(
        "broadcasts",
        "broadcast limits",
        (ById(_c(Broadcast).person_id),),
        Fate.DELETE,
        (_c(Broadcast).what, _c(Broadcast).at),
    ),
    Held(
        "membership_applications",
        "membership applications",
        (ByAccount(_c(MembershipApplication).applicant_user_id, _c(MembershipApplication).applicant_platform),),
        Fate.PSEUDONYMISE,
        (
            _c(MembershipApplication).id,
            _c(MembershipApplication).organisation_name.label("organisation"),
            _c(MembershipApplication).country,
            _c(MembershipApplication).kind,
            _c(MembershipApplication).groups,
            _c(MembershipApplication).contact_name,
            _c(MembershipApplication).eligibility,
            _c(MembershipApplication).language,
            _c(MembershipApplication).status,
            _c(MembershipApplication).created_at.label("at"),
            _c(MembershipApplication).decided_at,
        ),
        {"contact_name": _pseudonym, "applicant_user_id": _pseudonym, "language": _nothing},
    ),
    Held(
        "casts",
        "casts",
        (ById(_c(BallotCast).person_id),),
        Fate.KEEP,
        (
            _c(BallotCast).vote_id.label("vote"),
            _c(BallotCast).option,
            _c(BallotCast).platform,
            _c(BallotCast).cast_at.label("at"),
        ),
    ),
    Held(
        "standing_ballots",
        "standing ballots",
        (ById(_c(Ballot).person_id),),
        Fate.KEEP,
        (_c(Ballot).vote_id.label("vote"), _c(Ballot).option, _c(Ballot).platform, _c(Ballot).cast_at.label("at")),
    ),
    Held(
        "mandates",
        "mandates given or ended",
        (ById(_c(Mandate).given_by), ById(_c(Mandate).ended_by)),
        Fate.KEEP,  # what their organisation agreed stands, naming the pseudonymised record
        (
            _c(Mandate).id.label("mandate"),
            _c(Mandate).giver_id.label("giver"),
            _c(Mandate).holder_id.label("holder"),
            _c(Mandate).vote_id.label("vote"),
            _c(Mandate).until,
            _c(Mandate).given_at,
            _c(Mandate).ended_at,
            _c(Mandate).ended_how,
        ),
    ),
    Held(
        "rsvps",
        "RSVPs",
        (ById(_c(Rsvp).person_id),),
        Fate.KEEP,
        (
            _c(Rsvp).meeting_id.label("meeting"),
            _c(Rsvp).occurrence,
            _c(Rsvp).answer,
            _c(Rsvp).answered_at.label("at"),
        ),
    ),
    Held(
        "agenda_items",
        "agenda items",
        (ById(_c(AgendaItem).person_id),),
        Fate.KEEP,
        (
            _c(AgendaItem).meeting_id.label("meeting"),
            _c(AgendaItem).occurrence,
            _c(AgendaItem).text,
            _c(AgendaItem).added_at.label("at"),
        ),
    ),
    Held(
        "minutes_kept",
        "minutes kept",
        (ById(_c(Minutes).person_id),),
        Fate.KEEP,
        (_c(Minutes).meeting_id.label("meeting"), _c(Minutes).occurrence, _c(Minutes).added_at.label("at")),
    ),
    Held(
        "drafts",
        "drafts",
        (ById(_c(DraftVersion).person_id),),
        Fate.PSEUDONYMISE,
        (
            _c(DraftVersion).deliverable_id.label("deliverable"),
            _c(DraftVersion).number.label("version"),
            _c(DraftVersion).file_name.label("file"),
            _c(DraftVersion).sha256,
            _c(DraftVersion).author,
            _c(DraftVersion).submitted_at.label("at"),
            _c(DraftVersion).withdrawn_at,
        ),
        {"author": _pseudonym},
    ),
    Held(
        "comments",
        "comments",
        (ById(_c(DraftComment).person_id),),
        Fate.PSEUDONYMISE,
        (
            _c(DraftComment).deliverable_id.label("deliverable"),
            _c(DraftComment).version,
            _c(DraftComment).text,
            _c(DraftComment).author,
            _c(DraftComment).at,
        ),
        {"author": _pseudonym},
    ),
    Held(
        "meeting_invitations",
        "meeting invitations",
        (ById(_c(MeetingGuest).person_id),),
        Fate.KEEP,
        (_c(MeetingGuest).meeting_id.label("meeting"), _c(MeetingGuest).invited_at.label("at")),
    ),
    Held(
        "announcements",
        "announcements",
        (ById(_c(Announcement).author_person_id),),
        Fate.KEEP,
        (_c(Announcement).id, _c(Announcement).text, _c(Announcement).created_at.label("at")),
    ),
    Held(
        "announcement_reports",
        "announcement reports to them",
        (
            ByAccount(
                _c(Announcement).report_target,
                _c(Announcement).report_platform,
                only=lambda: _c(Announcement).report_direct.is_(True),
            ),
        ),
        Fate.PSEUDONYMISE,
        (_c(Announcement).id.label("announcement"), _c(Announcement).report_platform.label("platform")),
        {"report_target": _nothing, "report_platform": _nothing, "report_direct": _no},
    ),
    Held(
        "votes_opened",
        "votes opened",
        (ById(_c(Vote).opener_person_id),),
        Fate.KEEP,
        (_c(Vote).id, _c(Vote).question, _c(Vote).opened_at.label("at")),
    ),
    Held(
        "audit_log_personal_data",
        "personal data the audit log named",
        (ById(_c(AuditPersonal).person_id), ByAccount(_c(AuditPersonal).account)),
        Fate.DELETE,
        (_c(AuditPersonal).value,),
    ),
    Held(
        "audit_entries",
        "audit entries",  # hashed into the chain: they name the person by reference and by token
        (ByLabel(_c(AuditEntry).actor), ByLabel(_c(AuditEntry).subject)),
        Fate.KEEP,
        (
            _c(AuditEntry).id.label("entry"),
            _c(AuditEntry).at,
            _c(AuditEntry).actor,
            _c(AuditEntry).action,
            _c(AuditEntry).subject,
        ),
    ),
    *(
        _act(column)
        for column in (
            _c(Vote).opened_by,
            _c(Meeting).created_by,
            _c(OccurrenceChange).changed_by,
            _c(Presence).recorded_by,
            _c(MeetingGuest).invited_by,
            _c(Deliverable).created_by,
            _c(StatusChange).by,
            _c(DraftVersion).withdrawn_by,
            _c(MembershipApplication).decided_by,
            _c(Announcement).author,
            _c(CalendarFeed).created_by,
        )
    ),
    *(
        _mention(column)
        for column in (
            _c(Notice).text,
            _c(Notice).html,
            _c(AgendaItem).text,
            _c(DraftComment).text,
            _c(Minutes).text,
        )
    ),
)

# Columns that look as if they could name a person but do not, and why.
IMPERSONAL: Mapping[Column[Any], str] = {
    _c(Organisation).name: "an organisation's name",
    _c(Organisation).name_key: "an organisation's name, folded for matching",
    _c(MembershipApplication).name_key: "the applying organisation's name, folded for matching",
    _c(WorkingGroup).name: "a working group's name",
    _c(WorkingGroup).mandate: "a working group's mandate, written by the secretariat",
    _c(ElectorateMember).organisation_name: "a voting organisation's name",
    _c(MembershipApplication).reason: "the secretariat's reason for its decision",
    _c(DraftVersion).file_name: "a draft's file name (a name in it is reported by erasure's last check)",
    _c(Minutes).file_name: "a minutes file's name (a name in it is reported by erasure's last check)",
    _c(Meeting).title: "a meeting's title (a name in it is reported by erasure's last check)",
    _c(Meeting).link: "a meeting's video link",
    _c(Deliverable).title: "a deliverable's title (a name in it is reported by erasure's last check)",
    _c(Deliverable).description: "a deliverable's description (a name in it is reported by erasure's last check)",
    _c(Vote).options: "a vote's options",
    _c(Vote).result: "a vote's counted result, by organisation",
    _c(Vote).action: "what a passed vote does (a group to create)",
    _c(Notice).buttons: "buttons' labels and commands",
    _c(Notice).last_error: "why a delivery failed, as the platform said",
    _c(Announcement).groups: "the groups an announcement is for",
    _c(Announcement).html: "an announcement's text as HTML (its author's record is `announcements`)",
    _c(AuditEntry).details: (
        "hashed into the chain: people in it are tokens for audit_personal's rows, which erasure deletes; "
        "a name typed into an audited text is reported by erasure's last check, not changed"
    ),
    _c(TransportState).value: "a transport's state; a private chat's is in `private_chats`",
    _c(Presence).guest: "whether an organisation attended as a guest (a flag)",
}

# A column that can hold a person's id, name, account or contact, by its name; and every free
# text or JSON column, which can hold a name.
_PERSONAL_NAME = re.compile(
    r"(^|_)(person|people|user|member|author|contact|actor|by|name|account|target|subject|email|phone|owner|guest)(_|$)"
)


def might_name_a_person(column: Column[Any]) -> bool:
    """Whether a column could hold a person's id, name, account or contact."""
    return (
        any(key.target_fullname == "people.id" for key in column.foreign_keys)
        or bool(_PERSONAL_NAME.search(column.name))
        or isinstance(column.type, Text | JSON)
    )


def accounted() -> set[Column[Any]]:
    """The columns the inventory reads, shows or changes, and those it declares impersonal."""
    return {column for held in INVENTORY for column in held.columns()} | set(IMPERSONAL)


def unaccounted(metadata: MetaData) -> list[str]:
    """The columns of `metadata` that might name a person but are in no entry: each is a
    decision still to make (add it to INVENTORY, or to IMPERSONAL with the reason)."""
    known = {(column.table.name, column.name) for column in accounted() if isinstance(column.table, Table)}
    return [
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if might_name_a_person(column) and (table.name, column.name) not in known
    ]


def person_id_columns() -> list[Column[Any]]:
    """The columns that hold a person's id in another record (what a merge moves)."""
    return [n.column for held in INVENTORY for n in held.naming if isinstance(n, ById) and held.table.name != "people"]


def act_labels() -> list[Column[Any]]:
    """The labels of acts outside the audit chain (what a merge and an erasure rewrite)."""
    return [n.column for held in INVENTORY if held.fate != Fate.KEEP for n in held.naming if isinstance(n, ByLabel)]
