"""The alliance's records as typed SQLAlchemy 2 models.

Constraints carry the rules wherever the database can hold them (one account per platform user,
one binding per room, one audit row per predecessor), so that a Python `if` is never the last
line of defence. Every timestamp is stored as an aware UTC datetime.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The rules decide by these two; they live with the rules, which import nothing but the standard library.
from storage.rules.access import OrganisationStatus as OrganisationStatus
from storage.rules.access import RoleName as RoleName

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime on every backend: SQLite forgets the zone, so UTC is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """A model's table, for the hot paths that skip the unit of work (typed as a Table, which
    SQLAlchemy's `__table__` is not)."""
    return cast(Table, model.__table__)


def _enum(cls: type[enum.Enum]) -> Enum:
    """Enums are stored by value as plain strings so migrations never need ALTER TYPE."""
    return Enum(
        cls,
        native_enum=False,
        values_callable=lambda members: [m.value for m in members],
        length=32,
        validate_strings=True,
    )


class OrganisationKind(enum.StrEnum):
    INDUSTRY = "industry"
    RESEARCH = "research"
    UNIVERSITY = "university"
    ASSOCIATION = "association"
    CLUSTER = "cluster"


class RoomPurpose(enum.StrEnum):
    GROUP = "group"
    SECRETARIAT = "secretariat"
    PLENARY = "plenary"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Case- and accent-folded name: "Café GmbH" and "CAFE gmbh" are one organisation.
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    kind: Mapped[OrganisationKind] = mapped_column(_enum(OrganisationKind))
    status: Mapped[OrganisationStatus] = mapped_column(_enum(OrganisationStatus))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    representatives: Mapped[list[Person]] = relationship(back_populates="organisation")
    participations: Mapped[list[Participation]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))  # their choice (/lang); None: as their platform says
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation | None] = relationship(back_populates="representatives")
    accounts: Mapped[list[ChatAccount]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="ChatAccount.id"
    )
    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="RoleAssignment.id"
    )


class ChatAccount(Base):
    """One user on one platform; many accounts may belong to one person."""

    __tablename__ = "chat_accounts"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_user_id: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship(back_populates="accounts")


class WorkingGroup(Base):
    __tablename__ = "working_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    mandate: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str | None] = mapped_column(String(8))  # its rooms' (/wg language); None: the alliance's
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    participations: Mapped[list[Participation]] = relationship(back_populates="group", cascade="all, delete-orphan")


class Participation(Base):
    """An organisation taking part in a working group: the group's electorate is built from these."""

    __tablename__ = "participations"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="participations")
    group: Mapped[WorkingGroup] = relationship(back_populates="participations")


