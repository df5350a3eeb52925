"""Reading chat commands: prefixes, quoting, `key=value` options, flags, and usage lines.

A command is declared once (`Command`), and everything people see about it — its usage line, its
`/help` entry, the reason a call was refused — is derived from that declaration.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from bot.i18n import ENGLISH, Language
from storage.errors import Misread
from storage.naming import closest
from storage.rules import text as wording
from storage.rules.access import Access
from storage.rules.text import N_, quote

if TYPE_CHECKING:
    from bot.context import Context
    from bot.transports.base import Reply

T = TypeVar("T")

PREFIXES = ("/", "!")
# Phones turn "straight" quotes into typographic ones; all of these open a quoted argument.
QUOTE_PAIRS = {'"': '"', "'": "'", "“": "”", "„": "“", "‘": "’", "«": "»", "”": "”"}
# A command is a prefix and a letter, up to the first space; Telegram may add "@BotName".
_HEAD = re.compile(r"^[/!](?P<name>[A-Za-z][^\s@]*)(?:@(?P<bot>\S*))?")
_OPTION = re.compile(r"^(?P<key>[A-Za-z][\w-]*)=(?P<value>.*)$", re.DOTALL)
_WORD = re.compile(r"\S+")


class CommandError(Misread):
    """The command was not written the way its usage line says: a word missing, one too many,
    an unknown option, an argument its converter cannot read."""


@dataclass(frozen=True)
class Token:
    text: str  # the word as meant, without its quotes
    start: int  # where the raw word starts in the command's text
    quoted: bool = False
    key: str | None = None  # for key=value words: the key, lower-cased
    value: str = ""  # and the value, without its quotes
    unclosed: bool = False  # opens a quote that never closes (fine inside free text)


def tokenize(text: str, offset: int = 0) -> list[Token]:
    """Split on white space, keeping "quoted phrases" and key="quoted values" whole.

    A quote opens only at the start of a word (or right after `key=`), so apostrophes inside
    words ("don't") are ordinary letters.
    """
    tokens: list[Token] = []
    i = 0
    while (word := _WORD.search(text, i)) is not None:
        start = word.start()
        option = _OPTION.match(word.group())
        key = option.group("key").lower() if option else None
        quote_at = start + len(option.group("key")) + 1 if option else start
        opens_quote = quote_at < len(text) and text[quote_at] in QUOTE_PAIRS
        end = _closing_quote(text, quote_at + 1, QUOTE_PAIRS[text[quote_at]]) if opens_quote else None
        if end is not None:
            inner = text[quote_at + 1 : end]
            shown = f"{key}={inner}" if key else inner
            tokens.append(Token(shown, offset + start, True, key, inner if key else ""))
            i = end + 1
        else:
            value = option.group("value") if option else ""
            tokens.append(Token(word.group(), offset + start, False, key, value, opens_quote))
            i = word.end()
    return tokens


def _closing_quote(text: str, i: int, closing: str) -> int | None:
    """The closing quote that ends a word (is followed by white space or the end)."""
    while True:
        end = text.find(closing, i)
        if end == -1:
            return None
        if end + 1 == len(text) or text[end + 1].isspace():
            return end
        i = end + 1


@dataclass(frozen=True)
class CommandLine:
    """A message that is a command: its name, its words, and its full text for rest arguments."""

    name: str
    words: list[Token]
    text: str
    addressed_to: str | None = None  # Telegram's /cmd@BotName


def read_command(text: str) -> CommandLine | None:
    """The command in a message, or None when the message is ordinary chat."""
    stripped = text.strip()
    head = _HEAD.match(stripped)
    if head is None:
        return None
    words = tokenize(stripped[head.end() :], offset=head.end())
    return CommandLine(head.group("name").lower(), words, stripped, head.group("bot"))


class Misspelt(CommandError):
    """A subcommand's name written wrong, close enough to one to say which was meant (answered
    with that one's usage line)."""

    def __init__(self, written: Token, meant: Command) -> None:
        typo = N_("Unknown subcommand {word}. Did you mean /{meant}?")
        super().__init__(typo, word=quote(written.text), meant=meant.path)
        self.meant = meant


