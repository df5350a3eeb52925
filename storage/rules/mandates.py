"""Mandates: a member organisation whose representatives cannot vote lets another member cast
its ballot — for one vote, or for every vote the two share until a date. Pure functions of
what the database holds; storage/mandates.py keeps the mandates, storage/votes.py asks these
at each cast.

The rules, as the alliance applies them:
- A mandate is between two member organisations in good standing, and counts in a vote only
  when both are in its electorate.
- No chains: only the organisation named casts the giver's ballot, and for any one vote an
  organisation either gives a mandate or holds mandates, never both. A giver gives one mandate
  per vote.
- An organisation holds at most `limit` mandates for one vote ([votes] max_mandates_per_organisation).
- A mandate ends when it is revoked, at its date, when its vote closes, or when either
  organisation is suspended or leaves (for good: a reinstated organisation gives again).
- The giver's own ballot wins: cast first, a ballot by mandate is refused; cast after, it
  replaces the one cast by mandate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import datetime

from storage.rules.text import N_, Words, n_words


@dataclass(frozen=True)
class Mandate:
    """The giver's ballot may be cast by the holder: in `vote`, or in every vote until `until`."""

    id: int
    giver: int  # organisation ids
    holder: int
    vote: int | None = None
    until: datetime | None = None
    ended: bool = False  # revoked, or one of the two suspended or gone

    def covers(self, vote: int, at: datetime) -> bool:
        """Whether it is for this vote at this moment (not yet whether it is in force)."""
        if self.vote is not None:
            return self.vote == vote
        return self.until is not None and at < self.until


@dataclass(frozen=True)
class Poll:
    """A vote, as a mandate is checked against it."""

    id: int
    open: bool
    electorate: frozenset[int]


@dataclass(frozen=True)
class GiverBallot:
    """The ballot that counts for an organisation: cast by itself (`holder` None) or by mandate."""

    option: str
    holder: int | None = None


def in_force(mandate: Mandate, poll: Poll, at: datetime, members: Set[int]) -> bool:
    """Whether the holder may cast the giver's ballot in `poll` at `at`; `members` are the
    member organisations in good standing."""
    both = {mandate.giver, mandate.holder}
    return (
        not mandate.ended and poll.open and mandate.covers(poll.id, at) and both <= members and both <= poll.electorate
    )


def _overlap(a: Mandate, b: Mandate, at: datetime) -> bool:
    """Whether two mandates that have not ended may count in one vote: two for different single
    votes never do; one until a date still to come may meet any other."""
    if a.ended or b.ended:
        return False
    if a.vote is not None and b.vote is not None:
        return a.vote == b.vote
    return all(m.vote is not None or (m.until is not None and at < m.until) for m in (a, b))


def refusal_to_give(
    new: Mandate,
    at: datetime,
    members: Set[int],
    given: Iterable[Mandate],
    names: Mapping[int, str],
    limit: int,
    poll: Poll | None = None,
) -> Words | None:
    """None when `new` may be given, beside the mandates already `given`; otherwise why not.
    `poll` is the vote of a mandate for one vote."""
    giver, holder = names[new.giver], names[new.holder]
    if new.giver == new.holder:
        return Words(N_("An organisation cannot mandate itself."))
    for organisation in (new.giver, new.holder):
        if organisation not in members:
            return Words(
                N_("{organisation} is not a member organisation in good standing."),
                {"organisation": names[organisation]},
            )
    if new.vote is None and (new.until is None or new.until <= at):
        return Words(N_("A mandate is for one vote or until a date still to come."))
    if poll is not None:
        if not poll.open:
            return Words(N_("Vote #{id} is not open."), {"id": poll.id})
        for organisation in (new.giver, new.holder):
            if organisation not in poll.electorate:
                return Words(
                    N_("{organisation} is not in the electorate of vote #{id}."),
                    {"organisation": names[organisation], "id": poll.id},
                )
    meeting = [m for m in given if _overlap(m, new, at)]
    if any(m.giver == new.giver for m in meeting):
        return Words(N_("{giver} has already given a mandate for these votes; revoke it first."), {"giver": giver})
    if any(m.holder == new.giver for m in meeting):
        return Words(N_("{giver} holds a mandate for these votes, so it cannot give its own."), {"giver": giver})
    if any(m.giver == new.holder for m in meeting):
        return Words(
            N_("{holder} has given its own mandate for these votes, so it cannot hold one."), {"holder": holder}
        )
    if sum(m.holder == new.holder for m in meeting) >= limit:
        return n_words(
            "{holder} already holds {count} mandate for these votes, the most one organisation may hold.",
            "{holder} already holds {count} mandates for these votes, the most one organisation may hold.",
            limit,
            holder=holder,
        )
    return None


def mandate_for(
    giver: int, holder: int, poll: Poll, at: datetime, members: Set[int], given: Iterable[Mandate]
) -> Mandate | None:
    """The mandate in force by which `holder` casts `giver`'s ballot in `poll`, if there is one."""
    return next((m for m in given if m.giver == giver and m.holder == holder and in_force(m, poll, at, members)), None)


def refusal_to_cast(
    mandate: Mandate | None, ballot: GiverBallot | None, names: Mapping[int, str], giver: int
) -> Words | None:
    """None when a ballot by mandate may be cast for `giver`, whose ballot is `ballot` so far."""
    if mandate is None:
        return Words(N_("You hold no mandate from {giver} for this vote."), {"giver": names[giver]})
    if ballot is not None and ballot.holder is None:
        return refusal_to_cast_words(names[giver])
    return None


def refusal_to_cast_words(giver: str) -> Words:
    """The giver cast its own ballot: it counts, and no ballot by mandate replaces it."""
    return Words(N_("{giver} has voted itself; its own ballot counts."), {"giver": giver})


def overridden(ballot: GiverBallot | None) -> int | None:
    """The holder whose ballot by mandate the giver's own cast replaces (they are told), if any."""
    return ballot.holder if ballot is not None else None
