"""The ballots that count, checked against the audited casts before a result is drawn.

Every cast is audited in the transaction that records it, so the last audited cast of each
organisation is what its ballot must say. A ballot row changed behind wgbot's back (an UPDATE
on the database) disagrees with the chain: the vote is then held, not closed, and the
secretariat is told. `audit verify` makes the same check for every closed vote.

A secret vote's audit line keeps no option, only a seal: an HMAC of the organisation and its
option under a key of that vote. Until the vote closes, the key lets wgbot check each ballot
against its seal; at the close the key and the ballots are destroyed, and only the totals
remain, so nothing left in the database says which organisation, let alone which person,
chose which option.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, Ballot, ElectorateMember, Vote, VoteStatus
from storage.rules.voting import option_key


def new_seal_key() -> str:
    return secrets.token_hex(32)


def seal(key: str, organisation_id: int, option: str) -> str:
    message = f"{organisation_id}:{option_key(option)}".encode()
    return hmac.new(bytes.fromhex(key), message, hashlib.sha256).hexdigest()


def cast_details(
    seal_key: str | None, organisation_id: int, option: str, mandate_id: int | None = None
) -> dict[str, Any]:
    """What the audit line of a cast says: the option, or for a secret vote (which has a seal
    key while it is open) only its seal; and the mandate it was cast by, if another organisation
    cast it (the ballot is still the giver's: `organisation_id`)."""
    by = {"mandate_id": mandate_id} if mandate_id is not None else {}
    if seal_key:
        return {"organisation_id": organisation_id, "seal": seal(seal_key, organisation_id, option), **by}
    return {"organisation_id": organisation_id, "option": option, **by}


async def audited(session: AsyncSession, vote_id: int) -> dict[int, str]:
    """Organisation → what its last audited cast says (its option, or its seal)."""
    details = await session.scalars(
        select(AuditEntry.details)
        .where(AuditEntry.subject == f"vote:{vote_id}", AuditEntry.action == "ballot.cast")
        .order_by(AuditEntry.id)
    )
    last: dict[int, str] = {}
    for entry in details:
        last[int(entry["organisation_id"])] = str(entry.get("seal") or entry.get("option"))
    return last


async def disagreements(session: AsyncSession, vote: Vote) -> list[str]:
    """Where the ballots of an open vote differ from its audited casts, in words."""
    rows = await session.execute(select(Ballot.organisation_id, Ballot.option).where(Ballot.vote_id == vote.id))
    counted = dict(rows.tuples().all())
    expected = await audited(session, vote.id)
    electorate = await session.execute(
        select(ElectorateMember.organisation_id, ElectorateMember.organisation_name).where(
            ElectorateMember.vote_id == vote.id
        )
    )
    names = dict(electorate.tuples().all())
    problems = []
    for organisation in sorted(set(counted) | set(expected)):
        name = names.get(organisation, f"organisation {organisation}")
        if organisation not in expected:
            problems.append(f"{name} has a ballot but no audited cast")
        elif organisation not in counted:
            problems.append(f"{name} has an audited cast but no ballot")
        else:
            said = counted[organisation]
            if vote.secret and vote.seal_key:
                said = seal(vote.seal_key, organisation, said)
            if said != expected[organisation]:
                shown = "its ballot" if vote.secret else f"its ballot reads {counted[organisation]!r}"
                problems.append(f"{name}: {shown}, but its audited cast says otherwise")
    return problems


async def tally_disagreement(session: AsyncSession, vote: Vote) -> str | None:
    """For a closed vote: whether its recorded result agrees with its audited casts."""
    result = vote.result or {}
    tally: dict[str, int] = result.get("tally", {})
    casts = await audited(session, vote.id)
    if sum(tally.values()) != len(casts):
        return f"its result counts {sum(tally.values())} ballots, but {len(casts)} organisations cast one"
    if vote.secret:
        return None  # its options died with its seal key: the turnout is what can be checked
    counted: dict[str, int] = {option: 0 for option in tally}
    for option in casts.values():
        key = next((o for o in tally if option_key(o) == option_key(option)), option)
        counted[key] = counted.get(key, 0) + 1
    if counted != tally:
        return f"its result's tally {tally} is not the tally of its audited casts {counted}"
    return None


async def problems_of_every_vote(session: AsyncSession) -> list[str]:
    """Every vote whose ballots or result disagree with its audited casts, in words."""
    found = []
    for vote in await session.scalars(select(Vote).order_by(Vote.id)):
        problems = [] if vote.status == VoteStatus.CANCELLED else await _problems(session, vote)
        found += [f"vote #{vote.id}: {problem}" for problem in problems]
    return found


async def _problems(session: AsyncSession, vote: Vote) -> list[str]:
    if vote.status != VoteStatus.CLOSED:
        return await disagreements(session, vote)
    problems = [] if vote.secret else await disagreements(session, vote)
    wrong_tally = await tally_disagreement(session, vote)
    return problems + ([wrong_tally] if wrong_tally else [])
