"""The members' languages: translated messages (gettext catalogues, read with Babel), and dates and
numbers as each language writes them.

A message is written in English in the code, with named placeholders a translator may reorder:
`lang._("Vote #{id} is closed: {question}", id=…, question=…)`, and
`lang.n_("{count} organisation", "{count} organisations", count)` where the number decides the
form (Polish has three). `_` and `n_` are what `pybabel extract` looks for (see the README).

The catalogues are the `.po` files under bot/locale/. Building the package compiles them
(setup.py), so an installed wgbot reads `.mo` files; a checkout compiles a `.po` in memory the
first time its language is needed. Nothing binary is kept in the repository.
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from bot.timeparse import shown
from storage.rules.text import CHOICES, OneOf, Say, Words, choice
from storage.rules.voting import option_key

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

T = TypeVar("T")
SOURCE = "en"
# The shipped languages, each named in itself (as /lang lists them).
LANGUAGES = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "it": "Italiano",
    "es": "Español",
    "pl": "Polski",
    "nl": "Nederlands",
}
CATALOGUES = Path(__file__).with_name("locale")
DOMAIN = "wgbot"


def supported(code: str | None) -> str | None:
    """The shipped language a code names ("fr", "fr-CA", "FR_fr"), or None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


@functools.cache
def _catalogue(code: str) -> gettext.NullTranslations:
    """The language's compiled catalogue, built with the package (setup.py); in a checkout, where
    none is built, its .po compiled in memory."""
    if code == SOURCE:
        return gettext.NullTranslations()
    folder = CATALOGUES / code / "LC_MESSAGES"
    if (folder / f"{DOMAIN}.mo").exists():
        with (folder / f"{DOMAIN}.mo").open("rb") as built:
            return gettext.GNUTranslations(built)
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with (folder / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=code)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@dataclass(frozen=True)
class Language:
    """One reader's (or one room's) language: its words, its dates, its numbers."""

    code: str = SOURCE

    def _(self, message: str, **values: object) -> str:
        translated = _catalogue(self.code).gettext(message)
        return translated.format(**values) if values else translated

    def say(self, words: Words) -> str:
        """Words made before the reader was known, in this language (their values too)."""
        values = {key: self._value(value) for key, value in words.values.items()}
        if words.plural is not None:
            count = values.pop("count")
            assert isinstance(count, int), words
            return self.n_(words.template, words.plural, count, **values)
        if words.context is not None:
            said = _catalogue(self.code).pgettext(words.context, words.template)
            return said.format(**values) if values else said
        return self._(words.template, **values)

    def _value(self, value: object) -> object:
        if isinstance(value, Words):
            return self.say(value)
        if isinstance(value, OneOf):
            if self.code == SOURCE:
                return str(OneOf(tuple(str(self._value(choice)) for choice in value.choices)))  # "a, b or c"
            from babel.lists import format_list

            return format_list([str(self._value(choice)) for choice in value.choices], style="or", locale=self.code)
        return value

    def choice(self, word: str) -> str:
        """A vote's option or a meeting answer as this reader reads it (the bot's own in their language)."""
        return str(self._value(choice(word)))

    def n_(self, singular: str, plural: str, count: int, **values: object) -> str:
        return _catalogue(self.code).ngettext(singular, plural, count).format(count=count, **values)

    def moment(self, moment: datetime, zone: str) -> str:
        """A moment as a reader of this language in `zone` reads it: "Tue 19 Oct 2027 10:00 CEST",
        "Di., 19. Okt. 2027, 10:00 MESZ"."""
        if self.code == SOURCE:
            return shown(moment, zone)
        local = moment.astimezone(ZoneInfo(zone))
        from babel import Locale
        from babel.dates import format_datetime, format_skeleton, format_time

        locale = Locale.parse(self.code)
        day = format_skeleton("yMMMEd", local, locale=locale, fuzzy=True)
        both = locale.datetime_formats["medium"].format(format_time(local, "short", locale=locale), day)
        return f"{both} {format_datetime(local, 'z', locale=locale)}"

    def read_in(self, moment: datetime, zone: str, whose: str, reader_zone: str) -> str:
        """A time a command gave, as it was read: in the zone it was read in, named, with whose
        zone that is (`whose`, a marked message: "the meeting's zone"), and the reader's own
        wall-clock time when theirs differs: "Wed 13 Jan 2027 14:30 CET (Europe/Brussels, the
        meeting's zone; Wed 13 Jan 2027 13:30 WET for you)"."""
        read = {"moment": self.moment(moment, zone), "zone": zone, "whose": self._(whose)}
        if moment.astimezone(ZoneInfo(zone)).utcoffset() == moment.astimezone(ZoneInfo(reader_zone)).utcoffset():
            return self._("{moment} ({zone}, {whose})", **read)
        return self._("{moment} ({zone}, {whose}; {local} for you)", local=self.moment(moment, reader_zone), **read)

    def size(self, size: int) -> str:
        """A file's size as this language writes it: "512 bytes", "1,5 MB", "1,5 Mo"."""
        from babel.units import format_unit

        if size < 1024:
            return format_unit(size, "digital-byte", length="long", locale=self.code)
        if size < 1024 * 1024:
            return format_unit(round(size / 1024), "digital-kilobyte", length="short", locale=self.code)
        return format_unit(size / 1024 / 1024, "digital-megabyte", length="short", locale=self.code, format="#,##0.0")

    def percent(self, share: float) -> str:
        if self.code == SOURCE:
            return f"{share:.0%}"
        from babel.numbers import format_percent

        return format_percent(share, locale=self.code)


