"""Mandates kept: given, revoked, ended when their vote closes or an organisation leaves good
standing or their date comes, and found when a ballot is cast by one. Every act is audited.
The rules are storage/rules/mandates.py's; casting is storage/votes.py's (`ByMandate`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import audit
from storage.errors import Refused
from storage.models import (
    Ballot,
    BallotCast,
    ElectorateMember,
    Mandate,
    MandateEnd,
    Organisation,
    OrganisationStatus,
    Vote,
    VoteStatus,
)
from storage.rules import mandates as rules
from storage.rules.access import Actor, voting_right


@dataclass(frozen=True)
class ByMandate:
    """A ballot cast for `giver` by the mandate `mandate_id`, found in force (storage/votes.py
    casts it, and reads there whether the giver voted itself)."""

    giver_id: int
    giver_name: str
    mandate_id: int


def as_rule(mandate: Mandate) -> rules.Mandate:
    return rules.Mandate(
        mandate.id, mandate.giver_id, mandate.holder_id, mandate.vote_id, mandate.until, mandate.ended_at is not None
    )


async def _members(session: AsyncSession) -> set[int]:
    found = await session.scalars(select(Organisation.id).where(Organisation.status == OrganisationStatus.MEMBER))
    return set(found)


async def names_of(session: AsyncSession, found: Sequence[Mandate]) -> dict[int, str]:
    """Organisation id → name, for every organisation the mandates name."""
    return await _names(session, *{m.giver_id for m in found}, *{m.holder_id for m in found})


async def _names(session: AsyncSession, *ids: int) -> dict[int, str]:
    rows = await session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids)))
    return dict(rows.tuples().all())


async def _poll(session: AsyncSession, vote_id: int) -> rules.Poll:
    vote = await session.get(Vote, vote_id)
    if vote is None:
        raise Refused("No vote '{id}'; /vote list shows them.", id=vote_id)
    electorate = await session.scalars(
        select(ElectorateMember.organisation_id).where(ElectorateMember.vote_id == vote_id)
    )
    return rules.Poll(vote_id, vote.status == VoteStatus.OPEN, frozenset(electorate))


async def standing(session: AsyncSession, now: datetime) -> list[Mandate]:
    """The mandates that have not ended, once those whose date has come are ended (audited)."""
    await end_expired(session, now)
    found = await session.scalars(select(Mandate).where(Mandate.ended_at.is_(None)).order_by(Mandate.id))
    return list(found)


async def dated(session: AsyncSession, ids: Collection[int] | None = None) -> list[Mandate]:
    """The mandates in force until a date (of `ids`, or all): the scheduler ends each at it."""
    query = select(Mandate).where(Mandate.ended_at.is_(None), Mandate.until.is_not(None))
    if ids is not None:
        query = query.where(Mandate.id.in_(ids))
    return list(await session.scalars(query.order_by(Mandate.id)))


async def give(
    session: AsyncSession,
    *,
    actor: Actor,
    holder: Organisation,
    now: datetime,
    limit: int,
    vote_id: int | None = None,
    until: datetime | None = None,
) -> Mandate:
    """The actor's organisation lets `holder` cast its ballot: in `vote_id`, or until `until`."""
    refusal = voting_right(actor)
    if refusal:
        raise Refused("You cannot give a mandate: {reason}.", reason=refusal)
    assert actor.organisation_id is not None  # voting_right said so
    await audit.take_turn(session)  # two mandates given at once are checked one after the other
    given = [as_rule(m) for m in await standing(session, now)]
    new = rules.Mandate(0, actor.organisation_id, holder.id, vote_id, until)
    poll = await _poll(session, vote_id) if vote_id is not None else None
    names = await _names(session, actor.organisation_id, holder.id)
    refused = rules.refusal_to_give(new, now, await _members(session), given, names, limit, poll)
    if refused:
        raise Refused(refused)
    mandate = Mandate(
        giver_id=actor.organisation_id,
        holder_id=holder.id,
        vote_id=vote_id,
        until=until,
        given_by=actor.person_id,
        given_at=now,
    )
    session.add(mandate)
    await session.flush()
    await audit.record(
        session,
        actor=actor.label,
        action="mandate.given",
        subject=f"mandate:{mandate.id}",
        details={"giver": mandate.giver_id, "holder": mandate.holder_id, "vote": vote_id, "until": _iso(until)},
        at=now,
    )
    return mandate


