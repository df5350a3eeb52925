"""Folding names so that people find things however they type them."""

import difflib
import unicodedata


def fold(name: str) -> str:
    """Case-, accent- and spacing-insensitive key: "  Café  GmbH" and "cafe gmbh" fold alike."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def closest(word: str, choices: list[str]) -> str | None:
    """The one choice close enough to be what was meant, for "did you mean" hints."""
    matches = difflib.get_close_matches(word.casefold(), choices, n=1, cutoff=0.6)
    return matches[0] if matches else None