ENGLISH = Language()


def language(code: str | None, default: str = SOURCE) -> Language:
    """The Language for a code, or for `default` when the code names none that ships."""
    return Language(supported(code) or supported(default) or SOURCE)


def for_answer(
    *, direct: bool, chosen: str | None, platform_says: str | None, room_speaks: str | None, default: str
) -> Language:
    """What an answer is written in: in a private chat, the reader's (their /lang choice, else
    what their platform says, else the alliance's); in a room, the room's (its group's choice,
    else the alliance's). The one place this is decided."""
    if direct:
        return language(chosen or platform_says, default)
    return language(room_speaks, default)


@functools.cache
def aliases(words: tuple[str, ...]) -> dict[str, str]:
    """Each of `words` (marked messages) in every shipped language, as a person may type it, by
    `option_key`, to the word it means: "Forschung" → "research"."""
    return {option_key(Language(code)._(word)): word for code in LANGUAGES for word in words}


def choice_aliases() -> dict[str, str]:
    """The bot's own choices as a ballot or an answer may be typed ("ja", "Enthaltung",
    "wstrzymuję się")."""
    return aliases(CHOICES)


def understood(typed: str) -> str:
    """One of the bot's choices typed in any shipped language, as the choice ("Ja" → "yes"); else as typed."""
    return choice_aliases().get(option_key(typed), typed)


def for_page(chosen: str | None, accept_language: str | None, default: str) -> Language:
    """What a web page is written in: the language its link chose (?lang=de), else the first the
    browser accepts that ships (its Accept-Language, by preference), else the alliance's."""
    if supported(chosen):
        return language(chosen)
    for wanted in _by_preference(accept_language or ""):
        if supported(wanted):
            return language(wanted)
    return language(default)


def _by_preference(header: str) -> list[str]:
    """ "fr-CH, fr;q=0.9, de;q=0.7, *;q=0.5" → ["fr-CH", "fr", "de", "*"] (RFC 9110, 12.5.4)."""
    weighed = []
    for position, item in enumerate(header.split(",")):
        code, _, parameters = item.strip().partition(";")
        weight = 1.0
        if parameters.strip().startswith("q="):
            try:
                weight = float(parameters.strip()[2:])
            except ValueError:
                continue
        if code and weight > 0:
            weighed.append((-weight, position, code.strip()))
    return [code for *_, code in sorted(weighed)]


def saying(default: str) -> Say:
    """How storage says its Words to a reader or a room: in their language, else `default`."""
    return lambda words, code: language(code, default).say(words)


def worded_in(text: Callable[[Language], T], default: str) -> Callable[[str | None], tuple[str, T]]:
    """`text` (or buttons) as storage/notices.py words a room's message: given the room's group's
    choice of language (None: the `default`), the language written and the text."""

    def word(code: str | None) -> tuple[str, T]:
        chosen = language(code, default)
        return chosen.code, text(chosen)

    return word


OPERATOR_ONLY = [(name, "ignore") for name in ("cli.py", "main.py", "backup.py")]
# What `extract` looks for, and where the words are.
KEYWORDS = {
    "_": None,
    "n_": (1, 2),
    "n_words": (1, 2),
    "N_": None,
    "C_": ((1, "c"), 2),
    "Words": None,
    "Refused": None,
    "RecordedRefusal": None,
    "CommandError": None,
    "Misread": None,
    "Command": (2,),  # a command's summary; its details are marked N_
    "Unreadable": None,
}


def extract() -> Catalog:
    """Every message the code marks for translation (`_`, `n_`, `N_`, and refusals written as
    templates), from bot/, handlers/ and storage/, as a template catalogue. The shell's commands
    (bot/cli.py, main.py, backup.py) speak to the operator, in English, and are left out."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    template = Catalog(project="wgbot", msgid_bugs_address="", fuzzy=False)
    root = Path(__file__).parent.parent
    for package in ("bot", "handlers", "storage"):
        for file, line, message, comments, context in extract_from_dir(
            root / package,
            method_map=OPERATOR_ONLY + [("**.py", "python"), ("**/templates/*.html", "jinja2.ext:babel_extract")],
            keywords=KEYWORDS,
            comment_tags=("TRANSLATORS:",),
        ):
            template.add(message, None, [(f"{package}/{file}", line)], auto_comments=comments, context=context)
    return template


def update() -> None:
    """Write the template (bot/locale/wgbot.pot) and bring each language's catalogue up to it:
    new messages appear untranslated (the tests then fail until they are translated), gone
    ones are dropped. `python -m bot.i18n` runs it."""
    from babel.messages.pofile import read_po, write_po

    template = extract()
    with (CATALOGUES / f"{DOMAIN}.pot").open("wb") as pot:
        write_po(pot, template, width=100, omit_header=False)
    for code in LANGUAGES:
        if code == SOURCE:
            continue
        path = CATALOGUES / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        with path.open("rb") as po:
            catalog = read_po(po, locale=code)
        catalog.update(template, update_header_comment=False)
        catalog.obsolete.clear()
        with path.open("wb") as po:
            write_po(po, catalog, width=100, ignore_obsolete=True)


if __name__ == "__main__":
    update()
