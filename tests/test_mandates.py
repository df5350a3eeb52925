"""Mandates as the database keeps them, on SQLite and PostgreSQL: Fab Nord mandates ACME for a
vote; ACME casts Fab Nord's ballot as well as its own; Fab Nord then votes itself and its own
ballot replaces the mandated one; the audit log holds every act and `audit verify` agrees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage import audit, ballot_record, mandates, organisations, votes
from storage.errors import Refused
from storage.groups import find_group
from storage.models import AuditEntry, Ballot, Mandate, MandateEnd, Notice, Organisation, OrganisationStatus, utcnow
from storage.people import identify
from storage.rules.voting import Majority
from tests.alliance import member_organisation, person

LIMIT = 1


@pytest.fixture
async def alliance(db):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    micro = await member_organisation(db, "Microelectrónica Ibérica SL", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=("console:ola",))
    await person(db, "Lucía Pérez", organisation=micro, accounts=("console:lucia",))
    async with db.transaction() as session:
        jana = await identify(session, "console", "jana", "Jana")
        rules = votes.VoteRules(
            "Adopt the roadmap?", ("yes", "no", "abstain"), utcnow() + timedelta(days=3), 0.5, Majority.SIMPLE
        )
        vote = await votes.open_vote(
            session, actor=jana, group=await find_group(session, "pfas"), rules=rules, now=utcnow()
        )
    return acme, fab, micro, vote.id


async def actor(session, user: str):
    return await identify(session, "console", user, user)


async def for_an_hour(db, holder: Organisation, now) -> Mandate:
    """Ola's Fab Nord mandates `holder` for the next hour."""
    async with db.transaction() as session:
        ola = await actor(session, "ola")
        return await mandates.give(
            session, actor=ola, holder=holder, now=now, limit=LIMIT, until=now + timedelta(hours=1)
        )


async def ballot_of(db, vote_id: int, organisation: Organisation) -> tuple[str, int | None] | None:
    async with db.transaction() as session:
        row = await session.execute(
            select(Ballot.option, Ballot.mandate_id).where(
                Ballot.vote_id == vote_id, Ballot.organisation_id == organisation.id
            )
        )
        found = row.first()
        return (found[0], found[1]) if found else None


async def test_a_mandated_ballot_counts_for_the_giver_until_the_giver_votes_itself(db, alliance):
    acme, fab, _, vote_id = alliance
    now = utcnow()
    async with db.transaction() as session:
        mandate = await mandates.give(
            session, actor=await actor(session, "ola"), holder=acme, now=now, limit=LIMIT, vote_id=vote_id
        )
    async with db.transaction() as session:
        jana = await actor(session, "jana")
        own = await votes.cast_ballot(session, vote_id, "yes", jana, now)
        by = await mandates.in_force_for(session, holder=jana, giver=fab, vote_id=vote_id, now=now)
        cast = await votes.cast_ballot(session, vote_id, "no", jana, now, by_mandate=by)
    assert own.organisation_name == "ACME GmbH" and own.mandate_id is None
    assert (cast.organisation_name, cast.option, cast.mandate_id) == ("Fab Nord AS", "no", mandate.id)
    assert await ballot_of(db, vote_id, fab) == ("no", mandate.id)

    async with db.transaction() as session:
        itself = await votes.cast_ballot(session, vote_id, "abstain", await actor(session, "ola"), now)
    assert itself.overrode_mandate == mandate.id  # ACME is told its ballot for Fab Nord no longer counts
    assert await ballot_of(db, vote_id, fab) == ("abstain", None)
    with pytest.raises(Refused, match="Fab Nord AS has voted itself; its own ballot counts."):
        async with db.transaction() as session:
            jana = await actor(session, "jana")
            by = await mandates.in_force_for(session, holder=jana, giver=fab, vote_id=vote_id, now=now)
            await votes.cast_ballot(session, vote_id, "yes", jana, now, by_mandate=by)
    assert await ballot_of(db, vote_id, fab) == ("abstain", None)

    async with db.transaction() as session:
        closed = await votes.close_vote(session, vote_id, by="t", now=now + timedelta(minutes=1))
        assert closed is not None and closed[1].tally == {"yes": 1, "no": 0, "abstain": 1}
        assert await ballot_record.problems_of_every_vote(session) == []
        assert (await audit.verify(session)).intact
        ended = await session.get(Mandate, mandate.id)
        assert ended is not None and ended.ended_how == MandateEnd.CLOSED
        acts = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.subject == f"mandate:{mandate.id}").order_by(AuditEntry.id)
        )
        assert list(acts) == ["mandate.given", "mandate.closed"]
        mandated = await session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "ballot.cast").order_by(AuditEntry.id)
        )
        assert [d.get("mandate_id") for d in mandated] == [None, mandate.id, None]
        record = await votes.export_record(session, vote_id)
        assert [c["mandate_id"] for c in record["casts"]] == [None, mandate.id, None]
        assert [(m["id"], m["giver_id"], m["holder_id"], m["ended_how"]) for m in record["mandates"]] == [
            (mandate.id, fab.id, acme.id, "closed")
        ]


