"""What every platform must do the same way, asked of the console, Matrix (a real Synapse) and
Telegram (the real PTB Application on the Bot API emulator): help, who you are, a vote cast,
a refusal in one line with its usage, and files in and out. What only one platform does
(reactions, toasts, deep links, rate limits) stays in its own test module."""

from __future__ import annotations

import os

import pytest

from tests.peers import Peer, console_peer, matrix_peer, telegram_peer
from tests.transport_probes import CALENDAR, checksum_line

pytestmark = pytest.mark.sqlite_only  # the transports are under test here; storage is tested elsewhere


@pytest.fixture(params=["console", "matrix", "telegram"])
async def jana(request, db, tmp_path):
    """Jana, chair of PFAS for ACME GmbH, in PFAS's room on one platform."""
    if request.param == "console":
        peer = console_peer(db, tmp_path)
    elif request.param == "matrix":
        peer = matrix_peer(db, request.getfixturevalue("synapse"))
    else:
        peer = telegram_peer(db)
    async with peer as talking:
        yield talking


async def test_help_lists_the_commands_usable_here(jana: Peer):
    answer = await jana.ask("/help")
    assert answer.startswith("Commands you can use here")
    assert "\nVotes\n  /vote — cast or change your organisation's vote · also open, status, list," in answer
    assert len(answer.splitlines()) < 40  # one line a family: it fits a phone's screen or two
    every_vote_command = await jana.ask("/help vote")
    assert "/vote <id> [for=<organisation>] <option…> — cast or change your organisation's vote" in every_vote_command
    assert "/vote remind <id> — remind those who have not voted, privately" in every_vote_command


async def test_whoami_names_the_person_their_organisation_and_their_role(jana: Peer):
    answer = await jana.ask("!whoami")
    assert answer.startswith("You are Jana Novak")
    assert "Organisation: ACME GmbH" in answer and "chair of PFAS" in answer


async def test_a_vote_is_opened_and_cast_for_the_organisation(jana: Peer):
    assert (await jana.ask('/vote open "Adopt the PFAS roadmap?"')).startswith("Vote #1 is open until")
    assert await jana.ask("/vote 1 yes") == "Recorded: yes for ACME GmbH"
    assert await jana.ask("/vote 1 no") == "Recorded: no for ACME GmbH (replaces yes by Jana Novak)"


async def test_a_wrong_command_gets_one_line_and_the_usage(jana: Peer):
    assert await jana.ask("/vote open") == (
        "Missing <question>.\n"
        "Usage: /vote open <question> [options=yes|no|abstain] [approve=<deliverable>.<version>] "
        "[closes=<time>] [quorum=50%] [majority=simple|absolute|two-thirds|unanimous] [secret] [hidden]"
    )
    assert await jana.ask("/vote abc yes") == (
        "<id> is a number such as 12, not 'abc'.\nUsage: /vote <id> [for=<organisation>] <option…>"
    )


async def test_a_file_reaches_the_command_as_its_caption_or_sent_just_before(jana: Peer):
    draft = b"%PDF-1.7\n" + os.urandom(5000)
    expected = checksum_line("roadmap.pdf", draft)
    assert await jana.ask_with_file("/sha", "roadmap.pdf", draft) == expected
    assert await jana.file_before("/sha", "roadmap.pdf", draft) == expected


async def test_the_bot_sends_files_byte_for_byte(jana: Peer):
    assert await jana.file_from("/calendar") == ("pfas.ics", CALENDAR)


async def test_overlong_or_hostile_input_gets_a_short_clean_answer(jana: Peer):
    answer = await jana.ask("/wg info " + "x" * 4087)
    assert answer.startswith("No working group 'xxxx") and len(answer) < 400
    assert "\u202e" not in await jana.ask("/wg info \u202eevil")
    refused = await jana.ask('/wg propose "Chips" ' + "m" * 4000)
    assert refused.startswith("<mandate> is at most 1000 characters; yours has 4000.")
