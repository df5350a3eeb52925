"""Folding names so that people find things however they type them, and seeing names that
only look alike."""

import difflib
import unicodedata
from functools import cache

from confusable_homoglyphs.confusables import confusables_data


def fold(name: str) -> str:
    """Case-, accent- and spacing-insensitive key: "  Café  GmbH" and "cafe gmbh" fold alike."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def closest(word: str, choices: list[str]) -> str | None:
    """The one choice close enough to be what was meant, for "did you mean" hints."""
    matches = difflib.get_close_matches(word.casefold(), choices, n=1, cutoff=0.6)
    return matches[0] if matches else None


def look_alike(one: str, other: str) -> bool:
    """Whether two names read alike to a person (after Unicode TR39): "АСМЕ GmbH" in Cyrillic,
    "ACME\u200b GmbH", "ACME GmbH\u202e" and "ACME GmbH" do; so do "lntel" and "Intel".
    Character by character, each must be the other's confusable in either case (Unicode's
    confusables.txt, via `confusable_homoglyphs`), once invisible and direction characters are
    dropped and spacing is folded. Linear in the names' length."""
    first, second = _visible(one), _visible(other)
    return len(first) == len(second) and all(b in _alike(a) for a, b in zip(first, second, strict=True))


def _visible(name: str) -> str:
    shown = "".join(c for c in unicodedata.normalize("NFKC", name) if unicodedata.category(c) not in ("Cf", "Cc"))
    return " ".join(shown.split())


@cache
def _alike(char: str) -> frozenset[str]:
    """The characters a reader could take for `char`, in either case."""
    cases = {char, char.upper(), char.lower()}
    alike = set(cases)
    for case in cases:
        for glyph in confusables_data.get(case, ()):
            if len(glyph["c"]) == 1:
                alike |= {glyph["c"], glyph["c"].upper(), glyph["c"].lower()}
    return frozenset(alike)
