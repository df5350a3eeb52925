"""How user text is echoed in an answer: pure functions."""

from __future__ import annotations

import unicodedata

QUOTE_LIMIT = 80


def quote(text: str) -> str:
    """User text as a refusal echoes it: quoted, without control or direction characters, cut
    at QUOTE_LIMIT characters — so an answer never carries an attacker's layout or length."""
    shown = "".join(c for c in text if unicodedata.category(c)[0] != "C")
    if len(shown) > QUOTE_LIMIT:
        shown = shown[: QUOTE_LIMIT - 1] + "…"
    return f"'{shown}'"


def counted(n: int, thing: str) -> str:
    """ "1 organisation", "3 organisations": a count in words an answer can use."""
    return f"{n} {thing}{'' if n == 1 else 's'}"
