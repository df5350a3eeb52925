"""The members' languages: every marked message translated in every shipped catalogue with the
same placeholders; a whole vote and a meeting reminder in German and Polish on the console; a
French Telegram user answered in French without asking."""

from __future__ import annotations

import asyncio
import dataclasses
import gettext
import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from bot.app import App, chat_transports
from bot.areas import registry_of
from bot.config import Settings
from bot.i18n import CATALOGUES, DOMAIN, LANGUAGES, SOURCE, Language, extract, understood
from bot.router import Router
from handlers import AREAS, build_registry
from handlers.meetings.reminders import post_reminder
from storage import meetings
from storage.models import MembershipApplication, Notice
from storage.rules.text import CHOICES
from tests.alliance import member_organisation, message, person
from tests.conftest import Say
from tests.telegram_emulator import BotApiEmulator

SHIPPED = [code for code in LANGUAGES if code != SOURCE]
PLACEHOLDER = re.compile(r"\{(\w*)\}")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CLOSES = 'closes="2027-02-03 10:00"'  # a Wednesday in winter: Brussels is on CET


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


@pytest.mark.parametrize("code", SHIPPED)
def test_every_message_is_translated_with_the_same_placeholders(code):
    with (CATALOGUES / code / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=code)
    assert "Machine-made" in catalog.header_comment  # a machine's translation says so
    problems = []
    for source in extract():
        if not source.id:
            continue
        found = catalog.get(source.id, context=source.context)
        forms = ([found.string] if isinstance(found.string, str) else list(found.string)) if found else []
        expected = placeholders(" ".join(source.id) if isinstance(source.id, tuple) else source.id)
        if isinstance(source.id, tuple):
            expected |= {"count"}
        if found is None or found.fuzzy or not forms or not all(forms):
            problems.append(f"untranslated: {source.id!r}")
        elif isinstance(source.id, tuple) and len(forms) != catalog.num_plurals:
            problems.append(f"{len(forms)} of {catalog.num_plurals} plural forms: {source.id!r}")
        else:
            problems += [f"placeholders differ: {form!r}" for form in forms if placeholders(form) != expected]
    assert problems == []


def test_a_catalogue_with_a_wrong_placeholder_would_fail():
    """The check above catches a translator's slip: it is not vacuous."""
    assert placeholders("Abstimmung #{id} ist geschlossen: {frage}") != placeholders("Vote #{id} is closed: {question}")


@pytest.fixture
def clock():
    return lambda: NOW


async def electorate(db, size: int) -> None:
    """`size` member organisations in PFAS, Jana (the chair) representing the first."""
    organisations = [await member_organisation(db, f"Org {n}", joins=("pfas",)) for n in range(1, size + 1)]
    await person(db, "Jana Novak", organisation=organisations[0], accounts=("console:jana",), roles=("chair:pfas",))


async def room_posts(db, like: str) -> list[tuple[str, list]]:
    async with db.transaction() as session:
        rows = await session.execute(select(Notice.text, Notice.buttons).where(Notice.text.like(like)))
        return [tuple(row) for row in rows]


async def room_texts(db, like: str) -> list[str]:
    async with db.transaction() as session:
        return list(await session.scalars(select(Notice.text).where(Notice.text.like(like)).order_by(Notice.id)))


