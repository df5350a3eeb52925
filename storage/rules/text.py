"""How user text is echoed in an answer, and how a message waits for its reader's language:
pure functions and values."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

QUOTE_LIMIT = 80


def quote(text: str) -> str:
    """User text as a refusal echoes it: quoted, without control or direction characters, cut
    at QUOTE_LIMIT characters — so an answer never carries an attacker's layout or length."""
    shown = "".join(c for c in text if unicodedata.category(c)[0] != "C")
    if len(shown) > QUOTE_LIMIT:
        shown = shown[: QUOTE_LIMIT - 1] + "…"
    return f"'{shown}'"


def N_(message: str) -> str:
    """Marks a message to translate where it is shown (bot/i18n.py): `pybabel extract` and the
    tests find it in the catalogues."""
    return message


@dataclass(frozen=True)
class Words:
    """A message said before its reader is known (a refusal deep in storage): its English
    template, marked for translation, and the values of its placeholders. `str()` gives the
    English; bot/i18n.py's `Language.say` the reader's language."""

    template: str
    values: Mapping[str, object] = field(default_factory=dict, hash=False)

    def __str__(self) -> str:
        if not self.values:
            return self.template
        return self.template.format(**{key: str(value) for key, value in self.values.items()})


# Every state a record can be in and every role, as a sentence names them: marked here once, so
# that the catalogues hold them and `state` can say any of them in the reader's language.
STATES = (
    N_("open"),
    N_("closed"),
    N_("cancelled"),
    N_("held"),
    N_("scheduled"),
    N_("delivering"),
    N_("delivered"),
    N_("drafting"),
    N_("in review"),
    N_("final"),
    N_("submitted"),
    N_("applicant"),
    N_("member"),
    N_("suspended"),
    N_("rejected"),
    N_("non-member"),
    N_("pending"),
    N_("approved"),
    N_("chair"),
    N_("secretariat"),
    N_("commission"),
)


# Words said in a language: a reader's or a room's group's code (None: the alliance's). Storage
# speaks through one of these, since only bot/ knows the catalogues; by default, in English.
Say = Callable[[Words, str | None], str]


def in_english(words: Words, language: str | None) -> str:
    return str(words)


def state(value: str) -> Words:
    """A record's state or a role (`Vote.status.value`, "chair"), to be said in the reader's language."""
    return Words(value)


def counted(n: int, thing: str) -> str:
    """ "1 organisation", "3 organisations": a count in words an answer can use."""
    return f"{n} {thing}{'' if n == 1 else 's'}"
