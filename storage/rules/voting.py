"""How a vote is counted: pure functions of the ballots, the electorate and the vote's rules.

Definitions (the alliance's terms of reference, as wgbot applies them):
- *turnout*: electorate organisations that cast a ballot, abstentions included;
- *quorum*: the share of the electorate whose turnout makes the vote valid;
- *cast*: ballots for an option other than "abstain" (abstentions count as cast only if the
  vote says so);
- the leading option must be alone in the lead, and then hold:
  simple: more votes than any other option; absolute: more than half of those cast;
  two-thirds: at least two thirds of those cast; unanimous: every vote cast.
A yes/no vote passes when "yes" is the winning option; any other vote elects its winner.
"""

from __future__ import annotations

import enum
import math
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

ABSTAIN = "abstain"
# The options of a vote whose opener names none: the bot's words (storage/rules/text.CHOICES),
# so each reader reads them in their language; an opener's own options are shown as written.
DEFAULT_OPTIONS = ("yes", "no", ABSTAIN)


class Majority(enum.StrEnum):
    SIMPLE = "simple"
    ABSOLUTE = "absolute"
    TWO_THIRDS = "two-thirds"
    UNANIMOUS = "unanimous"


@dataclass(frozen=True)
class Outcome:
    electorate: int
    turnout: int
    quorum_needed: int
    tally: dict[str, int]  # every option, in the vote's order
    cast: int
    winner: str | None  # the option that carried it under the majority rule
    passed: bool
    by_mandate: int = 0  # of the turnout, ballots another organisation cast by mandate (storage/rules/mandates.py)

    @property
    def quorum_met(self) -> bool:
        return self.turnout >= self.quorum_needed


def option_key(text: str) -> str:
    """What an option is, however it is typed: NFKC-normalised, case-folded, without invisible
    characters (zero-width spaces, direction marks), spaces collapsed. "Yes", "yes" and
    "yes\u200b" are the same option."""
    visible = "".join(c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c) != "Cf")
    return " ".join(visible.casefold().split())


def look_alikes(options: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs of options that read as the same option."""
    seen: dict[str, str] = {}
    pairs = []
    for option in options:
        key = option_key(option)
        if key in seen:
            pairs.append((seen[key], option))
        else:
            seen[key] = option
    return pairs


def tally(options: Sequence[str], ballots: Iterable[str] | Mapping[str, int]) -> dict[str, int]:
    """Ballots per option, from the ballots themselves or from counts already made per option."""
    counts = ballots if isinstance(ballots, Mapping) else Counter(ballots)
    return {option: counts.get(option, 0) for option in options}


def quorum_needed(electorate: int, quorum: float) -> int:
    """Organisations that must vote: the quorum share of the electorate, rounded up."""
    return math.ceil(round(electorate * quorum, 9))


def decide(
    options: Sequence[str],
    ballots: Iterable[str] | Mapping[str, int],
    electorate: int,
    quorum: float,
    majority: Majority,
    abstentions_count: bool = False,
) -> Outcome:
    counts = tally(options, ballots)
    turnout = sum(counts.values())
    counted = {o: n for o, n in counts.items() if abstentions_count or o != ABSTAIN}
    cast = sum(counts.values()) if abstentions_count else sum(counted.values())
    winner = _winner(counted, cast, majority)
    needed = quorum_needed(electorate, quorum)
    carried = winner is not None and turnout >= needed
    passed = carried and (winner == "yes" if "yes" in options else True)
    return Outcome(electorate, turnout, needed, counts, cast, winner if carried else None, passed)


def _winner(counted: dict[str, int], cast: int, majority: Majority) -> str | None:
    candidates = {o: n for o, n in counted.items() if o != ABSTAIN}
    if not candidates or cast == 0:
        return None
    leader, votes = max(candidates.items(), key=lambda item: item[1])
    if votes == 0 or sum(1 for n in candidates.values() if n == votes) > 1:
        return None  # nobody, or a tie: no majority of any kind
    match majority:
        case Majority.SIMPLE:
            return leader
        case Majority.ABSOLUTE:
            return leader if votes * 2 > cast else None
        case Majority.TWO_THIRDS:
            return leader if votes * 3 >= cast * 2 else None
        case Majority.UNANIMOUS:
            return leader if votes == cast else None