GERMAN = {
    "language": "Die Räume von PFAS erhalten meine Nachrichten jetzt auf Deutsch",
    "opened": "Abstimmung #1 ist offen bis Mi., 3. Feb. 2027, 10:00 MEZ "
    "(Europe/Brussels, die Zeitzone der Allianz; /tz legt Ihre fest); {count}",
    "posted": "Abstimmung #1 (PFAS): Budget 2027?",
    "ballot": "Ja",
    "buttons": [["ja", "/vote 1 yes"], ["nein", "/vote 1 no"], ["Enthaltung", "/vote 1 abstain"]],
    "receipt": "Erfasst: ja für Org 1",
    "not an option": "'maybe' ist keine Option von Abstimmung #1: ja, nein oder Enthaltung.",
    "closed": "Abstimmung #1 ist geschlossen: Budget 2027?",
    "turnout": "Beteiligung: 1 von {count} (Quorum",
    "adopted": "Entscheidung: ANGENOMMEN.",
    "no quorum": "Entscheidung: NICHT ANGENOMMEN — Quorum nicht erreicht.",
    "reminder": "Erinnerung: Budget (Sitzung 1), Mi., 3. Feb. 2027, 10:00 MEZ, 60 Minuten — beginnt in 15 Minuten.",
    "scheduled": "Geplant: Budget (Sitzung 1), Mi., 3. Feb. 2027, 10:00 MEZ (Europe/Brussels, die Zeitzone der Allianz; "
    "/tz legt Ihre fest), 60 Minuten. /meeting info 1 zeigt sie.",
}
GERMAN_COUNTS = {1: "1 Organisation ist stimmberechtigt", 2: "2 Organisationen sind stimmberechtigt"}
GERMAN_COUNTS[5] = "5 Organisationen sind stimmberechtigt"
POLISH = {
    "language": "Pokoje grupy PFAS otrzymują teraz moje wiadomości w języku: Polski",
    "opened": "Głosowanie #1 jest otwarte do śr., 3 lut 2027, 10:00 CET (Europe/Brussels, strefa sojuszu; /tz ustawia Twoją); "
    "{count}",
    "posted": "Głosowanie #1 (PFAS): Budget 2027?",
    "ballot": "tak",
    "buttons": [["tak", "/vote 1 yes"], ["nie", "/vote 1 no"], ["wstrzymuję się", "/vote 1 abstain"]],
    "receipt": "Zapisano: tak w imieniu Org 1",
    "not an option": "'maybe' nie jest opcją głosowania #1: tak, nie lub wstrzymuję się.",
    "closed": "Głosowanie #1 zamknięte: Budget 2027?",
    "turnout": "Frekwencja: 1 z {count} (kworum",
    "adopted": "Rozstrzygnięcie: PRZYJĘTO.",
    "no quorum": "Rozstrzygnięcie: NIE PRZYJĘTO — brak kworum.",
    "reminder": "Przypomnienie: Budget (spotkanie 1), śr., 3 lut 2027, 10:00 CET, 60 min — początek za 15 minut.",
    "scheduled": "Zaplanowano: Budget (spotkanie 1), śr., 3 lut 2027, 10:00 CET (Europe/Brussels, strefa sojuszu; "
    "/tz ustawia Twoją), 60 min. /meeting info 1 je pokazuje.",
}
POLISH_COUNTS = {1: "głosuje 1 organizacja", 2: "głosują 2 organizacje", 5: "głosuje 5 organizacji"}


@pytest.mark.parametrize(
    ("code", "words", "counts"),
    [("de", GERMAN, GERMAN_COUNTS), ("pl", POLISH, POLISH_COUNTS)],
    ids=["German", "Polish"],
)
@pytest.mark.parametrize("size", [1, 2, 5])
async def test_a_whole_vote_and_a_meeting_reminder_in_the_group_s_language(db, router, say, code, words, counts, size):
    await electorate(db, size)
    assert (await say(f"/wg language {code}")).startswith(words["language"])

    opened = await say(f'/vote open "Budget 2027?" {CLOSES}')
    assert opened.startswith(words["opened"].format(count=counts[size])), opened
    [(posted, buttons)] = await room_posts(db, "%#1 (PFAS)%")
    assert posted.startswith(words["posted"])
    assert buttons == words["buttons"]  # labelled in the room's language; each still sends the option itself
    assert await say("/vote 1 maybe") == words["not an option"]  # a refusal is in the room's language too
    assert await say(f"/vote 1 {words['ballot']}") == words["receipt"]  # a default option typed in the language
    await say("/vote close 1")
    [closed] = await room_texts(db, words["closed"] + "%")
    turnout = re.search(r"\d+ \w+\b", counts[size]).group() if code == "de" else f"{size} organizacji"
    assert words["turnout"].format(count=turnout) in closed
    assert words["adopted" if size < 5 else "no quorum"] in closed  # one of five misses the 50% quorum

    assert await say('/meeting schedule "2027-02-03 10:00" Budget duration=60m') == words["scheduled"]
    starts = datetime(2027, 2, 3, 9, 0, tzinfo=UTC)
    async with db.transaction() as session:
        meeting = await meetings.find(session, 1)
        occurrence = await meetings.pick(session, meeting, 1, NOW)
        await post_reminder(session, meeting, occurrence, False, starts - timedelta(minutes=15), "en")
    [reminder] = await room_texts(db, words["reminder"].split(":")[0] + ":%")
    assert reminder.startswith(words["reminder"]), reminder