class RoomBinding(Base):
    """Ties one chat room to a working group, or to the secretariat or plenary."""

    __tablename__ = "room_bindings"
    __table_args__ = (UniqueConstraint("platform", "room_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    room_id: Mapped[str] = mapped_column(String(255))
    purpose: Mapped[RoomPurpose] = mapped_column(_enum(RoomPurpose))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("working_groups.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[WorkingGroup | None] = relationship()


class RoleAssignment(Base):
    """A role held by a person: alliance-wide (secretariat, commission) or in one group (chair)."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        Index(
            "uq_role_assignments_alliance_wide",
            "person_id",
            "role",
            unique=True,
            sqlite_where=text("group_id IS NULL"),
            postgresql_where=text("group_id IS NULL"),
        ),
        Index(
            "uq_role_assignments_in_group",
            "person_id",
            "role",
            "group_id",
            unique=True,
            sqlite_where=text("group_id IS NOT NULL"),
            postgresql_where=text("group_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[RoleName] = mapped_column(_enum(RoleName))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("working_groups.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship(back_populates="roles")
    group: Mapped[WorkingGroup | None] = relationship()


class AuditEntry(Base):
    """One governance act. Append-only; each row's hash covers the previous row's hash.

    `prev_hash` is unique, so two writers can never chain from the same predecessor: a fork in
    the chain is refused by the database itself.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject", "subject", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Only for an entry written before personal data was kept apart (migration 0019): the hash
    # of its content as kept now, with its personal data as tokens (see storage/audit.py).
    sealed: Mapped[str | None] = mapped_column(String(64))


class CalendarFeed(Base):
    """The secret in a working group's calendar subscription link (`/meeting feed`). One per
    group, shared by its representatives; renewing it replaces it, and the old link stops working.
    It is kept as it is, to be given again: it reads no more than the group's room already shows."""

    __tablename__ = "calendar_feeds"

    group_id: Mapped[int] = mapped_column(ForeignKey("working_groups.id", ondelete="CASCADE"), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))


class AuditPersonal(Base):
    """A piece of personal data an audit entry names, kept outside the hashed payload.

    The entry holds `token` — "personal:" and a salted digest of the value — where the value
    would be, so erasing a person deletes these rows and leaves the chain whole: the token
    still proves an entry unchanged, and without the salt it no longer leads to the person.
    """

    __tablename__ = "audit_personal"

    token: Mapped[str] = mapped_column(String(48), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    salt: Mapped[str] = mapped_column(String(32))
    # Whose it is, to find it on erasure: a person, or a chat account ("telegram:12345").
    person_id: Mapped[int | None] = mapped_column(index=True)
    account: Mapped[str | None] = mapped_column(String(300), index=True)


class ProcessedEvent(Base):
    """A chat event already handled; written in the same transaction as the event's effect."""

    __tablename__ = "processed_events"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class TransportState(Base):
    """What a transport must remember across restarts (a sync token, its device), per platform."""

    __tablename__ = "transport_state"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NoticeStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


# A notice's buttons as it keeps them (JSON): [label, command] pairs.
ButtonPairs = list[list[str]]


class Notice(Base):
    """A message to deliver after its transaction commits (the outbox).

    Written in the same transaction as the act it reports, so an act and its notices commit
    together; the postman delivers pending ones and marks each sent or failed, also after a
    restart.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    platform: Mapped[str] = mapped_column(String(16))
    direct: Mapped[bool]  # to a person's private chat (target is a user id) or to a room
    target: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    buttons: Mapped[ButtonPairs | None] = mapped_column(JSON)
    status: Mapped[NoticeStatus] = mapped_column(_enum(NoticeStatus), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A failed notice waits until then before the next attempt (backing off).
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pin: Mapped[bool] = mapped_column(default=False)  # pin it where the platform allows
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"), index=True)
    # What the message shows, for editing it later ("vote:12": the vote's live turnout), and the
    # platform's id of the message once it was sent.
    topic: Mapped[str | None] = mapped_column(String(64), index=True)
    private_buttons: Mapped[bool] = mapped_column(default=False)  # see Reply.private_buttons
    message_id: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(8))  # what it is written in, when worded per room


class AnnouncementStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # waiting for its time; nothing queued yet
    DELIVERING = "delivering"  # its notices are in the outbox
    DELIVERED = "delivered"  # every room answered, and the author has the report
    CANCELLED = "cancelled"


class Announcement(Base):
    """A secretariat message to many rooms, now or later, with a delivery report to its author.

    Its notices are written when it is due (so rooms bound meanwhile receive it too); the report
    is written when the last of them is sent or given up, once (`reported_at`).
    """

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)  # as written (Markdown), also the plain-text form
    html: Mapped[str] = mapped_column(Text)
    groups: Mapped[list[str] | None] = mapped_column(JSON)  # group slugs; None: every group and the plenary
    pin: Mapped[bool] = mapped_column(default=False)
    status: Mapped[AnnouncementStatus] = mapped_column(_enum(AnnouncementStatus), index=True)
    author: Mapped[str] = mapped_column(String(255))  # the actor's audit label
    author_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # Where the report goes: the chat it was made from (none from the command line).
    report_platform: Mapped[str | None] = mapped_column(String(16))
    report_direct: Mapped[bool] = mapped_column(default=False)
    report_target: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApplicationStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class MembershipApplication(Base):
    """An organisation's request to join the alliance, decided by the Commission."""

    __tablename__ = "membership_applications"
    __table_args__ = (
        # One pending application per organisation, however its name is written.
        Index(
            "uq_membership_applications_pending_name",
            "name_key",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    country: Mapped[str] = mapped_column(String(2))
    kind: Mapped[OrganisationKind] = mapped_column(_enum(OrganisationKind))
    groups: Mapped[list[str]] = mapped_column(JSON)  # slugs of the working groups it wants to join
    contact_name: Mapped[str] = mapped_column(String(200))
    applicant_platform: Mapped[str] = mapped_column(String(16))
    applicant_user_id: Mapped[str] = mapped_column(String(255))
    declaration_sha256: Mapped[str] = mapped_column(String(64))
    declaration_accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    eligibility: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{"question": …, "answer": …}]
    status: Mapped[ApplicationStatus] = mapped_column(_enum(ApplicationStatus))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    language: Mapped[str | None] = mapped_column(String(8))  # the applicant's, to tell them the decision in it


class Dialog(Base):
    """A guided conversation in progress (e.g. /apply step by step), one per chat account."""

    __tablename__ = "dialogs"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LinkCode(Base):
    """A one-time code that links another chat account to a person, kept only as its SHA-256:
    whoever reads the database cannot use a code still waiting to be redeemed."""

    __tablename__ = "link_codes"

    code_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkFailure(Base):
    """A wrong, used or expired link code sent from a chat account: counted against the limits."""

    __tablename__ = "link_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (Index("ix_link_failures_account", "platform", "user_id", "at"),)


class Broadcast(Base):
    """An act of a person that posted to every room of the alliance: counted against a daily limit."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    what: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_broadcasts_person_at", "person_id", "at"),)


class VoteStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    HELD = "held"  # not closed: its ballots disagree with the audit log; the secretariat investigates


class Vote(Base):
    """A question put to a working group's member organisations (or to all of them)."""

    __tablename__ = "votes"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("working_groups.id"), index=True)
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON)
    quorum: Mapped[float]
    majority: Mapped[str] = mapped_column(String(16))
    abstentions_count: Mapped[bool] = mapped_column(default=False)
    secret: Mapped[bool] = mapped_column(default=False)
    hidden: Mapped[bool] = mapped_column(default=False)
    # A secret vote's key for the seals in its audit lines; destroyed when it closes.
    seal_key: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[VoteStatus] = mapped_column(_enum(VoteStatus), index=True)
    opened_by: Mapped[str] = mapped_column(String(255))
    opener_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    extended: Mapped[bool] = mapped_column(default=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # What passing the vote does, carried out when it closes: {"create_group": {name, mandate}}.
    action: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    group: Mapped[WorkingGroup | None] = relationship()


class ElectorateMember(Base):
    """An organisation entitled to vote, frozen when the vote opened."""

    __tablename__ = "electorate"

    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    organisation_name: Mapped[str] = mapped_column(String(200))


class MandateEnd(enum.StrEnum):
    REVOKED = "revoked"
    EXPIRED = "expired"  # its date came
    CLOSED = "closed"  # its one vote closed or was cancelled
    SUSPENDED = "suspended"  # one of the two organisations was suspended
    LEFT = "left"  # one of the two is no longer a member


class Mandate(Base):
    """A member organisation's leave for another to cast its ballot: in one vote, or in every
    vote the two share until a date (the rules: storage/rules/mandates.py)."""

    __tablename__ = "mandates"

    id: Mapped[int] = mapped_column(primary_key=True)
    giver_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    vote_id: Mapped[int | None] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"), index=True)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    given_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_how: Mapped[MandateEnd | None] = mapped_column(_enum(MandateEnd))
    ended_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class _CastFields:
    """What one cast says: which option, for which organisation, by whom, from where, when, and
    by which mandate if another organisation cast it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    option: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # None in a secret vote
    platform: Mapped[str | None] = mapped_column(String(16))  # None in a secret vote
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime)
    mandate_id: Mapped[int | None] = mapped_column(ForeignKey("mandates.id"))


class Ballot(_CastFields, Base):
    """The one ballot that counts for an organisation in a vote: its latest cast."""

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("vote_id", "organisation_id"),)


class BallotCast(_CastFields, Base):
    """Every cast, in order: who cast what for which organisation, and from where."""

    __tablename__ = "ballot_casts"


class VoteNudge(Base):
    """A reminder to non-voters already sent (its notices commit with this row: sent once)."""

    __tablename__ = "vote_nudges"

    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"), primary_key=True)
    hours_before: Mapped[float] = mapped_column(primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VoteChase(Base):
    """The last time a chair or the secretariat reminded an organisation to vote (/vote remind)."""

    __tablename__ = "vote_chases"

    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MeetingStatus(enum.StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"  # the whole series


class Meeting(Base):
    """A one-off or recurring meeting of a working group.

    Its wall-clock start and zone are the truth: occurrences are computed from them with the
    RFC 5545 rule, so 10:00 in Europe/Brussels stays 10:00 across daylight saving changes.
    Occurrences are numbered from 1 in the order of the rule; a number never changes, even when
    an occurrence is cancelled or moved.
    """

    __tablename__ = "meetings"
    __table_args__ = (
        Index("ix_meetings_status_next", "status", "next_start"),
        Index("ix_meetings_group_status_next", "group_id", "status", "next_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("working_groups.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(Text)
    zone: Mapped[str] = mapped_column(String(64))
    local_start: Mapped[datetime] = mapped_column(DateTime())  # wall-clock time in `zone`, naive
    rule: Mapped[str | None] = mapped_column(String(500))  # RRULE (with its end), None: one-off
    duration_minutes: Mapped[int]
    link: Mapped[str | None] = mapped_column(Text)
    status: Mapped[MeetingStatus] = mapped_column(_enum(MeetingStatus), index=True)
    first_start: Mapped[datetime] = mapped_column(UTCDateTime)
    last_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # when the series is over
    # No occurrence still to come starts before this (a lower bound, tightened as occurrences
    # pass; None once none is to come): the next meetings are read from an index, not by
    # expanding every series.
    next_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[WorkingGroup] = relationship()


class OccurrenceChange(Base):
    """One occurrence cancelled, or moved to another time (an exception to the rule)."""

    __tablename__ = "occurrence_changes"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    occurrence: Mapped[int] = mapped_column(primary_key=True)
    cancelled: Mapped[bool] = mapped_column(default=False)
    moved_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rsvp(Base):
    """Whether a person will attend one occurrence (their latest answer)."""

    __tablename__ = "rsvps"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    occurrence: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    answer: Mapped[str] = mapped_column(String(8))  # yes | no | maybe
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)

    person: Mapped[Person] = relationship()


class AgendaItem(Base):
    __tablename__ = "agenda_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    occurrence: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)

    person: Mapped[Person | None] = relationship()


class Presence(Base):
    """An organisation recorded by the chair as present at one occurrence of a meeting."""

    __tablename__ = "presence"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    occurrence: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Not one of the group's organisations: its people were invited to the meeting as guests.
    guest: Mapped[bool] = mapped_column(default=False, server_default=false())

    organisation: Mapped[Organisation] = relationship()


class Minutes(Base):
    """What was said at one occurrence: a text, a file in the file store, or both."""

    __tablename__ = "minutes"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    occurrence: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str | None] = mapped_column(Text)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None]
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MeetingGuest(Base):
    """A person of a non-member organisation invited to a meeting: gets its reminders, never votes."""

    __tablename__ = "meeting_guests"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    invited_by: Mapped[str] = mapped_column(String(255))
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MeetingReminder(Base):
    """A reminder of one occurrence at one offset, done: sent, sent late, or skipped.

    Written in the transaction that queues the reminder's notices, and unique, so a reminder is
    never sent twice, whatever restarts or duplicate firings happen.
    """

    __tablename__ = "meeting_reminders"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    occurrence: Mapped[int] = mapped_column(primary_key=True)
    minutes_before: Mapped[int] = mapped_column(primary_key=True)
    outcome: Mapped[str] = mapped_column(String(8))  # sent | late | skipped
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliverableStatus(enum.StrEnum):
    DRAFTING = "drafting"
    IN_REVIEW = "in review"
    FINAL = "final"
    SUBMITTED = "submitted"


class Deliverable(Base):
    """A document a working group produces for the Commission, drafted in versions."""

    __tablename__ = "deliverables"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("working_groups.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[DeliverableStatus] = mapped_column(_enum(DeliverableStatus), index=True)
    final_version: Mapped[int | None]  # the version that became final (by the chair or a vote)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    group: Mapped[WorkingGroup] = relationship()


class DraftVersion(Base):
    """One numbered version of a deliverable: who sent which bytes (kept in the file store)."""

    __tablename__ = "draft_versions"
    __table_args__ = (UniqueConstraint("deliverable_id", "number"), UniqueConstraint("deliverable_id", "sha256"))

    id: Mapped[int] = mapped_column(primary_key=True)
    deliverable_id: Mapped[int] = mapped_column(ForeignKey("deliverables.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    media_type: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    author: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))  # as it was named then
    platform: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Withdrawn by its author or the chair: kept, listed and exported as withdrawn, never final.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(255))


class DraftComment(Base):
    __tablename__ = "draft_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    deliverable_id: Mapped[int] = mapped_column(ForeignKey("deliverables.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    author: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusChange(Base):
    """A deliverable's move from one status to another: its history, for the export."""

    __tablename__ = "deliverable_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    deliverable_id: Mapped[int] = mapped_column(ForeignKey("deliverables.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int | None]  # the version made final, for "final"
    by: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliverableReminder(Base):
    """A due-date reminder sent (with its notices, in one transaction: sent once)."""

    __tablename__ = "deliverable_reminders"

    deliverable_id: Mapped[int] = mapped_column(ForeignKey("deliverables.id", ondelete="CASCADE"), primary_key=True)
    days_before: Mapped[float] = mapped_column(primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)  # a new due date, new reminders
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