async def test_no_mandate_no_chain_no_second_holder_and_a_suspension_ends_it(db, alliance):
    acme, fab, micro, vote_id = alliance
    now = utcnow()
    async with db.transaction() as session:
        jana = await actor(session, "jana")
        with pytest.raises(Refused, match="You hold no mandate from Fab Nord AS for this vote."):
            await mandates.in_force_for(session, holder=jana, giver=fab, vote_id=vote_id, now=now)
    async with db.transaction() as session:
        mandate = await mandates.give(
            session, actor=await actor(session, "ola"), holder=acme, now=now, limit=LIMIT, until=now + timedelta(days=7)
        )
    for user, holder, refusal in (
        ("jana", micro, "ACME GmbH holds a mandate for these votes, so it cannot give its own."),
        ("lucia", fab, "Fab Nord AS has given its own mandate for these votes, so it cannot hold one."),
        ("lucia", acme, "ACME GmbH already holds 1 mandate for these votes, the most one organisation may hold."),
    ):
        with pytest.raises(Refused, match=refusal):
            async with db.transaction() as session:
                await mandates.give(
                    session, actor=await actor(session, user), holder=holder, now=now, limit=LIMIT, vote_id=vote_id
                )

    async with db.transaction() as session:
        organisation = await session.get(Organisation, fab.id)
        assert organisation is not None
        await organisations.set_status(
            session, actor="t", organisation=organisation, status=OrganisationStatus.SUSPENDED
        )
    async with db.transaction() as session:
        ended = await session.get(Mandate, mandate.id)
        assert ended is not None and ended.ended_how == MandateEnd.SUSPENDED
        organisation = await session.get(Organisation, fab.id)
        assert organisation is not None
        await organisations.set_status(session, actor="t", organisation=organisation, status=OrganisationStatus.MEMBER)
    with pytest.raises(Refused, match="You hold no mandate from Fab Nord AS"):  # reinstated, it must give again
        async with db.transaction() as session:
            await mandates.in_force_for(
                session, holder=await actor(session, "jana"), giver=fab, vote_id=vote_id, now=now
            )


async def test_a_mandate_until_a_date_ends_at_that_date_and_says_so_in_the_log(db, alliance):
    acme, fab, _, vote_id = alliance
    now = utcnow()
    mandate = await for_an_hour(db, acme, now)
    async with db.transaction() as session:
        jana = await actor(session, "jana")
        assert (
            await mandates.in_force_for(session, holder=jana, giver=fab, vote_id=vote_id, now=now)
        ).mandate_id == mandate.id
    later = now + timedelta(hours=2)
    with pytest.raises(Refused, match="You hold no mandate from Fab Nord AS"):
        async with db.transaction() as session:
            await mandates.in_force_for(
                session, holder=await actor(session, "jana"), giver=fab, vote_id=vote_id, now=later
            )
    async with db.transaction() as session:
        assert await mandates.of_organisation(session, acme.id, later) == []
        ended = await session.get(Mandate, mandate.id)
        assert ended is not None and ended.ended_how == MandateEnd.EXPIRED and ended.ended_at == mandate.until
        assert (await audit.verify(session)).intact


async def told(db, user: str) -> list[str]:
    """The private notices queued for a console user, oldest first."""
    async with db.transaction() as session:
        found = await session.scalars(
            select(Notice.text).where(Notice.target == user, Notice.direct.is_(True)).order_by(Notice.id)
        )
        return list(found)