async def test_a_reader_s_own_language_for_what_is_said_to_them_and_times_read_in_it(db, router, say):
    await electorate(db, 1)
    assert await say("/lang pl", room="jana", direct=True) == "Od teraz piszę do Ciebie w języku: Polski."
    assert (await say("/lang", room="jana", direct=True)).startswith("Piszę do Ciebie w języku: Polski (pl).")
    refused = await say("/lang xx", room="jana", direct=True)
    assert refused.startswith("<code> musi być jednym z: en (English), de (Deutsch)") and "a nie 'xx'" in refused
    scheduled = await say('/meeting schedule "jutro 10:00" Budget')  # the room is English; Jana reads Polish
    assert scheduled.startswith("Scheduled: Budget (meeting 1), Thu 26 Nov 2026 10:00 CET")
    helped = await say("/help", room="jana", direct=True)
    assert helped.startswith("Polecenia dostępne tutaj") and "  /lang — pokaż lub wybierz język" in helped
    whoami = await say("/whoami", room="jana", direct=True)
    assert "Jesteś Jana Novak (osoba #1)." in whoami and "Prawo głosu: tak" in whoami
    assert await say("/lang en", room="jana", direct=True) == "From now on I write to you in English."
    german = Language("de")
    assert german.moment(datetime(2027, 2, 2, 9, tzinfo=UTC), "Europe/Berlin") == "Di., 2. Feb. 2027, 10:00 MEZ"
    assert german.percent(0.5) == "50\u00a0%"  # a no-break space, as German writes it
    assert (german.size(1_572_864), Language("pl").size(300), Language().size(1_572_864)) == (
        "1,5 MB",
        "300 bajtów",
        "1.5 MB",
    )


async def test_a_refusal_is_in_the_language_of_whoever_reads_it(db, router, say):
    await electorate(db, 1)
    await person(db, "Ola Nordmann", accounts=("console:ola",))
    await say("/wg language de")
    refused = await say("/wg language pl", sender="ola")
    assert refused == "Nur der Vorsitz dieser Arbeitsgruppe oder das Sekretariat darf das."
    await say("/lang pl", room="jana", direct=True)
    assert (
        await say("/vote 7 yes", room="jana", direct=True) == "Nie ma głosowania '7'; /vote list pokazuje głosowania."
    )
    misread = await say("/vote siedem tak", room="jana", direct=True)  # written wrong: the usage line follows
    assert misread.startswith("<id> musi być ") and misread.endswith(
        "'siedem'.\nUżycie: /vote <id> [for=<organisation>] <option…>"
    )
    assert await say("/vote 7 yes", sender="ola", room="ola", direct=True) == (  # Ola chose none: the alliance's
        "Only representatives of member organisations may do this."
    )


async def test_an_announcement_is_headed_in_each_room_s_language_and_its_text_is_left_as_written(db, router, say):
    await electorate(db, 1)
    await person(db, "Sam", accounts=("console:sam",), roles=("secretariat",))
    await say("/wg language de")
    await say("/announce pfas,skills Drafts are due on Friday.", sender="sam", room="secretariat")
    copies = dict(await room_copies(db, "%Drafts are due on Friday."))
    assert copies["pfas"] == "Vom Sekretariat:\nDrafts are due on Friday."
    assert copies["skills"] == "From the Secretariat:\nDrafts are due on Friday."  # Skills chose no language


async def room_copies(db, like: str) -> list[tuple[str, str]]:
    async with db.transaction() as session:
        rows = await session.execute(select(Notice.target, Notice.text).where(Notice.text.like(like)))
        return [tuple(row) for row in rows]


async def test_german_times_are_read_as_germans_write_them(db, router, say):
    await electorate(db, 1)
    await say("/lang de", room="jana", direct=True)
    scheduled = await say('/meeting schedule "morgen 10 Uhr" Budget')
    assert scheduled.startswith("Scheduled: Budget (meeting 1), Thu 26 Nov 2026 10:00 CET"), scheduled


@pytest.mark.sqlite_only
async def test_a_french_telegram_user_is_answered_in_french_until_they_choose_english(db, settings):
    emulator = BotApiEmulator()
    await emulator.start()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jeanne Dupont", organisation=acme, accounts=("telegram:1001", "console:jeanne"))
    jeanne = emulator.person(1001, "Jeanne", "jeanne", language_code="fr")
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    console = Router(db, build_registry(), settings)
    await console.handle(message('/vote open "Budget 2027?"', sender="jana", room="pfas"))

    telegram = Settings.model_validate({"telegram": emulator.bot_settings()})
    app = App(telegram, db, chat_transports(telegram, db, registry_of(AREAS)), AREAS)
    running = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app.started.wait(), 10)

        async def ask(text: str) -> str:
            return (await emulator.answer_to(await emulator.say(jeanne, None, text))).text

        await ask("/start")
        # The command menu in each app's language, the alliance's for the others.
        assert {"command": "help", "description": "lister les commandes, ou en expliquer une"} in (
            emulator.commands_in["fr"]
        )
        assert {"command": "help", "description": "list the commands, or explain one"} in emulator.commands
        assert (await ask("/lang")).startswith("Je vous écris dans cette langue : Français (fr).")
        assert await ask("/vote 1 yes") == "Enregistré : oui pour ACME GmbH"
        assert await ask("/lang en") == "From now on I write to you in English."
        assert await ask("/vote 1 no") == "Recorded: no for ACME GmbH (replaces yes by Jeanne Dupont)"
    finally:
        app.request_stop()
        await asyncio.wait_for(running, 15)
        await emulator.stop()


