"""The counting rules as pure functions, with property tests over every possible vote."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from storage.rules.voting import Majority, decide, look_alikes, option_key, quorum_needed

YES_NO = ("yes", "no", "abstain")
RULES = list(Majority)
ballot_lists = st.lists(st.sampled_from(YES_NO), max_size=40)


def test_a_clear_yes_passes_every_rule():
    for rule in RULES:
        assert decide(YES_NO, ["yes"] * 5, 5, 0.5, rule).passed


def test_abstentions_do_not_count_as_cast_unless_the_vote_says_so():
    ballots = ["yes", "yes", "no", "abstain", "abstain"]
    assert decide(YES_NO, ballots, 5, 0.5, Majority.ABSOLUTE).passed  # 2 of 3 cast
    assert not decide(YES_NO, ballots, 5, 0.5, Majority.ABSOLUTE, abstentions_count=True).passed  # 2 of 5


def test_quorum_counts_abstentions_and_rounds_up():
    assert quorum_needed(7, 0.5) == 4 and quorum_needed(10, 0.5) == 5 and quorum_needed(3, 2 / 3) == 2
    outcome = decide(YES_NO, ["yes", "abstain", "abstain"], 7, 0.5, Majority.SIMPLE)
    assert not outcome.quorum_met and not outcome.passed and outcome.winner is None
    assert decide(YES_NO, ["yes", "abstain", "abstain", "abstain"], 7, 0.5, Majority.SIMPLE).passed


def test_a_multi_option_vote_elects_its_winner():
    outcome = decide(("Lisbon", "Dresden", "Grenoble"), ["Dresden"] * 3 + ["Lisbon"] * 2, 5, 0.5, Majority.SIMPLE)
    assert outcome.winner == "Dresden" and outcome.passed
    assert not decide(
        ("Lisbon", "Dresden", "Grenoble"), ["Dresden"] * 3 + ["Lisbon"] * 2, 5, 0.5, Majority.TWO_THIRDS
    ).passed


@given(ballot_lists, st.integers(0, 10), st.floats(0, 1))
def test_unanimity_implies_every_other_rule(ballots, extra, quorum):
    electorate = len(ballots) + extra
    if decide(YES_NO, ballots, electorate, quorum, Majority.UNANIMOUS).passed:
        for rule in RULES:
            assert decide(YES_NO, ballots, electorate, quorum, rule).passed


@given(ballot_lists, st.integers(0, 10), st.floats(0, 1))
def test_each_rule_is_at_least_as_strict_as_the_one_before(ballots, extra, quorum):
    electorate = len(ballots) + extra
    results = [decide(YES_NO, ballots, electorate, quorum, rule).passed for rule in RULES]
    # simple ⊇ absolute ⊇ two-thirds ⊇ unanimous: once a rule fails, every stricter one fails.
    assert results == sorted(results, reverse=True)


@given(st.integers(0, 20), st.integers(0, 10), st.integers(0, 10))
def test_a_tie_never_passes(pairs, abstentions, extra):
    ballots = ["yes"] * pairs + ["no"] * pairs + ["abstain"] * abstentions
    for rule in RULES:
        assert not decide(YES_NO, ballots, len(ballots) + extra, 0.0, rule).passed


@given(ballot_lists, st.integers(0, 10))
def test_more_no_than_yes_never_passes(ballots, extra):
    if ballots.count("no") >= ballots.count("yes"):
        for rule in RULES:
            assert not decide(YES_NO, ballots, len(ballots) + extra, 0.0, rule).passed


@given(ballot_lists, st.integers(0, 10), st.floats(0, 1))
def test_the_tally_accounts_for_every_ballot(ballots, extra, quorum):
    outcome = decide(YES_NO, ballots, len(ballots) + extra, quorum, Majority.SIMPLE)
    assert sum(outcome.tally.values()) == outcome.turnout == len(ballots)
    assert outcome.cast == len(ballots) - ballots.count("abstain")


def test_options_are_the_same_however_they_are_typed():
    assert option_key("Yes") == option_key("yes\u200b") == option_key("ＹＥＳ") == option_key(" yes\u202e ")
    assert look_alikes(["Yes", "no", "yes\u200b"]) == [("Yes", "yes\u200b")]
    assert look_alikes(["yes", "no", "abstain"]) == []


@given(st.text(max_size=20))
def test_an_option_key_is_stable(text):
    assert option_key(option_key(text)) == option_key(text)