async def prompted(db, user: str) -> list[tuple[str, list[list[str]]]]:
    """The private notices with buttons queued for a console user: (text, buttons)."""
    async with db.transaction() as session:
        found = await session.execute(
            select(Notice.text, Notice.buttons)
            .where(Notice.target == user, Notice.direct.is_(True), Notice.buttons.is_not(None))
            .order_by(Notice.id)
        )
        return [(text, buttons) for text, buttons in found.tuples()]


async def test_the_chat_way_fab_nord_mandates_acme_which_casts_both_ballots_until_fab_nord_votes_itself(db, say):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Piet Jansen", organisation=acme, accounts=("console:piet",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=("console:ola",))
    await person(db, "Kari Nordmann", organisation=fab, accounts=("console:kari",))
    assert (await say('/vote open "Adopt the roadmap?"')).startswith("Vote #1 is open")
    assert await say("/mandate give ACME GmbH vote=1", sender="ola") == "Give a mandate in a private chat with me."
    given = await say("/mandate give ACME GmbH vote=1", sender="ola", room="ola", direct=True)
    assert given == "Mandate #1: ACME GmbH may cast Fab Nord AS's ballot in vote #1. /mandate revoke 1 ends it."
    assert (await told(db, "piet"))[-2].startswith("Fab Nord AS gave ACME GmbH a mandate (#1) to cast its ballot")
    text, buttons = (await prompted(db, "piet"))[-1]
    assert (
        text.startswith("Vote #1 (Adopt the roadmap?) is open until ") and "You hold Fab Nord AS's mandate #1" in text
    )
    assert buttons == [
        ["yes", "/vote 1 yes for=#2"],
        ["no", "/vote 1 no for=#2"],
        ["abstain", "/vote 1 abstain for=#2"],
    ]
    assert (await told(db, "kari"))[-1].startswith("Ola Nordmann gave ACME GmbH a mandate (#1)")
    assert await told(db, "ola") == []  # the one who gave it knows
    assert await say("/mandate list", sender="piet", room="piet", direct=True) == (
        "#1 ACME GmbH casts Fab Nord AS's ballot in vote #1"
    )
    await person(db, "Sam Secretary", accounts=("console:sam",), roles=("secretariat",))
    assert await say("/mandate list all", sender="sam", room="sam", direct=True) == (
        "#1 ACME GmbH casts Fab Nord AS's ballot in vote #1"
    )
    assert await say("/mandate list all", sender="piet") == "Only the secretariat sees every mandate."

    pending = await say("/vote pending 1", room="jana", direct=True)
    assert "• Fab Nord AS — Kari Nordmann, Ola Nordmann; or ACME GmbH by mandate #1" in pending.splitlines()
    assert await say("/vote 1 yes") == "Recorded: yes for ACME GmbH"
    assert (
        await say('/vote 1 no for="Fab Nord AS"') == "Recorded: no for Fab Nord AS, cast by ACME GmbH under mandate #1"
    )
    status = await say("/vote status 1")
    assert "\n1 of the 2 ballots was cast by mandate.\n" in status
    assert status.endswith("\nBy mandate: Fab Nord AS by ACME GmbH")  # which ones, while the vote is open
    assert await say("/vote 1 abstain", sender="ola") == "Recorded: abstain for Fab Nord AS (replaces no by Jana Novak)"
    assert (await told(db, "jana"))[-1] == (
        "Fab Nord AS voted itself in vote #1: its own ballot counts, not the one you cast under mandate #1."
    )
    assert await say('/vote 1 yes for="Fab Nord AS"') == "Fab Nord AS has voted itself; its own ballot counts."
    assert (await say("/vote 1 yes for=#2", sender="piet")).startswith("Fab Nord AS has voted itself")
    assert "by mandate" not in await say("/vote status 1")  # Fab Nord's own ballot counts now
    assert await say("/mandate revoke 1", sender="piet") == "Mandate #1 is revoked."
    assert await say('/vote 1 yes for="Fab Nord AS"') == "You hold no mandate from Fab Nord AS for this vote."

    assert (await say('/vote open "Meet in Lisbon?"')).startswith("Vote #2 is open")
    await say("/mandate give ACME GmbH vote=2", sender="kari", room="kari", direct=True)
    assert (await say("/vote 2 yes for=#2", sender="piet")).startswith("Recorded: yes for Fab Nord AS, cast by ACME")
    await say("/vote 2 yes")
    await say("/vote close 2")
    assert "\n1 of the 2 ballots was cast by mandate.\n" in await say("/vote status 2")  # as recorded at the close
    assert "1 of the 2 ballots was cast by mandate." in await say("/decisions")
    assert await say("/mandate list", sender="kari", room="kari", direct=True) == "No mandate is in force."

    await say("/mandate give ACME GmbH until=7d", sender="kari", room="kari", direct=True)
    before = len(await prompted(db, "jana"))
    assert (await say('/vote open "Budget 2027?"')).startswith("Vote #3 is open")  # a vote the mandate covers
    text, buttons = (await prompted(db, "jana"))[-1]
    assert len(await prompted(db, "jana")) == before + 1 and text.startswith("Vote #3 (Budget 2027?) is open until")
    assert "You hold Fab Nord AS's mandate #3" in text and buttons[0] == ["yes", "/vote 3 yes for=#2"]
    pressed = await say(buttons[1][1], pressed=True)
    assert pressed == "Recorded: no for Fab Nord AS, cast by ACME GmbH under mandate #3"

    assert (await say('/vote open "Elect the vice-chair?" secret')).startswith("Vote #4 is open")
    heard_by_fab = len(await told(db, "kari")) + len(await told(db, "ola"))
    secret = await say("/vote 4 yes for=#2", room="jana", direct=True)
    assert secret == "Recorded: yes for Fab Nord AS, cast by ACME GmbH under mandate #3"
    status = await say("/vote status 4")
    assert "1 of the 1 ballots was cast by mandate." in status and "By mandate:" not in status and "yes 1" not in status
    assert len(await told(db, "kari")) + len(await told(db, "ola")) == heard_by_fab  # the giver learns no choice