@pytest.mark.parametrize(
    ("code", "series", "agenda", "answer", "noted"),
    [
        (
            "de",
            "Wiederholt sich jeden Monat am ersten Mittwoch, bis ",
            "Die Tagesordnung von Sitzung 1.1 hat 2 Punkte; es gibt keinen Punkt 3.",
            "Vielleicht",
            "Notiert: vielleicht für Jana Novak (Org 1)",
        ),
        (
            "pl",
            "Powtarza się co miesiąc w pierwszą środę, do ",
            "Porządek obrad spotkania 1.1 ma 2 punkty; nie ma punktu 3.",
            "może",
            "Zapisano: może dla Jana Novak (Org 1)",
        ),
    ],
    ids=["German", "Polish"],
)
async def test_a_series_an_answer_and_a_counted_refusal_are_each_worded_whole(
    db, router, say, code, series, agenda, answer, noted
):
    """No sentence is glued from English pieces: how often a series repeats, the weekday with its
    ordinal, a count's plural and the answers the bot offers are each the language's own words."""
    await electorate(db, 1)
    await say(f"/wg language {code}")
    await say('/meeting schedule "2027-02-03 10:00" Budget every=month until=2027-06-30')
    [(posted, buttons)] = await room_posts(db, "%/rsvp 1.1%")
    assert series in posted, posted  # 3 February 2027 is the first Wednesday of its month
    labels = {"de": ["ja", "nein", "vielleicht"], "pl": ["tak", "nie", "może"]}[code]
    assert f"/rsvp 1.1 {'|'.join(labels)}" in posted
    assert buttons == [[label, f"/rsvp 1.1 {sent}"] for label, sent in zip(labels, ("yes", "no", "maybe"), strict=True)]
    assert (await say(f"/rsvp 1.1 {answer}")).startswith(noted)  # typed in the language, kept as "maybe"
    async with db.transaction() as session:
        [reply] = await meetings.attendance(session, 1, 1)
        assert reply.answer == "maybe"
    for item in ("Budget", "AOB"):
        await say(f'/meeting agenda 1.1 add "{item}"')
    assert (await say("/meeting agenda 1.1 remove 3")).startswith(agenda)


async def test_the_secretariat_s_notices_are_in_the_alliance_s_language(db, tmp_path):
    """An alliance that speaks French: what the secretariat is told, and what a passed vote did."""
    french = Settings.model_validate({"alliance": {"language": "fr"}, "console": {"downloads": str(tmp_path)}})
    say = Say(Router(db, build_registry(), french, clock=lambda: NOW))
    await electorate(db, 1)
    await person(db, "Sam", accounts=("console:sam",), roles=("secretariat",))
    proposed = await say('/wg propose "Chips Act" Follow the Chips Act', room="jana", direct=True)
    assert proposed.startswith("Votre proposition est le vote #1"), proposed
    assert await say("/vote 1 oui", room="jana", direct=True) == "Enregistré : oui pour Org 1"
    await say("/vote close 1", sender="sam", room="secretariat")
    [created] = await room_texts(db, "Le vote #1 a créé le groupe de travail Chips Act (chips-act).%")
    [checkpoint] = await room_texts(db, "Point de contrôle du journal (vote #1 clos) : %")
    assert "Conservez-le : `wgbot audit verify --checkpoint " in checkpoint
    async with db.transaction() as session:
        told = await session.scalars(select(Notice.target).where(Notice.text.in_([created, checkpoint])))
        assert set(told) == {"secretariat"}
    results = dict(await room_copies(db, "Le vote #1 est clos%"))
    assert "Comme décidé : groupe de travail chips-act créé." in results["pfas"]
    # A state agrees with what it is said of: a vote is "clos", an announcement "annulée".
    assert (await say("/vote cancel 1", sender="sam", room="secretariat")).startswith("Le vote #1 est déjà clos.")
    await say('/announce pfas at="2027-01-10 10:00" Drafts are due.', sender="sam", room="secretariat")
    await say("/announce cancel 1", sender="sam", room="secretariat")
    again = await say("/announce cancel 1", sender="sam", room="secretariat")
    assert again.startswith("L'annonce #1 est annulée ; seule une annonce prévue peut être annulée."), again


