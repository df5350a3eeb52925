"""The router's promises: one clear line for every mistake, roles checked in one place, nothing
done twice, silence in rooms the bot does not serve, and never a traceback to a person."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.commands import Command, Param, Registry, Section, text
from bot.router import Router
from bot.transports.base import Reply
from handlers import build_registry
from storage import audit
from storage.models import AuditEntry
from storage.rules.access import Access
from tests.alliance import member_organisation, message, person

WHAT = Param("what", text)


async def record_decision(ctx, call):
    """A stand-in governance act: writes one audit line, like every real one will."""
    await audit.record(ctx.session, actor=ctx.actor.label, action="test.decided", subject=call[WHAT])
    return Reply(f"Decided {call[WHAT]}.")


async def crash(ctx, call):
    await audit.record(ctx.session, actor="x", action="test.half-done", subject="x")
    raise RuntimeError("database exploded with secret details")


def registry_with(*extra: Command) -> Registry:
    every = build_registry()
    return Registry([*every, *extra], sections=[*every.sections, Section("Probes", extra)])


DECIDE = Command("decide", "decide", record_decision, Access.SECRETARIAT, params=(WHAT,))
CHAIR_DECIDE = Command("chairdecide", "decide", record_decision, Access.CHAIR, params=(WHAT,))
MEMBER_DECIDE = Command("memberdecide", "decide", record_decision, Access.MEMBER, params=(WHAT,))
CRASH = Command("crash", "fail", crash)


@pytest.fixture
def router(db, settings) -> Router:
    return Router(db, registry_with(DECIDE, CHAIR_DECIDE, MEMBER_DECIDE, CRASH), settings)


async def audit_count(db, action: str) -> int:
    async with db.transaction() as session:
        return await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


@pytest.fixture
async def alliance(db):
    """ACME (in PFAS) with Jana as PFAS chair, Piet as plain representative, Sam at the secretariat."""
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Piet Jansen", organisation=acme, accounts=("console:piet",))
    await person(db, "Sam Secretariat", accounts=("console:sam",), roles=("secretariat",))


async def test_wg_list_shows_the_three_founding_groups(router):
    reply = await router.handle(message("/wg list", sender="anyone"))
    assert "3 working groups" in reply.text
    for name in ("Supply Chains", "PFAS", "Skills"):
        assert name in reply.text


async def test_the_answer_quotes_the_command_it_answers(router):
    reply = await router.handle(message("/whoami", event_id="evt-42"))
    assert reply.reply_to == "evt-42"


async def test_unknown_group_gets_one_line_without_the_usage_it_followed(router):
    reply = await router.handle(message("/wg info chips"))
    assert reply.text.startswith("No working group 'chips'.")
    assert "\n" not in reply.text and "Usage" not in reply.text  # the command was written right


async def test_a_command_written_wrong_gets_its_usage_line(router):
    reply = await router.handle(message("/wg info"))
    assert reply.text == "Missing <group>.\nUsage: /wg info <group…>"


async def test_a_role_the_sender_lacks_is_refused_and_nothing_is_written(router, db, alliance):
    reply = await router.handle(message("/decide budget", sender="piet"))
    assert reply.text == "Only the secretariat may do this."  # no usage line: it was written right
    assert await audit_count(db, "test.decided") == 0

    reply = await router.handle(message("/decide budget", sender="sam"))
    assert reply.text == "Decided budget."
    assert await audit_count(db, "test.decided") == 1


async def test_a_chair_acts_only_in_the_group_they_chair(router, db, alliance):
    assert (await router.handle(message("/chairdecide x", sender="jana", room="pfas"))).text == "Decided x."
    refused = await router.handle(message("/chairdecide y", sender="jana", room="skills"))
    assert refused.text.startswith("Only the chair of this working group or the secretariat")
    assert (await router.handle(message("/chairdecide z", sender="sam", room="skills"))).text == "Decided z."


async def test_strangers_and_suspended_members_are_not_members(router, db, alliance):
    from storage.models import OrganisationStatus

    gone = await member_organisation(db, "Gone BV", status=OrganisationStatus.SUSPENDED)
    await person(db, "Ex Rep", organisation=gone, accounts=("console:ex",))
    stranger = await router.handle(message("/memberdecide x", sender="stranger"))
    assert stranger.text == "Only representatives of member organisations may do this."
    suspended = await router.handle(message("/memberdecide x", sender="ex"))
    assert suspended.text == (
        "Gone BV is suspended: its representatives cannot do this until the secretariat reinstates it."
    )
    assert (await router.handle(message("/memberdecide x", sender="piet"))).text == "Decided x."


async def test_a_redelivered_event_is_answered_and_acted_on_once(router, db, alliance):
    first = await router.handle(message("/decide budget", sender="sam", event_id="tg-1001"))
    again = await router.handle(message("/decide budget", sender="sam", event_id="tg-1001"))
    assert first.text == "Decided budget."
    assert again is None
    assert await audit_count(db, "test.decided") == 1


async def test_the_same_event_delivered_twice_at_once_acts_once(router, db, alliance):
    replies = await asyncio.gather(
        *(router.handle(message("/decide x", sender="sam", event_id="mx-$abc")) for _ in range(4))
    )
    assert [r.text for r in replies if r is not None] == ["Decided x."]
    assert await audit_count(db, "test.decided") == 1


async def test_the_same_event_id_on_another_platform_is_another_event(router, db, alliance):
    from storage import people

    async with db.transaction() as session:
        sam = await people.find_person(session, "console:sam")
        await people.add_account(session, actor="t", person=sam, platform="telegram", user_id="77")
    from storage import rooms
    from storage.models import RoomPurpose

    async with db.transaction() as session:
        await rooms.bind_room(session, actor="t", platform="telegram", room_id="-100", purpose=RoomPurpose.PLENARY)
    await router.handle(message("/decide a", sender="sam", event_id="1"))
    await router.handle(message("/decide b", sender="77", room="-100", platform="telegram", event_id="1"))
    assert await audit_count(db, "test.decided") == 2


async def test_a_refused_command_is_not_retried_on_redelivery(router, db, alliance):
    assert (await router.handle(message("/decide x", sender="piet", event_id="e1"))) is not None
    assert (await router.handle(message("/decide x", sender="piet", event_id="e1"))) is None


async def test_in_a_room_the_bot_does_not_serve_it_only_answers_general_commands(router, db, alliance):
    assert await router.handle(message("/decide x", sender="sam", room="random-chat")) is None
    assert await router.handle(message("/hepl", room="random-chat")) is None
    assert "3 working groups" in (await router.handle(message("/wg list", room="random-chat"))).text
    assert await audit_count(db, "test.decided") == 0


async def test_in_a_private_chat_a_group_command_says_where_it_works(router, alliance):
    reply = await router.handle(message("/chairdecide x", sender="jana", room="dm-jana", direct=True))
    assert reply.text.startswith("/chairdecide works only in a working group's room.")


async def test_a_crash_is_logged_with_context_and_answered_without_a_traceback(router, db, caplog):
    caplog.set_level(logging.ERROR, logger="bot.router")
    reply = await router.handle(message("/crash", sender="jana", room="pfas"))
    assert reply.text.startswith("Sorry, that failed on our side and nothing was changed")
    assert "secret details" not in reply.text and "Traceback" not in reply.text
    reference = reply.text.split("reference ")[1][:8]
    logged = caplog.records[-1]
    # The command by name, with who and where; never its text (it may hold a secret ballot or a code).
    assert logged.getMessage() == f"command failed (ref {reference}): crash from stranger via console in console:pfas"
    assert logged.exc_info is not None
    assert await audit_count(db, "test.half-done") == 0


async def test_help_lists_only_what_the_sender_may_use_here(router, alliance):
    stranger = (await router.handle(message("/help", sender="nobody"))).text
    secretariat = (await router.handle(message("/help", sender="sam"))).text
    assert "\n  /wg — the working groups · list, info\n" in stranger and "/decide" not in stranger
    assert "\n  /decide — " in secretariat
    detail = (await router.handle(message("/help wg info"))).text
    assert detail.startswith("Usage: /wg info <group…>")
    assert "Who: anyone, anywhere." in detail


async def test_whoami_names_person_organisation_roles_and_accounts(router, alliance):
    text = (await router.handle(message("/whoami", sender="jana"))).text
    assert "You are Jana Novak" in text
    assert "Organisation: ACME GmbH (DE, industry), member." in text
    assert "Roles: chair of PFAS." in text
    assert "Linked accounts: console jana." in text
    assert "not yet known to the alliance" in (await router.handle(message("/whoami", sender="x"))).text


@pytest.mark.sqlite_only
def test_every_command_text_gets_an_answer_and_never_an_exception(database_url, settings):
    """Any text that looks like a command, in a bound room, gets a non-empty answer."""
    from storage.db import Database

    loop = asyncio.new_event_loop()
    db = Database.connect(database_url)
    router = Router(db, build_registry(), settings)
    counter = iter(range(10**9))

    @hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.sampled_from(["/", "!"]),
        st.sampled_from(["help", "wg", "whoami", "WG", "w", "wg@bot", "zz"]),
        st.text(max_size=40),
    )
    def check(prefix, name, rest):
        text = f"{prefix}{name} {rest}"
        reply = loop.run_until_complete(router.handle(message(text, sender="anyone", event_id=f"h{next(counter)}")))
        assert reply is not None and reply.text.strip()
        assert "Traceback" not in reply.text and "Sorry, that failed" not in reply.text

    try:
        check()
    finally:
        loop.run_until_complete(db.close())
        loop.close()


async def test_event_marks_are_forgotten_only_long_after_any_redelivery(router, db, alliance):
    from datetime import timedelta

    from sqlalchemy import update

    from storage import events
    from storage.models import ProcessedEvent, utcnow

    await router.handle(message("/decide old", sender="sam", event_id="old"))
    await router.handle(message("/decide new", sender="sam", event_id="new"))
    async with db.transaction() as session:
        await session.execute(
            update(ProcessedEvent).where(ProcessedEvent.event_id == "old").values(seen_at=utcnow() - timedelta(days=31))
        )
        assert await events.forget_before(session, utcnow() - timedelta(days=30)) == 1
    assert await router.handle(message("/decide new", sender="sam", event_id="new")) is None


@pytest.mark.parametrize("text", ["/help /", "/help !", "/help  / ", "/help //"])
async def test_help_with_only_a_prefix_lists_the_commands(router, text):
    reply = await router.handle(message(text, sender="anyone"))
    assert reply.text.startswith("Commands you can use here")


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/vote 99999999999999999999 yes", "<id> is a number such as 12, not '99999999999999999999'."),
        ("/vote 9999999999 yes", "<id> is a number such as 12, not '9999999999'."),
        ("/meeting info 3000000000.1", "'3000000000.1' is not a meeting"),
        ("/wg info pf\x00as", "That message contains a NUL character, which I cannot take"),
        ("/wg info pfas\ud800", "That message contains characters that are not valid Unicode text"),
    ],
)
async def test_input_no_database_can_take_is_refused_in_one_line(router, alliance, text, answer):
    reply = await router.handle(message(text, sender="jana", room="pfas"))
    assert reply.text.startswith(answer)
    assert "failed on our side" not in reply.text