async def test_a_mandate_s_date_is_planned_and_at_it_both_organisations_hear_it_ended(db, alliance):
    from sqlalchemy import update

    from handlers.votes.mandates import MandateDates

    acme, fab, _, _ = alliance
    now = utcnow()
    mandate = await for_an_hour(db, acme, now)
    planner = MandateDates(db, "en")
    [job] = await planner.plan()
    assert (job.id, job.at, job.key) == (f"mandate:end:{mandate.id}", mandate.until, mandate.id)
    assert await planner.end() is False  # not yet
    async with db.transaction() as session:  # an hour later
        await session.execute(update(Mandate).where(Mandate.id == mandate.id).values(until=now - timedelta(seconds=1)))
    assert await planner.end() is True
    ended = "Mandate #1 (ACME GmbH casting Fab Nord AS's ballot) ended at its date."
    assert (await told(db, "jana"))[-1] == ended and (await told(db, "ola"))[-1] == ended
    assert await planner.plan() == [] and await planner.end() is False  # once
    async with db.transaction() as session:
        acts = await session.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"mandate:{mandate.id}"))
        assert list(acts) == ["mandate.given", "mandate.expired"]


async def test_a_mandate_revoked_while_its_ballot_is_on_its_way_casts_nothing(db, alliance):
    """The holder found the mandate in force; the giver revoked it before the cast took its turn
    on the log: the cast reads the revocation there and is refused."""
    acme, fab, _, vote_id = alliance
    now = utcnow()
    mandate = await for_an_hour(db, acme, now)
    async with db.transaction() as session:
        jana = await actor(session, "jana")
        by = await mandates.in_force_for(session, holder=jana, giver=fab, vote_id=vote_id, now=now)
    async with db.transaction() as session:
        await mandates.revoke(session, actor=await actor(session, "ola"), mandate_id=mandate.id, now=now)
    with pytest.raises(Refused, match="You hold no mandate from Fab Nord AS for this vote."):
        async with db.transaction() as session:
            await votes.cast_ballot(session, vote_id, "yes", await actor(session, "jana"), now, by_mandate=by)
    assert await ballot_of(db, vote_id, fab) is None
