"""No English fragment in a translated sentence: every command, run in an alliance that speaks
German, Polish or French, answers (and posts, and sends privately) with no word of English
among its own words — roles, states, kinds of organisation and the rest said through the
catalogues. English words are those of the English messages that the language's catalogue
does not also use (names such as "Telegram" or "Europe/Brussels" stay), after taking out what
is not the bot's own wording: commands and their usage, options, and what people wrote."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from bot.config import Settings
from bot.i18n import CATALOGUES, DOMAIN, Language, extract
from bot.router import Router
from handlers import build_registry
from storage.models import Notice, OrganisationStatus
from storage.organisations import KINDS
from storage.rules.text import Words
from tests.alliance import member_organisation, message, person

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
# Every state and role, with what it is said of (storage/rules/text.STATES marks them for the catalogues).
STATE_WORDS = [
    (context, word)
    for context, words in {
        "vote": ("open", "closed", "cancelled", "held"),
        "announcement": ("scheduled", "delivering", "delivered", "cancelled"),
        "deliverable": ("drafting", "final", "submitted"),
        "application": ("pending", "approved", "rejected"),
        "organisation": ("applicant", "member", "suspended", "rejected"),
        None: ("chair", "secretariat", "commission"),
    }.items()
    for word in words
]
WORD = re.compile(r"\b[^\W\d_]{4,}\b")  # a word of letters, any script, accents included
# What people and the test wrote, which stays as written.
WRITTEN = "Adopt roadmap Budget Kickoff Roadmap plan Looks good Quince Microsystems Drafts Friday Gus Guest"
# Command syntax: every command with its subcommand ("/member chair"), and the subcommands /help
# lists after a family ("/vote — … · also open, status, …").
PATHS = sorted((command.path for command in build_registry()), key=len, reverse=True)
NOT_WORDING = [
    re.compile(r"^  /.*?·.*$", re.MULTILINE),  # a /help line that lists subcommands
    re.compile("|".join(re.escape("/" + path) for path in PATHS) + r"|/[a-z]+"),  # a command
    re.compile(r"\b[a-z]+:(?:<[^>]*>|[^\s,.;)]+)"),  # references: telegram:12345, chair:pfas, chair:<group>
    re.compile(r"<[^>]*>|\[[^\]]*\]"),  # usage: <id>, [quorum=50%]
    re.compile(r"\b[a-z-]+=\S*"),  # options: closes=3d
    re.compile(r"\b\w+(?:\|\w+)+"),  # the words one may type: drafting|review|final
    re.compile(r"(?<!\w)'[^'\n]{0,80}'(?!\w)|\"[^\"\n]*\""),  # quoted user text (not "l'alliance")
    re.compile(r"`[^`]*`"),  # a shell command
    re.compile(r"https?://\S+"),
    re.compile(r"[\w-]+\.(?:md|pdf|zip|ics|csv|xlsx|json)\b"),  # a file's name
    re.compile(r"\b(?:yes|no|abstain|maybe|all|plenary|secretariat|remove|add|same-name-ok|renew)\b"),  # typed words
]
# (sender, room, direct, text): every command, as the secretariat and a chair use them. Not
# /declaration: the Declaration is the alliance's own document, shown as the alliance wrote it.
TOUR = [
    ("sam", "sam", True, "/help"),
    ("sam", "sam", True, "/help vote open"),
    ("jana", "pfas", False, "/whoami"),
    ("jana", "jana", True, "/whoami"),
    ("jana", "pfas", False, "/tz"),
    ("jana", "jana", True, "/lang"),
    ("jana", "pfas", False, "/wg list"),
    ("jana", "pfas", False, "/wg info pfas"),
    ("jana", "pfas", False, "/room info"),
    ("jana", "jana", True, "/link"),
    ("sam", "sam", True, "/member list"),
    ("sam", "sam", True, '/member add "ACME GmbH" Piet Jansen'),
    ("sam", "sam", True, '/member suspend "Fab Nord AS" unpaid fees'),
    ("ola", "pfas", False, "/vote 1 yes"),
    ("ola", "ola", True, "/whoami"),
    ("sam", "sam", True, '/member reinstate "Fab Nord AS"'),
    ("sam", "sam", True, "/member chair skills Ola Nordmann"),
    ("sam", "sam", True, "/member unchair skills Ola Nordmann"),
    ("jana", "pfas", False, '/vote open "Adopt the roadmap?" closes=3d'),
    ("jana", "jana", True, "/vote pending 1"),
    ("jana", "jana", True, "/vote remind 1"),
    ("jana", "pfas", False, "/vote 1 yes"),
    ("ola", "pfas", False, "/vote 1 no"),
    ("jana", "pfas", False, "/vote status 1"),
    ("jana", "pfas", False, "/vote list"),
    ("jana", "pfas", False, "/vote close 1"),
    ("jana", "pfas", False, '/vote open "Budget?" secret'),
    ("jana", "pfas", False, "/vote cancel 2"),
    ("jana", "pfas", False, "/decisions"),
    ("jana", "pfas", False, '/meeting schedule "2027-01-12 10:00" "Kickoff" every=week until=2027-03-01'),
    ("jana", "pfas", False, "/meeting list"),
    ("jana", "pfas", False, "/meeting info 1"),
    ("jana", "pfas", False, '/meeting agenda 1 add "Budget"'),
    ("jana", "pfas", False, "/meeting agenda 1"),
    ("ola", "pfas", False, "/rsvp 1 maybe"),
    ("jana", "pfas", False, "/meeting move 1.2 2027-01-20 11:00"),
    ("jana", "pfas", False, "/meeting edit 1 duration=90m"),
    ("jana", "pfas", False, "/meeting cancel 1.3"),
    ("jana", "pfas", False, "/meeting ics 1"),
    ("jana", "pfas", False, '/guest invite "Gus Guest" 1'),
    ("jana", "pfas", False, '/deliverable new "Roadmap" due=2027-03-31'),
    ("ola", "pfas", False, "/draft 1 the plan"),
    ("jana", "pfas", False, "/draft 1 the better plan"),
    ("jana", "pfas", False, "/comment 1 1 Looks good"),
    ("jana", "pfas", False, "/deliverable list"),
    ("jana", "pfas", False, "/deliverable info 1"),
    ("jana", "pfas", False, "/deliverable withdraw 1.1"),
    ("jana", "pfas", False, "/deliverable status 1 review"),
    ("jana", "pfas", False, "/deliverable export 1"),
    ("sam", "sam", True, "/announce pfas Drafts are due on Friday."),
    ("sam", "sam", True, "/announce list"),
    ("sam", "sam", True, "/announce status 1"),
    ("sam", "sam", True, "/export members"),
    ("gus", "gus", True, "/apply"),
    ("gus", "gus", True, "Quince Microsystems"),
    ("gus", "gus", True, "BE"),
    ("gus", "gus", True, "/apply cancel"),
    ("cora", "cora", True, "/applications"),
    ("jana", "pfas", False, "/frobnicate"),
    ("jana", "pfas", False, "/vote opne"),
    ("jana", "pfas", False, "/vote 9 yes"),
    ("ola", "pfas", False, '/vote open "Not mine?"'),
]


def english_words(code: str) -> set[str]:
    """Words of the English messages that the language's catalogue never uses itself."""
    with (CATALOGUES / code / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalogue = read_po(po, locale=code)
    own: set[str] = set()
    introduced: set[str] = set()  # a translation's own words, not kept from its English (as "drafting" is)
    for entry in catalogue:
        if entry.id and entry.string:
            said = _words(" ".join([entry.string] if isinstance(entry.string, str) else entry.string))
            own |= said
            introduced |= said - _words(" ".join([entry.id] if isinstance(entry.id, str) else entry.id))
    english = set()
    for source in extract():
        english |= _words(" ".join([source.id] if isinstance(source.id, str) else source.id))
    # The words for states, roles and kinds: English wherever the language has another word for
    # them, even where its catalogue also lists them as what one may type ("drafting, review…").
    lang = Language(code)
    values = [Words(word, context=context) for context, word in STATE_WORDS] + [Words(kind) for kind in KINDS]
    told_apart = {str(words).lower() for words in values if lang.say(words).lower() != str(words).lower()}
    return (english - own - _words(WRITTEN)) | (told_apart - introduced)


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(_wording(text))}


