"""The mandate rules (storage/rules/mandates.py) under every order of acts hypothesis finds:
mandates given, revoked and expiring, organisations suspended and reinstated, votes closing,
and ballots cast by the organisations themselves and by mandate. After every act: one ballot
per organisation, no chain, no holder over the limit, the giver's own ballot always counting,
and no ended or expired mandate in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from storage.rules.mandates import (
    GiverBallot,
    Mandate,
    Poll,
    in_force,
    mandate_for,
    overridden,
    refusal_to_cast,
    refusal_to_give,
)

ORGANISATIONS = (1, 2, 3)
NAMES = {n: f"Org {n}" for n in range(1, 6)}
VOTES = (1, 2)
LIMIT = 1
START = datetime(2027, 3, 1, 9, tzinfo=UTC)

organisation = st.sampled_from(ORGANISATIONS)
vote = st.sampled_from(VOTES)
option = st.sampled_from(("yes", "no", "abstain"))


class Alliance(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.members = set(ORGANISATIONS)
        self.polls = {v: Poll(v, True, frozenset(ORGANISATIONS if v == 1 else (1, 2))) for v in VOTES}
        self.mandates: list[Mandate] = []
        self.ballots: dict[int, dict[int, GiverBallot]] = {v: {} for v in VOTES}
        self.voted_itself: dict[int, set[int]] = {v: set() for v in VOTES}
        self.told: list[tuple[int, int, int]] = []  # (vote, holder, giver): a holder told its ballot was replaced

    @rule(giver=organisation, holder=organisation, for_vote=st.none() | vote, days=st.integers(1, 30))
    def give(self, giver: int, holder: int, for_vote: int | None, days: int) -> None:
        until = None if for_vote is not None else self.now + timedelta(days=days)
        new = Mandate(len(self.mandates) + 1, giver, holder, for_vote, until)
        poll = self.polls[for_vote] if for_vote is not None else None
        if refusal_to_give(new, self.now, self.members, self.mandates, NAMES, LIMIT, poll) is None:
            self.mandates.append(new)

    @rule(data=st.data())
    def revoke(self, data: st.DataObject) -> None:
        if self.mandates:
            index = data.draw(st.integers(0, len(self.mandates) - 1))
            self.mandates[index] = _ended(self.mandates[index])

    @rule(who=organisation)
    def suspend(self, who: int) -> None:
        """What storage does: the organisation leaves good standing and its mandates end."""
        self.members.discard(who)
        self.mandates = [_ended(m) if who in (m.giver, m.holder) else m for m in self.mandates]

    @rule(who=organisation)
    def reinstate(self, who: int) -> None:
        self.members.add(who)

    @rule(hours=st.integers(1, 24 * 20))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule(which=vote)
    def close(self, which: int) -> None:
        poll = self.polls[which]
        self.polls[which] = Poll(poll.id, False, poll.electorate)

    @rule(who=organisation, which=vote, choice=option)
    def cast_own(self, who: int, which: int, choice: str) -> None:
        poll = self.polls[which]
        if poll.open and who in self.members and who in poll.electorate:
            holder = overridden(self.ballots[which].get(who))
            if holder is not None:
                self.told.append((which, holder, who))
            self.ballots[which][who] = GiverBallot(choice)
            self.voted_itself[which].add(who)

    @rule(holder=organisation, giver=organisation, which=vote, choice=option)
    def cast_by_mandate(self, holder: int, giver: int, which: int, choice: str) -> None:
        poll = self.polls[which]
        if not (poll.open and holder in self.members and holder in poll.electorate):
            return  # the holder's own right to vote, checked before any mandate
        mandate = mandate_for(giver, holder, poll, self.now, self.members, self.mandates)
        if refusal_to_cast(mandate, self.ballots[which].get(giver), NAMES, giver) is None:
            assert mandate is not None and in_force(mandate, poll, self.now, self.members)
            self.ballots[which][giver] = GiverBallot(choice, holder)

    @rule(data=st.data(), which=vote, choice=option)
    def cast_by_a_mandate_given(self, data: st.DataObject, which: int, choice: str) -> None:
        """A holder using a mandate it was given (in force or not): most casts by mandate are."""
        if self.mandates:
            mandate = data.draw(st.sampled_from(self.mandates))
            self.cast_by_mandate(mandate.holder, mandate.giver, mandate.vote or which, choice)

    def _in_force(self, poll: Poll) -> list[Mandate]:
        return [m for m in self.mandates if in_force(m, poll, self.now, self.members)]

    @invariant()
    def no_chain_and_one_holder_per_giver(self) -> None:
        for poll in self.polls.values():
            counting = self._in_force(poll)
            givers = [m.giver for m in counting]
            assert len(givers) == len(set(givers)), counting
            assert not set(givers) & {m.holder for m in counting}, counting

    @invariant()
    def no_holder_over_the_limit(self) -> None:
        for poll in self.polls.values():
            holders = [m.holder for m in self._in_force(poll)]
            assert all(holders.count(h) <= LIMIT for h in holders)

    @invariant()
    def a_giver_s_own_ballot_always_counts(self) -> None:
        for which, voted in self.voted_itself.items():
            assert all(self.ballots[which][who].holder is None for who in voted)

    @invariant()
    def ballots_by_mandate_are_cast_only_for_others_in_the_electorate(self) -> None:
        for which, ballots in self.ballots.items():
            for giver, ballot in ballots.items():
                assert ballot.holder != giver
                assert giver in self.polls[which].electorate

    @invariant()
    def ended_and_expired_mandates_are_never_in_force(self) -> None:
        for poll in self.polls.values():
            for mandate in self._in_force(poll):
                assert not mandate.ended and poll.open
                assert {mandate.giver, mandate.holder} <= self.members
                assert mandate.vote == poll.id or (mandate.until is not None and self.now < mandate.until)


def _ended(mandate: Mandate) -> Mandate:
    return Mandate(mandate.id, mandate.giver, mandate.holder, mandate.vote, mandate.until, ended=True)


TestAlliance = Alliance.TestCase
TestAlliance.settings = settings(max_examples=500, stateful_step_count=30, deadline=None)


def test_a_giver_cannot_mandate_itself_nor_pass_on_what_it_holds():
    members = set(NAMES)
    held = [Mandate(1, giver=1, holder=2, vote=1)]
    poll = Poll(1, True, frozenset(NAMES))
    assert str(refusal_to_give(Mandate(2, 3, 3, vote=1), START, members, held, NAMES, LIMIT, poll)) == (
        "An organisation cannot mandate itself."
    )
    assert str(refusal_to_give(Mandate(2, 2, 3, vote=1), START, members, held, NAMES, LIMIT, poll)) == (
        "Org 2 holds a mandate for these votes, so it cannot give its own."
    )
    assert str(refusal_to_give(Mandate(2, 3, 1, vote=1), START, members, held, NAMES, LIMIT, poll)) == (
        "Org 1 has given its own mandate for these votes, so it cannot hold one."
    )
    assert str(refusal_to_give(Mandate(2, 3, 2, vote=1), START, members, held, NAMES, LIMIT, poll)) == (
        "Org 2 already holds 1 mandate for these votes, the most one organisation may hold."
    )
    assert refusal_to_give(Mandate(2, 3, 2, vote=1), START, members, held, NAMES, 2, poll) is None
    assert refusal_to_give(Mandate(2, 2, 3, vote=2), START, members, held, NAMES, LIMIT, poll) is None


def test_a_mandate_until_a_date_counts_in_every_shared_vote_until_then_and_not_after():
    members = set(NAMES)
    until = Mandate(1, giver=4, holder=1, until=START + timedelta(days=7))
    whole, small = Poll(1, True, frozenset(NAMES)), Poll(3, True, frozenset((1, 2, 3)))
    assert in_force(until, whole, START + timedelta(days=6), members)
    assert not in_force(until, whole, START + timedelta(days=7), members)
    assert not in_force(until, small, START, members)  # the giver is not in that vote's electorate
    assert str(refusal_to_cast(None, None, NAMES, 4)) == "You hold no mandate from Org 4 for this vote."
    assert str(refusal_to_cast(until, GiverBallot("no"), NAMES, 4)) == "Org 4 has voted itself; its own ballot counts."
    assert refusal_to_cast(until, GiverBallot("no", holder=1), NAMES, 4) is None  # the holder changes its mind