def test_the_bot_s_own_choices_are_understood_in_every_language_and_none_for_another():
    """ "Ja", "NIE", "Enthaltung" typed as a ballot or an answer are the choice they name; a
    translation that read like another choice would be caught here."""
    for code in LANGUAGES:
        for word in CHOICES:
            assert understood(Language(code).choice(word).upper()) == word, (code, word)
    assert understood("Budget") == "Budget"  # anything else stays as typed


def test_the_built_package_carries_the_compiled_catalogues(tmp_path):
    """What pip installs reads .mo files compiled at build time, none of them committed."""
    root = Path(__file__).parent.parent
    source = tmp_path / "source"
    for package in ("bot", "handlers", "storage"):
        shutil.copytree(root / package, source / package, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    for file in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(root / file, source / file)
    assert not list((root / "bot" / "locale").rglob("*.mo"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("wgbot-*.whl")
    with zipfile.ZipFile(wheel) as package:
        names = set(package.namelist())
        assert {f"bot/locale/{code}/LC_MESSAGES/{DOMAIN}.mo" for code in SHIPPED} <= names
        german = gettext.GNUTranslations(io.BytesIO(package.read(f"bot/locale/de/LC_MESSAGES/{DOMAIN}.mo")))
    assert german.gettext("every week") == Language("de")._("every week") == "jede Woche"
    installed = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "-t", str(installed), str(wheel)], check=True
    )
    said = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from bot.i18n import Language; print(Language('pl')._('every week'), "
            "'babel.messages.pofile' in sys.modules, sys.modules['bot'].__path__[0])",
        ],
        env={**os.environ, "PYTHONPATH": str(installed)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert said.stdout.split() == ["co", "tydzień", "False", str(installed / "bot")]  # read compiled, not parsed


def test_every_command_s_words_reach_the_catalogues():
    """A summary, a topic or a section title that the extractor cannot see (built by a helper,
    say) would be shown in English to everyone: each must be a message of the catalogues."""
    messages = {message.id for message in extract() if isinstance(message.id, str)}
    registry = build_registry()
    words = [command.summary for command in registry] + [c.details for c in registry if c.details]
    words += [section.title for section in registry.sections]
    words += [text for section in registry.sections for text in section.topics.values()]
    assert [said for said in words if said not in messages] == []


async def test_an_applicant_answers_the_apply_dialog_in_their_own_language(db, router, say):
    """Kinds, yes/no answers and the Declaration's acceptance are read in the applicant's
    language (here Polish, as their Telegram app says), and kept as the records' own words."""

    def polish(text: str):
        return dataclasses.replace(message(text, sender="555", room="555", direct=True), language="pl")

    refused = await say(polish('/apply name="Krzem SA" country=PL kind=hutnictwo groups=pfas contact=Ola'))
    assert refused.startswith(
        "Nieznany rodzaj 'hutnictwo': jeden z przemysł, badania, uczelnia, stowarzyszenie lub klaster."
    )
    submitted = await say(
        polish(
            '/apply name="Krzem SA" country=PL kind=Badania groups=pfas contact=Ola declaration=Przyjmuję '
            "eligibility=tak,tak,tak"
        )
    )
    assert submitted.startswith("Dziękujemy. Wniosek #1 dla Krzem SA"), submitted
    assert "(PL, badania;" in submitted
    async with db.transaction() as session:
        application = await session.scalar(select(MembershipApplication))
    assert application.kind.value == "research"
    assert [answer["answer"] for answer in application.eligibility] == ["yes", "yes", "yes"]


async def test_lang_in_a_room_says_the_room_keeps_its_group_s_language_and_private_messages_change(db, say):
    await electorate(db, 1)
    answer = await say("/lang de")
    assert answer == (
        "Ab jetzt schreibe ich Ihnen in privaten Nachrichten auf Deutsch. Dieser Raum bleibt auf English: "
        "Ein Raum folgt der Sprache seiner Gruppe, die der Vorsitz mit /wg language festlegt."
    )
    assert (await say("/whoami")).startswith("You are Jana Novak")  # the room: still English
    assert (await say("/whoami", room="jana", direct=True)).startswith("Sie sind Jana Novak")