class Unreadable(Exception):
    """A converter could not read an argument; its message says what it expected ("a number
    such as 12"), and `Command.read` turns that into the one-line refusal (in the reader's
    language, like a Refused written as a template)."""

    def __init__(self, expected: str, **values: object) -> None:
        self.words = wording.Words(expected, values)
        super().__init__(str(self.words))


class TooLong(Exception):
    """A text argument longer than its declared limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


# Reads one argument's text into its value: raises `Unreadable` (or `Refused`, for a lookup
# that finds nothing, e.g. "No working group 'pfsa'. Did you mean pfas?").
Converter = Callable[[str, "Context"], Awaitable[T]]


async def text(raw: str, ctx: Context) -> str:
    """The argument as written."""
    return raw


def at_most(limit: int) -> Converter[str]:
    """Text as written, refused when longer than `limit` characters (a field that is shown to
    the whole group has a length the platforms can carry)."""

    async def convert(raw: str, ctx: Context) -> str:
        if len(raw) > limit:
            raise TooLong(limit)
        return raw

    return convert


@dataclass(frozen=True, eq=False)
class Param(Generic[T]):
    """A positional argument. `rest` takes everything from here to the end, as written."""

    name: str
    convert: Converter[T]
    required: bool = True
    rest: bool = False

    @property
    def label(self) -> str:
        return f"<{self.name}>"

    def usage(self) -> str:
        shown = f"{self.name}…" if self.rest else self.name
        return f"<{shown}>" if self.required else f"[{shown}]"


@dataclass(frozen=True, eq=False)
class Option(Generic[T]):
    key: str
    hint: str
    convert: Converter[T]

    @property
    def label(self) -> str:
        return f"{self.key}="

    def usage(self) -> str:
        return f"[{self.key}={self.hint}]"


@dataclass(frozen=True)
class Words:
    """A command's arguments as written, matched to its parameters, options and flags."""

    args: dict[str, str]
    options: dict[str, str] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()


class Call:
    """A command's arguments, each read by its converter: `call[PARAM]` is typed by its
    declaration, so handlers never parse text again."""

    def __init__(self, values: Mapping[Param[Any] | Option[Any], object], flags: frozenset[str]) -> None:
        self._values = values
        self.flags = flags

    def __getitem__(self, wanted: Param[T]) -> T:
        """A parameter's value; an optional parameter that was not given is a KeyError (use get)."""
        return cast(T, self._values[wanted])

    def get(self, wanted: Param[T] | Option[T]) -> T | None:
        """The value of an option, or of an optional parameter, or None when it was not given."""
        return cast(T, self._values[wanted]) if wanted in self._values else None

    def given(self, wanted: Param[Any] | Option[Any]) -> bool:
        return wanted in self._values


Handler = Callable[["Context", Call], Awaitable["Reply"]]