def _wording(text: str) -> str:
    """The text without what is not wording: commands, usage, options, quoted text, links."""
    for pattern in NOT_WORDING:
        text = pattern.sub(" ", text)
    return text


def fragments(text: str, english: set[str]) -> list[str]:
    return sorted({w for w in WORD.findall(_wording(text)) if w.lower() in english})


@pytest.mark.parametrize("code", ["de", "pl", "fr"])
async def test_every_command_answers_in_the_alliance_s_language_with_no_english_fragment(db, tmp_path, code):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas", "skills"))
    consult = await member_organisation(db, "Consult Ltd", status=OrganisationStatus.NON_MEMBER)
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=("console:ola",))
    await person(db, "Gus Guest", organisation=consult, accounts=("console:gus",))
    await person(db, "Sam Secretariat", accounts=("console:sam",), roles=("secretariat",))
    await person(db, "Cora Commission", accounts=("console:cora",), roles=("commission",))
    settings = Settings.model_validate(
        {
            "alliance": {"language": code},
            "files": {"path": str(tmp_path / "files")},
            "console": {"downloads": str(tmp_path)},
        }
    )
    router = Router(db, build_registry(), settings, clock=lambda: NOW)
    english = english_words(code)
    found: dict[str, list[str]] = {}
    for sender, room, direct, text in TOUR:
        reply = await router.handle(message(text, sender=sender, room=room, direct=direct))
        said = reply.text if reply else ""
        for word in fragments(said, english):
            found.setdefault(word, []).append(f"{text} → {said[:200]!r}")
    async with db.transaction() as session:
        for posted in await session.scalars(select(Notice.text)):
            for word in fragments(posted, english):
                found.setdefault(word, []).append(f"(posted) {posted[:200]!r}")
    assert found == {}, "\n".join(f"{word}: {where[0]}" for word, where in sorted(found.items()))