async def revoke(session: AsyncSession, *, actor: Actor, mandate_id: int, now: datetime) -> Mandate:
    """The giver takes its mandate back, or the holder gives it back; the secretariat may end any."""
    mandate = await session.get(Mandate, mandate_id, with_for_update=True)
    if mandate is None or mandate.ended_at is not None:
        raise Refused("There is no mandate #{id} in force.", id=mandate_id)
    if not actor.is_secretariat and actor.organisation_id not in (mandate.giver_id, mandate.holder_id):
        raise Refused("Only the two organisations of mandate #{id} or the secretariat may revoke it.", id=mandate_id)
    await _end(session, mandate, MandateEnd.REVOKED, now, actor=actor.label, by=actor.person_id)
    return mandate


async def end_for_organisation(
    session: AsyncSession, organisation_id: int, status: OrganisationStatus, now: datetime, actor: str
) -> list[Mandate]:
    """An organisation left good standing: every mandate it gave or held ends, for good."""
    how = MandateEnd.SUSPENDED if status == OrganisationStatus.SUSPENDED else MandateEnd.LEFT
    found = await session.scalars(
        select(Mandate).where(
            Mandate.ended_at.is_(None), or_(Mandate.giver_id == organisation_id, Mandate.holder_id == organisation_id)
        )
    )
    ended = list(found)
    for mandate in ended:
        await _end(session, mandate, how, now, actor=actor)
    return ended


async def end_for_vote(session: AsyncSession, vote_id: int, now: datetime, actor: str) -> list[Mandate]:
    """A vote closed or was cancelled: the mandates given for it alone end."""
    found = await session.scalars(select(Mandate).where(Mandate.ended_at.is_(None), Mandate.vote_id == vote_id))
    ended = list(found)
    for mandate in ended:
        await _end(session, mandate, MandateEnd.CLOSED, now, actor=actor)
    return ended


async def end_expired(session: AsyncSession, now: datetime) -> list[Mandate]:
    """Mandates whose date has come end, as of that date (their end is audited when seen)."""
    found = await session.scalars(
        select(Mandate).where(Mandate.ended_at.is_(None), Mandate.until.is_not(None), Mandate.until <= now)
    )
    ended = list(found)
    for mandate in ended:
        assert mandate.until is not None
        await _end(session, mandate, MandateEnd.EXPIRED, mandate.until, actor="wgbot")
    return ended


async def in_force_for(
    session: AsyncSession, *, holder: Actor, giver: Organisation, vote_id: int, now: datetime
) -> ByMandate:
    """The mandate by which the holder's organisation casts `giver`'s ballot in `vote_id`."""
    assert holder.organisation_id is not None
    given = [as_rule(m) for m in await standing(session, now)]
    poll = await _poll(session, vote_id)
    found = rules.mandate_for(giver.id, holder.organisation_id, poll, now, await _members(session), given)
    if found is None:  # whether the giver voted itself is read as the ballot is cast (storage/votes.py)
        raise Refused(rules.refusal_to_cast(None, None, {giver.id: giver.name}, giver.id) or "")
    return ByMandate(giver.id, giver.name, found.id)


@dataclass(frozen=True)
class InForce:
    """A mandate in force in one vote, with the names of its two organisations."""

    id: int
    vote_id: int
    giver_id: int
    giver: str
    holder_id: int
    holder: str