@dataclass(frozen=True)
class Command:
    """One chat command, declared once: how it is called, who may call it, what it does."""

    path: str  # "whoami" or "wg info"
    summary: str
    handler: Handler
    access: Access = Access.ANYONE
    params: tuple[Param[Any], ...] = ()
    options: tuple[Option[Any], ...] = ()
    flags: tuple[str, ...] = ()
    anywhere: bool = False  # also in private chats and rooms not bound to a group
    details: str = ""
    takes_files: bool = False  # attachments are read for it (see Context.files)

    @property
    def usage(self) -> str:
        parts = [f"/{self.path}"]
        parts += [p.usage() for p in self.params if not p.rest]
        parts += [o.usage() for o in self.options]
        parts += [f"[{f}]" for f in self.flags]
        parts += [p.usage() for p in self.params if p.rest]
        return " ".join(parts)

    def parse(self, line: CommandLine, words: list[Token]) -> Words:
        """Match words to this command's parameters, options and flags.

        A `key=value` option may stand anywhere after the command's words: between arguments,
        or after a rest argument (`/decisions pfas 2026 as=md`). Flags stand before a rest
        argument. A rest argument is the rest of the message as written (quotes and all), but
        for the known options that end it, so free text is never mangled.
        """
        args: dict[str, str] = {}
        options: dict[str, str] = {}
        flags: set[str] = set()
        known_options = {o.key for o in self.options}
        positional = list(self.params)

        def take_option(word: Token) -> None:
            if word.key in options:
                raise CommandError("{key}= is given twice.", key=word.key)
            options[str(word.key)] = word.value

        for index, word in enumerate(words):
            if word.unclosed and not (positional and positional[0].rest):
                raise CommandError("The quote in {word} is never closed.", word=quote(word.text))
            if word.key in known_options:
                take_option(word)
                continue
            if not word.quoted and word.text.lower() in self.flags:
                flags.add(word.text.lower())
                continue
            if not positional:
                if word.key and self.options:
                    raise CommandError(_unknown_option(word.key, self.options))
                raise CommandError(self._too_many(words, index))
            param = positional.pop(0)
            if param.rest:
                free = words[index:]
                while len(free) > 1 and free[-1].key in known_options and not free[-1].unclosed:
                    take_option(free.pop())
                end = words[index + len(free)].start if index + len(free) < len(words) else len(line.text)
                whole_phrase_quoted = len(free) == 1 and word.quoted and word.key is None
                args[param.name] = word.text if whole_phrase_quoted else line.text[word.start : end].strip()
                break
            args[param.name] = word.text
        for param in positional:
            if param.required:
                raise CommandError("Missing <{name}>.", name=param.name)
        return Words(args, options, frozenset(flags))

    def _too_many(self, words: list[Token], extra: int) -> wording.Words:
        """An unexpected word: most often the second word of a text that needed quotes. With one
        text argument, the hint is the command as it was probably meant."""
        unexpected = {"word": quote(words[extra].text)}
        positional = [w for w in words if w.key not in {o.key for o in self.options}]
        positional = [w for w in positional if w.quoted or w.text.lower() not in self.flags]
        if len(self.params) == 1 and len(positional) > 1 and not any(w.quoted for w in positional):
            others = [w.text for w in words if w not in positional]
            meant = " ".join([f"/{self.path}", f'"{" ".join(w.text for w in positional)}"', *others])
            return wording.Words(
                "Too many arguments: {word} was not expected. Text with spaces goes in quotes: {meant}",
                {**unexpected, "meant": meant},
            )
        return wording.Words(
            "Too many arguments: {word} was not expected. Text with spaces goes in quotes.", unexpected
        )

    async def read(self, written: Words, ctx: Context) -> Call:
        """Each argument through its converter, in the order of the usage line. This is the one
        place where an unreadable argument becomes a refusal."""
        values: dict[Param[Any] | Option[Any], object] = {}
        given: list[tuple[Param[Any] | Option[Any], str]] = [
            (p, written.args[p.name]) for p in self.params if p.name in written.args
        ]
        given += [(o, written.options[o.key]) for o in self.options if o.key in written.options]
        for declared, raw in given:
            try:
                values[declared] = await declared.convert(raw, ctx)
            except Unreadable as expected:
                raise CommandError(
                    "{argument} is {expected}, not {written}.",
                    argument=declared.label,
                    expected=expected.words,
                    written=quote(raw),
                ) from None
            except TooLong as long:
                raise CommandError(
                    "{argument} is at most {limit} characters; yours has {length}.",
                    argument=declared.label,
                    limit=long.limit,
                    length=len(raw),
                ) from None
        return Call(values, written.flags)


def _unknown_option(key: str, known: tuple[Option[Any], ...]) -> wording.Words:
    guess = closest(key, [o.key for o in known])
    if guess:
        return wording.Words("Unknown option {key}=. Did you mean {guess}=?", {"key": key, "guess": guess})
    return wording.Words("Unknown option {key}=.", {"key": key})


Conversation = Callable[["Context", str], Awaitable["Reply"]]


