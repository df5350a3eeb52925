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
    English; bot/i18n.py's `Language.say` the reader's language. A message whose words depend
    on a number has a `plural` template too, and the number as its `count` (see `n_words`)."""

    template: str
    values: Mapping[str, object] = field(default_factory=dict, hash=False)
    plural: str | None = None
    context: str | None = None  # what it is said of, where that changes its words (see C_)

    def __str__(self) -> str:
        template = self.plural if self.plural is not None and self.values.get("count") != 1 else self.template
        if not self.values:
            return template
        return template.format(**{key: str(value) for key, value in self.values.items()})


def as_record(words: Words) -> dict[str, object]:
    """Words as JSON keeps them (a vote's result), to be said later in whoever reads it's language."""
    values = {key: as_record(value) if isinstance(value, Words) else value for key, value in words.values.items()}
    return {"template": words.template, "plural": words.plural, "context": words.context, "values": values}


def from_record(record: Mapping[str, object]) -> Words:
    """The Words `as_record` kept."""
    values = record.get("values")
    assert isinstance(values, dict) and isinstance(record["template"], str)
    kept = {key: from_record(value) if isinstance(value, dict) else value for key, value in values.items()}
    plural, context = record.get("plural"), record.get("context")
    return Words(
        record["template"],
        kept,
        plural if isinstance(plural, str) else None,
        context if isinstance(context, str) else None,
    )


def n_words(singular: str, plural: str, count: int, **values: object) -> Words:
    """Words whose form follows `count` ("{count} item", "{count} items"): each language picks
    its own form for the number (Polish has three)."""
    return Words(singular, {"count": count, **values}, plural)


@dataclass(frozen=True)
class OneOf:
    """A choice of things ("draft, review or final") as a value of Words: listed the way the
    reader's language lists alternatives."""

    choices: tuple[object, ...]

    def __str__(self) -> str:
        shown = [str(choice) for choice in self.choices]
        return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def C_(context: str, message: str) -> str:
    """Marks a message whose translation depends on what it is said of (`context`): French
    writes a cancelled vote "annulé" and a cancelled announcement "annulée"."""
    return message


# Every state a record can be in, by the kind of record (its words agree with the record's noun
# in many languages), and every role: marked here once, so that the catalogues hold them and
# `state` can say any of them in the reader's language.
STATES = (
    C_("vote", "open"),
    C_("vote", "closed"),
    C_("vote", "cancelled"),
    C_("vote", "held"),
    C_("announcement", "scheduled"),
    C_("announcement", "delivering"),
    C_("announcement", "delivered"),
    C_("announcement", "cancelled"),
    C_("deliverable", "drafting"),
    C_("deliverable", "in review"),
    C_("deliverable", "final"),
    C_("deliverable", "submitted"),
    C_("application", "pending"),
    C_("application", "approved"),
    C_("application", "rejected"),
    C_("organisation", "applicant"),
    C_("organisation", "member"),
    C_("organisation", "suspended"),
    C_("organisation", "rejected"),
    C_("organisation", "non-member"),
    N_("chair"),
    N_("secretariat"),
    N_("commission"),
)


# The choices the bot itself offers (a vote's default options, the answers to a meeting): its
# words, so each reader reads them in their language ("ja", "nein", "Enthaltung", "vielleicht")
# and may type them so; a vote opener's own options are theirs, shown as written.
CHOICES = (N_("yes"), N_("no"), N_("abstain"), N_("maybe"))


def choice(word: str) -> str | Words:
    """An option or an answer as a message shows it: one of the bot's CHOICES in the reader's
    language, anything else as written."""
    return Words(word) if word in CHOICES else word


# Words said in a language: a reader's or a room's group's code (None: the alliance's). Storage
# speaks through one of these, since only bot/ knows the catalogues; by default, in English.
Say = Callable[[Words, str | None], str]


def in_english(words: Words, language: str | None) -> str:
    return str(words)


def state(value: str, of: str | None = None) -> Words:
    """A record's state (`Vote.status.value` of a "vote") or a role ("chair"), to be said in
    the reader's language."""
    return Words(value, context=of)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """A count and its noun in English, for the operator's shell (which speaks English):
    "1 file", "3 files", "1 entry" (plural="entries"). Chat messages count with `n_words`."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