async def in_force_in(session: AsyncSession, vote_id: int, now: datetime) -> dict[int, InForce]:
    """Giver → its mandate in force in the vote, if it has one."""
    poll, members = await _poll(session, vote_id), await _members(session)
    counting = [m for m in await standing(session, now) if rules.in_force(as_rule(m), poll, now, members)]
    names = await names_of(session, counting)
    return {
        m.giver_id: InForce(m.id, vote_id, m.giver_id, names[m.giver_id], m.holder_id, names[m.holder_id])
        for m in counting
    }


async def open_votes_of(session: AsyncSession, mandate: Mandate, now: datetime) -> list[InForce]:
    """The open votes in which a mandate is in force now (for its holder's prompt)."""
    if mandate.vote_id is not None:
        candidates = [mandate.vote_id]
    else:
        found = await session.scalars(select(Vote.id).where(Vote.status == VoteStatus.OPEN).order_by(Vote.id))
        candidates = list(found)
    shown = []
    for vote_id in candidates:
        held = (await in_force_in(session, vote_id, now)).get(mandate.giver_id)
        if held is not None and held.id == mandate.id:
            shown.append(held)
    return shown


async def cast_by_mandate(session: AsyncSession, vote_id: int) -> list[tuple[str, str]]:
    """(giver, holder) names of the ballots of a vote that stand cast by mandate now."""
    giver, holder = aliased(Organisation), aliased(Organisation)
    rows = await session.execute(
        select(giver.name, holder.name)
        .select_from(Ballot)
        .join(Mandate, Mandate.id == Ballot.mandate_id)
        .join(giver, giver.id == Mandate.giver_id)
        .join(holder, holder.id == Mandate.holder_id)
        .where(Ballot.vote_id == vote_id)
        .order_by(giver.name_key)
    )
    return list(rows.tuples().all())


async def holder_of(session: AsyncSession, mandate_id: int) -> int:
    """The organisation that holds (or held) a mandate."""
    holder = await session.scalar(select(Mandate.holder_id).where(Mandate.id == mandate_id))
    assert holder is not None  # a ballot names only a mandate that exists
    return holder


async def of_organisation(session: AsyncSession, organisation_id: int | None, now: datetime) -> Sequence[Mandate]:
    """The mandates in force an organisation gave or holds; every one with None (the secretariat)."""
    found = await standing(session, now)
    if organisation_id is None:
        return found
    return [m for m in found if organisation_id in (m.giver_id, m.holder_id)]


async def of_vote(session: AsyncSession, vote_id: int) -> list[dict[str, Any]]:
    """For a vote's record: the mandates given for it alone, and those its casts were cast by."""
    used = select(BallotCast.mandate_id).where(BallotCast.vote_id == vote_id, BallotCast.mandate_id.is_not(None))
    standing_ballots = select(Ballot.mandate_id).where(Ballot.vote_id == vote_id, Ballot.mandate_id.is_not(None))
    found = await session.scalars(
        select(Mandate)
        .where(or_(Mandate.vote_id == vote_id, Mandate.id.in_(used), Mandate.id.in_(standing_ballots)))
        .order_by(Mandate.id)
    )
    return [
        {
            "id": m.id,
            "giver_id": m.giver_id,
            "holder_id": m.holder_id,
            "vote": m.vote_id,
            "until": _iso(m.until),
            "given_at": m.given_at.isoformat(),
            "ended_at": _iso(m.ended_at),
            "ended_how": m.ended_how.value if m.ended_how else None,
        }
        for m in found
    ]


async def _end(
    session: AsyncSession, mandate: Mandate, how: MandateEnd, at: datetime, *, actor: str, by: int | None = None
) -> None:
    mandate.ended_at, mandate.ended_how, mandate.ended_by = at, how, by
    await audit.record(
        session,
        actor=actor,
        action=f"mandate.{how.value}",
        subject=f"mandate:{mandate.id}",
        details={"giver": mandate.giver_id, "holder": mandate.holder_id, "vote": mandate.vote_id},
        at=at,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