@dataclass(frozen=True)
class Section:
    """An area's commands as /help groups them, with what each family of them is for when no
    one command says it (e.g. "meeting": "your group's meetings: …")."""

    title: str
    commands: tuple[Command, ...]
    topics: Mapping[str, str] = field(default_factory=dict)


class Registry:
    """Every command wgbot knows, in the order /help lists them, and the guided dialogs that
    take plain answers in private chats (by dialog kind)."""

    def __init__(
        self,
        commands: list[Command],
        conversations: dict[str, Conversation] | None = None,
        sections: Sequence[Section] = (),
    ) -> None:
        self.commands = commands
        self.conversations = conversations or {}
        # The areas /help groups the commands under, and what each family of commands is for.
        self.sections = list(sections) or [Section(N_("Commands"), tuple(commands))]
        self._topics = {name: text for section in self.sections for name, text in section.topics.items()}
        self._by_path = {c.path: c for c in commands}
        if len(self._by_path) != len(commands):
            raise ValueError("two commands share a path")

    def __iter__(self) -> Iterator[Command]:
        return iter(self.commands)

    def families(self) -> list[str]:
        return sorted({c.path.split()[0] for c in self.commands})

    def menu(self, lang: Language = ENGLISH) -> list[tuple[str, str]]:
        """One line per command family, for chat clients' command completion."""
        return [(name, self.describe(name, lang=lang)) for name in self.families()]

    def describe(self, name: str, among: Sequence[Command] | None = None, lang: Language = ENGLISH) -> str:
        """What a family of commands is for, then its subcommands (of `among`, if given): "cast
        or change your organisation's vote · also open, status, list"."""
        family = [c for c in self.family(name) if among is None or c in among]
        bare = next((c for c in family if c.path == name), None)
        what = lang._(self._topics.get(name) or (bare.summary if bare else family[0].summary))
        subs = ", ".join(c.path.split(" ", 1)[1] for c in family if " " in c.path)
        if not subs:
            return what
        return lang._("{what} · also {subcommands}", what=what, subcommands=subs) if bare else f"{what} · {subs}"

    def family(self, name: str) -> list[Command]:
        return [c for c in self.commands if c.path.split()[0] == name]

    def find(self, path: str) -> Command | None:
        return self._by_path.get(" ".join(path.lower().lstrip("/!").split()))

    def misspelt_subcommand(self, line: CommandLine) -> Misspelt | None:
        """The subcommand a message probably meant by its first word: `/vote opne` is `/vote
        open` (asked when the family's bare command could not read it, or there is none)."""
        if not line.words or line.words[0].quoted:
            return None
        subs = {c.path.split(" ", 1)[1]: c for c in self.family(line.name) if " " in c.path}
        guess = closest(line.words[0].text, list(subs))
        return Misspelt(line.words[0], subs[guess]) if guess else None

    def resolve(self, line: CommandLine) -> tuple[Command, list[Token]]:
        """Which command a message calls, and the words left for its arguments."""
        family = self.family(line.name)
        if not family:
            guess = closest(line.name, self.families())
            if guess:
                raise CommandError(
                    "Unknown command /{name}. Did you mean /{guess}? Send /help to see them all.",
                    name=line.name,
                    guess=guess,
                )
            raise CommandError("Unknown command /{name}. Send /help to see them all.", name=line.name)
        if line.words and not line.words[0].quoted:
            sub = self._by_path.get(f"{line.name} {line.words[0].text.lower()}")
            if sub is not None:
                return sub, line.words[1:]
        bare = self._by_path.get(line.name)
        if bare is not None:
            return bare, line.words
        subs = [c.path.split(" ", 1)[1] for c in family]
        usage = " · ".join(c.usage for c in family)
        if not line.words:
            raise CommandError(
                "/{name} needs one of: {subcommands}. Usage: {usage}",
                name=line.name,
                subcommands=", ".join(subs),
                usage=usage,
            )
        misspelt = self.misspelt_subcommand(line)
        if misspelt is not None:
            raise misspelt
        raise CommandError(
            "Unknown /{name} subcommand {word}. Usage: {usage}",
            name=line.name,
            word=quote(line.words[0].text),
            usage=usage,
        )
