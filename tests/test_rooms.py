"""Binding a room from the room itself: the secretariat says which group it serves; anyone may
ask; every binding and unbinding is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage import groups, rooms
from storage.models import AuditEntry
from tests.alliance import member_organisation, person

LOBBY = "matrix-lobby"  # a room the bot is in, bound to nothing yet


@pytest.fixture
async def people(db):
    async with db.transaction() as session:
        await groups.seed_founding_groups(session)
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Sam Secretariat", accounts=("console:sam",), roles=("secretariat",))


async def test_the_secretariat_binds_a_room_from_the_room_and_it_serves_that_group(db, say, people):
    assert await say("/room info", sender="sam", room=LOBBY) == (
        f"This room (console:{LOBBY}) serves no group yet. The secretariat binds it with /room bind <group>."
    )
    assert await say("/room bind pfas", sender="sam", room=LOBBY) == (
        "This room is now the PFAS working group's room. /help shows what can be done here."
    )
    assert (
        await say("/room info", sender="jana", room=LOBBY)
        == f"This room (console:{LOBBY}) serves the PFAS working group."
    )
    assert (await say('/vote open "Adopt the roadmap?"', room=LOBBY)).startswith("Vote #1 is open")
    assert (await say("/room bind skills", sender="sam", room=LOBBY)) == (
        f"console:{LOBBY} is already bound to the PFAS working group; unbind it first."
    )
    assert await say("/room unbind", sender="sam", room=LOBBY) == (
        "This room no longer serves the PFAS working group. /room bind <group> binds it again."
    )
    assert (
        await say("/room bind plenary", sender="sam", room=LOBBY)
        == "This room is now the plenary's room. /help shows what can be done here."
    )
    async with db.transaction() as session:
        logged = (
            await session.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"room:console:{LOBBY}"))
        ).all()
        binding = await rooms.binding_for(session, "console", LOBBY)
    assert list(logged) == ["room.bound", "room.unbound", "room.bound"]
    assert binding is not None and binding.purpose == "plenary"


async def test_only_the_secretariat_binds_and_never_a_private_chat(db, say, people):
    assert (await say("/room bind pfas", sender="jana", room=LOBBY)).startswith("Only the secretariat may do this.")
    assert (await say("/room unbind", sender="jana", room="pfas")).startswith("Only the secretariat may do this.")
    assert (await say("/room bind pfas", sender="sam", room="direct:sam", direct=True)).startswith(
        "A private chat serves no group: send this in the room (or topic) you mean."
    )
    assert (await say("/room bind nowhere", sender="sam", room=LOBBY)).startswith("No working group 'nowhere'.")
    assert await say("/room bind", sender="sam", room=LOBBY) == ("Missing <group>.\nUsage: /room bind <group…>")
    async with db.transaction() as session:
        assert await rooms.binding_for(session, "console", LOBBY) is None
