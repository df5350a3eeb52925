"""The record cannot be quietly changed: a ballot row edited behind wgbot's back holds the vote
instead of deciding it, `audit verify`'s checks see it, checkpoints show a cut-off log, and a
secret vote leaves nothing that says who chose what. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from bot.config import VoteSettings
from handlers.votes.deadlines import VoteDeadlines
from storage import ballot_record, checkpoints
from storage.models import AuditEntry, Ballot, BallotCast, Notice, Vote, VoteStatus, utcnow
from tests.alliance import member_organisation, person


@pytest.fixture
async def pfas(db):
    """ACME (Jana, chair) and Fab Nord (Ola) in PFAS; Sam of the secretariat."""
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=("console:ola",))
    return acme, fab


async def texts(db, like: str) -> list[str]:
    async with db.transaction() as session:
        return list(await session.scalars(select(Notice.text).where(Notice.text.like(like)).order_by(Notice.id)))


async def status_of(db, vote_id: int = 1) -> VoteStatus:
    async with db.transaction() as session:
        return (await session.get_one(Vote, vote_id, populate_existing=True)).status


async def flip_ballot(db, organisation_id: int, option: str) -> None:
    """What an attacker with database access does: no audit line, no notice."""
    async with db.transaction() as session:
        await session.execute(update(Ballot).where(Ballot.organisation_id == organisation_id).values(option=option))


async def test_a_ballot_changed_in_the_database_holds_the_vote_instead_of_deciding_it(say, db, pfas):
    _, fab = pfas
    await say('/vote open "Adopt the PFAS roadmap v2?"')
    await say("/vote 1 yes")
    await say("/vote 1 no", sender="ola")
    await flip_ballot(db, fab.id, "yes")
    refused = await say("/vote close 1")
    assert refused.startswith("Vote #1 was not closed: its ballots disagree with the audit log.")
    assert await status_of(db) == VoteStatus.HELD
    [told] = await texts(db, "Vote #1 (%) was NOT closed%")
    assert "Fab Nord AS: its ballot reads 'yes', but its audited cast says otherwise" in told
    assert await texts(db, "Vote #1 is closed%") == []  # nothing announced to the group
    async with db.transaction() as session:
        assert await session.scalar(select(AuditEntry.action).where(AuditEntry.action == "vote.held")) is not None
    assert (await say("/vote 1 no", sender="ola")).startswith("Vote #1 is held")


async def test_a_tampered_vote_reaching_its_deadline_is_held_once(say, db, pfas):
    acme, _ = pfas
    await say('/vote open "Adopt the PFAS roadmap v2?"')
    await say("/vote 1 no")
    await flip_ballot(db, acme.id, "yes")
    async with db.transaction() as session:
        await session.execute(update(Vote).values(closes_at=utcnow()))
    deadlines = VoteDeadlines(db, VoteSettings(), "Europe/Brussels")
    assert await deadlines.settle(1) is True
    assert await deadlines.settle(1) is False  # held: not planned or settled again
    assert await status_of(db) == VoteStatus.HELD
    assert len(await texts(db, "Vote #1 (%) was NOT closed%")) == 1


async def test_every_vote_is_checked_against_its_audited_casts(say, db, pfas):
    acme, _ = pfas
    await say('/vote open "Adopt the PFAS roadmap v2?"')
    await say("/vote 1 no")
    await say("/vote close 1")
    async with db.transaction() as session:
        assert await ballot_record.problems_of_every_vote(session) == []
    await flip_ballot(db, acme.id, "yes")
    async with db.transaction() as session:
        problems = await ballot_record.problems_of_every_vote(session)
    assert problems == ["vote #1: ACME GmbH: its ballot reads 'yes', but its audited cast says otherwise"]


async def test_a_checkpoint_is_posted_at_a_close_and_shows_the_log_cut_or_rewritten(say, db, pfas):
    await say('/vote open "Adopt the PFAS roadmap v2?"')
    await say("/vote 1 yes")
    await say("/vote close 1")
    async with db.transaction() as session:
        posted, _ = await checkpoints.last_published(session)
        assert posted == await checkpoints.current(session)  # it covers the close itself
        assert await checkpoints.holds(session, posted) is None
        last = await session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    [notice] = await texts(db, "Audit checkpoint (vote #1 closed)%")
    assert str(posted) in notice

    async with db.transaction() as session:
        await session.execute(update(AuditEntry).where(AuditEntry.id == last).values(hash="f" * 64))
        assert "was rewritten up to it" in await checkpoints.holds(session, posted)
        await session.execute(delete(AuditEntry).where(AuditEntry.id == last))
        assert "1 entry was removed" in await checkpoints.holds(session, posted)
        await session.execute(delete(AuditEntry))
        assert f"{posted.count} entries were removed" in await checkpoints.holds(session, posted)


async def test_a_secret_vote_keeps_no_one_s_choice_and_only_totals_after_its_close(say, db, pfas):
    acme, fab = pfas
    await say('/vote open "Elect the vice-chair?" secret')
    await say("/vote 1 yes")
    await say("/vote 1 no", sender="ola")
    async with db.transaction() as session:
        ballots = list(await session.scalars(select(Ballot)))
        assert {(b.person_id, b.platform) for b in ballots} == {(None, None)}  # no one, from nowhere
        assert list(await session.scalars(select(BallotCast))) == []
        seals = [d for d in await session.scalars(select(AuditEntry.details).where(AuditEntry.action == "ballot.cast"))]
    assert all("option" not in d and len(d["seal"]) == 64 for d in seals)

    await flip_ballot(db, fab.id, "yes")  # a secret ballot is checked against its seal, too
    assert (await say("/vote close 1")).startswith("Vote #1 was not closed")
    async with db.transaction() as session:
        await session.execute(update(Vote).values(status=VoteStatus.OPEN))
    await flip_ballot(db, fab.id, "no")
    assert (await say("/vote close 1")).startswith("Vote #1 is closed")

    async with db.transaction() as session:
        vote = await session.get_one(Vote, 1)
        assert vote.seal_key is None and vote.result["tally"] == {"yes": 1, "no": 1, "abstain": 0}
        assert list(await session.scalars(select(Ballot))) == []
        assert await ballot_record.problems_of_every_vote(session) == []
    assert "Turnout: 2 of 2" in await say("/vote status 1")


async def test_a_checkpoint_is_posted_daily_and_not_twice_a_day(say, db, pfas):
    from handlers.audit import EVERY, DailyCheckpoints

    daily = DailyCheckpoints(db)
    [job] = await daily.plan()
    async with db.transaction() as session:
        began = await checkpoints.began(session)
    assert job.at == began + EVERY > utcnow()  # a new log: its first checkpoint a day after it began
    async with db.transaction() as session:
        await session.execute(update(AuditEntry).values(at=utcnow() - EVERY))
    [job] = await daily.plan()
    assert job.at <= utcnow()  # a day old with no checkpoint yet: one now
    assert await job.action() is True
    assert await daily.publish() is False  # once a day, however often it fires
    [job] = await daily.plan()
    assert job.at >= utcnow() + EVERY - timedelta(minutes=1)
    assert len(await texts(db, "Audit checkpoint (daily)%")) == 1
