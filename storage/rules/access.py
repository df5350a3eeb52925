"""Who may do what: pure functions over an Actor, decided here and nowhere else."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from storage.rules.text import N_, Words, state


class OrganisationStatus(enum.StrEnum):
    APPLICANT = "applicant"
    MEMBER = "member"
    SUSPENDED = "suspended"
    REJECTED = "rejected"
    NON_MEMBER = "non-member"  # a guest's organisation


class RoleName(enum.StrEnum):
    SECRETARIAT = "secretariat"
    COMMISSION = "commission"
    CHAIR = "chair"


class Access(enum.StrEnum):
    """The least a person must be to run a command."""

    ANYONE = "anyone"
    MEMBER = "member"  # a representative of a member organisation
    CHAIR = "chair"  # chair of the room's working group
    SECRETARIAT = "secretariat"
    COMMISSION = "commission"


@dataclass(frozen=True)
class Actor:
    """The person behind one chat account, as the rules see them."""

    platform: str
    platform_user_id: str
    display_name: str
    person_id: int | None = None
    organisation_id: int | None = None
    organisation_name: str | None = None
    organisation_status: OrganisationStatus | None = None
    # (role, group id or None for alliance-wide roles)
    roles: frozenset[tuple[RoleName, int | None]] = field(default_factory=frozenset)
    timezone: str | None = None
    language: str | None = None  # chosen with /lang; None: as their platform says, else the alliance's

    @property
    def is_known(self) -> bool:
        return self.person_id is not None

    @property
    def represents_member(self) -> bool:
        return self.organisation_status == OrganisationStatus.MEMBER

    @property
    def is_secretariat(self) -> bool:
        return (RoleName.SECRETARIAT, None) in self.roles

    @property
    def is_commission(self) -> bool:
        return (RoleName.COMMISSION, None) in self.roles

    def chairs(self, group_id: int | None) -> bool:
        return group_id is not None and (RoleName.CHAIR, group_id) in self.roles

    @property
    def label(self) -> str:
        """How records name this actor: by reference, never by name or account, so that erasing
        a person's data leaves what they did (the audit chain hashes this) whole."""
        who = f"person:{self.person_id}" if self.is_known else "stranger"
        return f"{who} via {self.platform}"


def may(access: Access, actor: Actor, group_id: int | None) -> bool:
    """Whether `actor` may run a command needing `access` in the room of `group_id`.

    The secretariat may do everything a chair may do, in every group; a chair's powers hold only
    in the group they chair.
    """
    match access:
        case Access.ANYONE:
            return True
        case Access.MEMBER:
            return actor.represents_member or actor.is_secretariat
        case Access.CHAIR:
            return actor.is_secretariat or (actor.represents_member and actor.chairs(group_id))
        case Access.SECRETARIAT:
            return actor.is_secretariat
        case Access.COMMISSION:
            return actor.is_commission


REFUSALS = {
    Access.MEMBER: N_("Only representatives of member organisations may do this."),
    Access.CHAIR: N_("Only the chair of this working group or the secretariat may do this."),
    Access.SECRETARIAT: N_("Only the secretariat may do this."),
    Access.COMMISSION: N_("Only the Commission's reviewers may do this."),
}


def refusal_of_access(access: Access, actor: Actor) -> Words:
    """Why `actor` may not run a command needing `access`: a representative whose organisation
    is suspended is told so, not that they represent no member."""
    if access in (Access.MEMBER, Access.CHAIR) and actor.organisation_status == OrganisationStatus.SUSPENDED:
        return Words(
            N_("{organisation} is suspended: its representatives cannot do this until the secretariat reinstates it."),
            {"organisation": actor.organisation_name},
        )
    return Words(REFUSALS[access])


def voting_right(actor: Actor) -> Words | None:
    """None when the actor may vote for an organisation; otherwise why not.

    Only member organisations vote, one vote each, cast by any of their representatives.
    """
    if not actor.is_known:
        return Words(N_("you are not known to the alliance"))
    if actor.organisation_id is None:
        return Words(N_("you do not represent an organisation"))
    if actor.organisation_status == OrganisationStatus.SUSPENDED:
        return Words(N_("{organisation} is suspended"), {"organisation": actor.organisation_name})
    if actor.organisation_status != OrganisationStatus.MEMBER:
        status = actor.organisation_status.value if actor.organisation_status else "applicant"
        return Words(
            N_("{organisation} is not a member organisation ({status})"),
            {"organisation": actor.organisation_name, "status": state(status, of="organisation")},
        )
    return None
