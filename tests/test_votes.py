"""Votes are why members trust the bot: one ballot per organisation, whatever happens at once,
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.app import App
from bot.live import LiveMessages
from bot.postman import Postman
from bot.router import Router
from bot.timeparse import shown
from bot.transports.base import MessageRef
from handlers import AREAS, build_registry
from handlers.votes.live import LIVE
from storage import audit, rooms, votes
from storage.groups import find_group
from storage.models import (
    AuditEntry,
    Ballot,
    BallotCast,
    Notice,
    Organisation,
    OrganisationStatus,
    RoomPurpose,
    Vote,
    VoteStatus,
    utcnow,
)
from storage.platforms import private_chat_key
from storage.rules.access import Actor
from storage.rules.voting import Majority
from storage.transport_state import TransportMemory
from tests.alliance import member_organisation, message, person


@pytest.fixture
async def pfas(db):
    """PFAS with ACME (Jana chairs, Piet also represents it, Jana on two platforms) and Fab Nord."""
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana", "telegram:1001"), roles=("chair:pfas",))
    await person(db, "Piet Jansen", organisation=acme, accounts=("matrix:@piet:example.org",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=("console:ola",))
    async with db.transaction() as session:
        group = await find_group(session, "pfas")
        await rooms.bind_room(
            session, actor="t", platform="telegram", room_id="-100", purpose=RoomPurpose.GROUP, group=group
        )
    return acme, fab


async def open_roadmap_vote(say) -> int:
    reply = await say('/vote open "Adopt the PFAS roadmap v2?" quorum=50% closes=3d')
    assert reply.startswith("Vote #1 is open until")
    return 1


async def ballots(db, vote_id=1) -> list[tuple[int, str]]:
    async with db.transaction() as session:
        return list(
            (
                await session.execute(select(Ballot.organisation_id, Ballot.option).where(Ballot.vote_id == vote_id))
            ).tuples()
        )


async def casts(db, vote_id=1) -> list[str]:
    async with db.transaction() as session:
        return list(
            await session.scalars(
                select(BallotCast.option).where(BallotCast.vote_id == vote_id).order_by(BallotCast.id)
            )
        )


async def test_opening_posts_the_vote_with_buttons_in_every_room_of_the_group(say, db, pfas):
    await open_roadmap_vote(say)
    async with db.transaction() as session:
        posted = list(await session.scalars(select(Notice).order_by(Notice.id)))
    assert {(n.platform, n.target) for n in posted} == {("console", "pfas"), ("telegram", "-100")}
    assert posted[0].text.startswith("Vote #1 (PFAS): Adopt the PFAS roadmap v2?")
    assert "(2 in the electorate)" in posted[0].text
    assert posted[0].buttons == [["yes", "/vote 1 yes"], ["no", "/vote 1 no"], ["abstain", "/vote 1 abstain"]]


async def test_a_second_representative_replaces_the_first_and_both_are_kept(say, db, pfas):
    await open_roadmap_vote(say)
    assert await say("/vote 1 yes", sender="jana") == "Recorded: yes for ACME GmbH"
    changed = await say("/vote 1 no", sender="@piet:example.org", platform="matrix", room="dm", direct=True)
    assert changed == "Recorded: no for ACME GmbH (replaces yes by Jana Novak)"
    acme, _ = pfas
    assert await ballots(db) == [(acme.id, "no")]
    assert await casts(db) == ["yes", "no"]


async def test_two_representatives_voting_at_the_same_instant_leave_one_ballot(db, pfas, say):
    await open_roadmap_vote(say)
    for attempt in range(5):  # several rounds, so a race has every chance to show
        replies = await asyncio.gather(
            say(f"/vote 1 {'yes' if attempt % 2 else 'no'}", sender="1001", platform="telegram", room="-100"),
            say(
                f"/vote 1 {'no' if attempt % 2 else 'yes'}",
                sender="@piet:example.org",
                platform="matrix",
                room="dm",
                direct=True,
            ),
        )
        assert all(r.startswith("Recorded:") for r in replies), replies
    acme, _ = pfas
    counted = await ballots(db)
    assert len(counted) == 1 and counted[0][0] == acme.id
    assert len(await casts(db)) == 10
    async with db.transaction() as session:
        outcome = await votes.outcome(session, await votes.find_vote(session, 1))
    assert outcome.turnout == 1


async def test_a_burst_of_ballots_shares_commits_yet_each_is_answered_and_undone_alone(db, pfas, say):
    """Eight representatives press at once: their commands share durable commits (see
    storage/group_commit.py). Each still gets its own answer, the one with a wrong option is
    refused and leaves nothing, and every ballot taken is in the audit chain, which holds."""
    for n in range(8):
        organisation = await member_organisation(db, f"Member {n}", joins=("pfas",))
        await person(db, f"Voter {n}", organisation=organisation, accounts=(f"telegram:{3000 + n}",))
    await open_roadmap_vote(say)
    texts = [f"/vote 1 {'yes' if n % 2 else 'no'}" for n in range(8)]
    texts[3] = "/vote 1 perhaps"
    replies = await asyncio.gather(
        *(say(text, sender=str(3000 + n), platform="telegram", room="-100") for n, text in enumerate(texts))
    )
    assert replies[3].startswith("'perhaps' is not an option of vote #1"), replies[3]
    assert [r for n, r in enumerate(replies) if n != 3] == [
        f"Recorded: {'yes' if n % 2 else 'no'} for Member {n}" for n in range(8) if n != 3
    ]
    async with db.transaction() as session:
        taken = dict(
            (
                await session.execute(
                    select(Organisation.name, Ballot.option).join(Ballot, Ballot.organisation_id == Organisation.id)
                )
            )
            .tuples()
            .all()
        )
        audited = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "ballot.cast")
        )
        chain = await audit.verify(session)
    assert taken == {f"Member {n}": "yes" if n % 2 else "no" for n in range(8) if n != 3}
    assert audited == 7 and chain.intact, chain.describe()


async def test_the_same_press_delivered_twice_is_counted_once(router, db, pfas, say):
    await open_roadmap_vote(say)
    press = message("/vote 1 yes", sender="1001", platform="telegram", room="-100", event_id="callback:77")
    first, again = await asyncio.gather(router.handle(press), router.handle(press))
    assert [r for r in (first, again) if r is not None][0].text == "Recorded: yes for ACME GmbH"
    assert (first is None) != (again is None)
    assert await casts(db) == ["yes"]


async def test_a_ballot_after_the_deadline_is_refused_before_the_scheduler_closes(say, db, pfas):
    await open_roadmap_vote(say)
    async with db.transaction() as session:
        await session.execute(update(Vote).values(closes_at=utcnow() - timedelta(seconds=1)))
    refused = await say("/vote 1 yes")
    assert refused.startswith("Vote #1 closed at its deadline; ballots are no longer taken.")
    assert await ballots(db) == []


async def test_the_electorate_is_frozen_and_only_members_vote(say, db, pfas):
    await open_roadmap_vote(say)
    late = await member_organisation(db, "Late Corp", joins=("pfas",))
    await person(db, "Lou Late", organisation=late, accounts=("console:lou",))
    assert (await say("/vote 1 yes", sender="lou")).startswith("Late Corp is not in the electorate of vote #1.")
    visitor = await member_organisation(db, "Visiting Lab", status=OrganisationStatus.NON_MEMBER)
    await person(db, "Gus Guest", organisation=visitor, accounts=("console:gus",))
    assert (await say("/vote 1 yes", sender="gus")).startswith("Only representatives of member organisations")
    assert (await say("/vote 1 yes", sender="stranger")).startswith("Only representatives of member organisations")
    assert (await say("/vote 1 maybe", sender="ola")).startswith(
        "'maybe' is not an option of vote #1: yes, no or abstain."
    )
    assert await ballots(db) == []


async def test_a_suspended_organisation_cannot_vote(say, db, pfas):
    await person(db, "Sam", accounts=("console:sam",), roles=("secretariat",))
    await open_roadmap_vote(say)
    await say('/member suspend "Fab Nord AS" unpaid', sender="sam")
    assert await say("/vote 1 yes", sender="ola") == (
        "Fab Nord AS is suspended: its representatives cannot do this until the secretariat reinstates it."
    )


async def test_a_secret_vote_shows_no_tally_until_it_closes_and_never_who(say, db, pfas):
    await say('/vote open "Elect the vice-chair?" secret')
    await say("/vote 1 yes")
    await say("/vote 1 yes", sender="ola")
    status = await say("/vote status 1", sender="ola")
    assert "Turnout: 2 of 2 organisations" in status and "Tally" not in status
    closed = await say("/vote close 1")
    assert closed.startswith("Vote #1 is closed")
    async with db.transaction() as session:
        result = (await session.scalars(select(Notice.text).where(Notice.text.like("Vote #1 is closed%")))).first()
        cast_audit = list(await session.scalars(select(AuditEntry.details).where(AuditEntry.action == "ballot.cast")))
    assert "Tally: yes 2 · no 0 · abstain 0" in result and "ACME" not in result and "Outcome: ADOPTED." in result
    assert all("option" not in details for details in cast_audit)


async def result_of(db, vote_id=1) -> str:
    async with db.transaction() as session:
        return (
            await session.scalars(select(Notice.text).where(Notice.text.like(f"Vote #{vote_id} is closed%")))
        ).first()


@pytest.mark.parametrize(
    ("ballots", "verdict"),
    [
        ({"jana": "no", "ola": "abstain"}, "REJECTED — no won"),
        ({"jana": "yes", "ola": "no"}, "NOT ADOPTED — no simple majority"),
        ({}, "NOT ADOPTED — quorum not met"),
        ({"jana": "yes"}, "ADOPTED"),
    ],
)
async def test_the_result_says_what_was_decided_and_why(say, db, pfas, ballots, verdict):
    await say('/vote open "Adopt the PFAS roadmap v2?" quorum=50%')
    for sender, option in ballots.items():
        await say(f"/vote 1 {option}", sender=sender)
    await say("/vote close 1")
    result = await result_of(db)
    assert f"Outcome: {verdict}." in result
    tally = next(line for line in result.splitlines() if line.startswith("Tally: ")).removeprefix("Tally: ")
    assert result.count(tally) == 1  # each tally once


async def test_options_that_read_the_same_are_refused_and_a_ballot_matches_however_it_is_typed(say, db, pfas):
    refused = await say('/vote open "Adopt it?" options="Yes|yes|yes\u200b"')
    assert refused.startswith("The options 'Yes' and 'yes' read as the same option")
    assert (await say('/vote open "Adopt it?" options="Ｙes|ye\u200bs|no"')).startswith("The options 'Ｙes' and")
    assert (await say('/vote open "Adopt it?" options="yes|no"')).startswith("Vote #1 is open")
    assert await say("/vote 1 YE\u200bS") == "Recorded: yes for ACME GmbH"


async def receipts(db, target: str) -> list[str]:
    async with db.transaction() as session:
        found = select(Notice.text).where(Notice.target == target, Notice.direct.is_(True)).order_by(Notice.id)
        return list(await session.scalars(found))


async def test_a_secret_ballot_typed_in_a_room_is_taken_down_and_its_receipt_goes_to_the_voter_alone(
    router, say, db, pfas
):
    await say('/vote open "Elect the vice-chair?" secret')
    typed = await router.handle(message("/vote 1 yes", sender="jana", room="pfas"))
    assert typed.text == "A ballot for vote #1 was received; the receipt is in the voter's private chat with me."
    assert typed.withdraw and "yes" not in typed.text and "ACME" not in typed.text
    pressed = await router.handle(message("/vote 1 no", sender="ola", room="pfas", pressed=True))
    assert (pressed.text, pressed.private) == ("Recorded: no for Fab Nord AS", True)  # a toast only Ola sees
    await router.handle(message("/vote 1 abstain", sender="jana", room="pfas"))
    assert await receipts(db, "jana") == [
        "Recorded: yes for ACME GmbH",
        "Recorded: abstain for ACME GmbH (replaces your organisation's earlier ballot)",
    ]
    await say("/vote close 1")
    erased = "(a secret ballot's receipt, erased when its vote closed)"
    assert await receipts(db, "jana") == [erased, erased]  # a secret vote's receipts go with its ballots


async def test_a_hidden_ballot_is_answered_privately_too(router, say, db, pfas):
    await say('/vote open "Adopt it?" hidden')
    typed = await router.handle(message("/vote 1 yes", sender="ola", room="pfas"))
    assert typed.withdraw and typed.text.startswith("A ballot for vote #1 was received")
    assert await receipts(db, "ola") == ["Recorded: yes for Fab Nord AS"]
    in_private = await router.handle(message("/vote 1 no", sender="ola", room="dm-ola", direct=True))
    assert in_private.text == "Recorded: no for Fab Nord AS (replaces yes by Ola Nordmann)"


async def test_only_the_opener_or_the_secretariat_ends_a_vote_early(say, db, pfas):
    await open_roadmap_vote(say)
    assert (await say("/vote close 1", sender="ola")).startswith(
        "Only whoever opened vote #1, or the secretariat, may end it early."
    )
    assert (await say("/vote cancel 1")).startswith("Vote #1 is cancelled.")
    assert (await say("/vote 1 yes", sender="ola")).startswith("Vote #1 is cancelled; ballots are no longer taken.")


async def test_bad_vote_commands_say_what_is_wrong(say, db, pfas):
    assert (await say('/vote open "Q?" closes=yesterday')).startswith("'yesterday' is in the past.")
    assert (await say('/vote open "Q?" options=yes')).startswith("A vote needs at least two different options.")
    eleven = "|".join(f"City {n}" for n in range(11))
    assert (await say(f'/vote open "Where?" options="{eleven}"')).startswith("A vote offers at most 10 options")
    assert (await say('/vote open "Q?" majority=most')).startswith("majority= is one of simple, absolute")
    assert (await say('/vote open "Q?" quorum=lots')).startswith("quorum= is a share such as 50% or 0.5")
    assert (await say("/vote 9 yes")).startswith("No vote '9'; /vote list shows them.")
    assert (await say('/vote open "Q?"', sender="ola")).startswith("Only the chair of this working group")


async def test_the_deadline_closes_the_vote_and_a_missed_one_closes_at_start(db, settings, pfas, say):
    say = say.using(Router(db, build_registry(), settings))
    await open_roadmap_vote(say)
    await say("/vote 1 yes")
    await say("/vote 1 yes", sender="ola")
    async with db.transaction() as session:  # the deadline passed while the bot was down
        await session.execute(update(Vote).values(closes_at=utcnow() - timedelta(minutes=5)))
    app = App(settings, db, [], AREAS)
    running = asyncio.create_task(app.run())
    await app.started.wait()
    async with asyncio.timeout(10):
        while True:
            async with db.transaction() as session:
                vote = await session.get(Vote, 1)
                if vote.status == VoteStatus.CLOSED:
                    break
            await asyncio.sleep(0.05)
    # A second vote with a deadline a moment away closes on time while the bot runs.
    async with db.transaction() as session:
        soon = await votes.open_vote(
            session,
            actor=Actor("console", "jana", "Jana", person_id=1),
            group=await find_group(session, "pfas"),
            rules=votes.VoteRules("Quick?", ("yes", "no"), utcnow() + timedelta(seconds=1), 0.5, Majority.SIMPLE),
            now=utcnow(),
        )
    await app.scheduler.sync()
    async with asyncio.timeout(10):
        while True:
            async with db.transaction() as session:
                if (await session.get(Vote, soon.id, populate_existing=True)).status == VoteStatus.CLOSED:
                    break
            await asyncio.sleep(0.05)
    app.request_stop()
    await running
    assert vote.result["passed"] is True and vote.result["tally"] == {"yes": 2, "no": 0, "abstain": 0}


async def test_a_failed_quorum_extends_the_vote_once_and_reminds_the_non_voters(say, db, pfas):
    from bot.config import VoteSettings
    from handlers.votes.deadlines import VoteDeadlines

    await say('/vote open "Adopt the PFAS roadmap v2?" quorum=100%')
    await say("/vote 1 yes")
    deadlines = VoteDeadlines(db, VoteSettings(quorum_failure="extend", extend_days=3), "Europe/Brussels")
    async with db.transaction() as session:
        await session.execute(update(Vote).values(closes_at=utcnow() - timedelta(seconds=1)))
    await deadlines.settle(1)
    async with db.transaction() as session:
        vote = await session.get(Vote, 1)
        reminders = (
            (
                await session.execute(
                    select(Notice.target, Notice.text).where(Notice.text.like("Vote #1 (%did not reach its quorum%"))
                )
            )
            .tuples()
            .all()
        )
    assert vote.status == VoteStatus.OPEN and vote.extended and vote.closes_at > utcnow() + timedelta(days=2)
    assert [target for target, _ in reminders] == ["ola"]  # Fab Nord's representative; ACME has voted
    assert f"extended until {shown(vote.closes_at, 'Europe/Brussels')}." in reminders[0][1]  # Ola set no zone
    async with db.transaction() as session:
        await session.execute(update(Vote).values(closes_at=utcnow() - timedelta(seconds=1)))
    await deadlines.settle(1)  # only once: now it closes, quorum or not
    async with db.transaction() as session:
        vote = await session.get(Vote, 1)
        posted = (await session.scalars(select(Notice.text).where(Notice.text.like("Vote #1 is closed%")))).first()
    assert vote.status == VoteStatus.CLOSED and vote.result["quorum_met"] is False
    assert "Outcome: NOT ADOPTED — quorum not met." in posted


async def test_non_voters_are_reminded_once_before_the_deadline(say, db, pfas):
    from bot.config import VoteSettings
    from bot.scheduler import Scheduler
    from handlers.votes.deadlines import VoteDeadlines

    await say("/tz Europe/Lisbon", sender="ola")
    await say('/vote open "Adopt the PFAS roadmap v2?" closes=3h')
    await say("/vote 1 yes")
    deadlines = VoteDeadlines(db, VoteSettings(nudge_hours=[1.0, 24.0]), "Europe/Brussels")
    scheduler = Scheduler([deadlines], after_change=lambda: None)
    await scheduler.start()
    try:
        assert scheduler.job_ids() == ["vote:close:1", "vote:nudge:1:1.0"]
        await asyncio.gather(deadlines.nudge(1, 1.0), deadlines.nudge(1, 1.0))
        await scheduler.sync()
        assert scheduler.job_ids() == ["vote:close:1"]
    finally:
        scheduler.stop()
    async with db.transaction() as session:
        reminded = (
            (await session.execute(select(Notice.target, Notice.text).where(Notice.text.like("Reminder: vote #1%"))))
            .tuples()
            .all()
        )
        vote = await session.get(Vote, 1)
    assert [target for target, _ in reminded] == ["ola"]
    assert f"closes {shown(vote.closes_at, 'Europe/Lisbon')} and" in reminded[0][1]  # in Ola's own zone


def vote_jobs(app: App) -> list[str]:
    return [job for job in app.scheduler.job_ids() if job.startswith("vote:")]


async def test_a_vote_opened_by_command_is_scheduled_without_waiting_for_a_restart(db, settings, pfas):
    app = App(settings, db, [], AREAS)
    running = asyncio.create_task(app.run())
    await app.started.wait()
    try:
        await app.handle(message('/vote open "Adopt it?" closes=3d', sender="jana", room="pfas"))
        assert vote_jobs(app) == ["vote:close:1", "vote:nudge:1:24.0"]
        await app.handle(message("/vote cancel 1", sender="jana", room="pfas"))
        assert vote_jobs(app) == []
    finally:
        app.request_stop()
        await running


async def test_closing_while_ballots_arrive_counts_exactly_the_ballots_recorded(say, db, pfas):
    voters = []
    for n in range(6):
        org = await member_organisation(db, f"Member {n}", joins=("pfas",))
        await person(db, f"Rep {n}", organisation=org, accounts=(f"console:rep{n}",))
        voters.append(f"rep{n}")
    await open_roadmap_vote(say)
    replies = await asyncio.gather(
        *(say("/vote 1 yes", sender=voter) for voter in voters[:3]),
        say("/vote close 1"),
        *(say("/vote 1 no", sender=voter) for voter in voters[3:]),
    )
    recorded = [r for r in replies if r.startswith("Recorded")]
    async with db.transaction() as session:
        vote = await session.get(Vote, 1)
    assert sum(vote.result["tally"].values()) == len(await ballots(db)) == len(recorded)


class EditableRooms:
    """A platform that keeps the messages it was sent and their edits."""

    platform = "telegram"

    def __init__(self) -> None:
        self.finished = asyncio.Event()
        self.messages: dict[str, list[str]] = {}

    async def send(self, room, reply):
        message_id = str(len(self.messages) + 1)
        self.messages[message_id] = [reply.text]
        return MessageRef(room, message_id)

    async def edit(self, ref, reply):
        self.messages[ref.message_id].append(reply.text)


async def test_a_posted_vote_shows_its_turnout_and_never_a_hidden_tally(say, db, pfas):
    rooms_ = EditableRooms()
    await say('/vote open "Adopt the PFAS roadmap v2?" hidden')
    await Postman(db, {"telegram": rooms_}).settled()  # the vote message reaches the Telegram room
    await say("/vote 1 no")
    await LiveMessages(db, {"telegram": rooms_}, [LIVE]).refresh(LIVE, 1)
    [(original, edited)] = rooms_.messages.values()
    assert edited == original + "\n\nSo far: Turnout: 1 of 2 organisations (quorum 1: met)."
    await say("/vote close 1")
    await LiveMessages(db, {"telegram": rooms_}, [LIVE]).refresh(LIVE, 1)
    closed = rooms_.messages["1"][-1]
    assert closed.endswith(
        "Closed: Turnout: 1 of 2 organisations (quorum 1: met).\nTally: yes 0 · no 1 · abstain 0\nOutcome: REJECTED — no won."
    )


@pytest.fixture
async def chase_scene(db, pfas):
    """PFAS's vote #1 has ACME's ballot; Fab Nord (Ola, on the console) has not voted, nor has
    Quiet BV, whose representative is on no chat platform, nor Kompetenz AG, whose representative
    is on Telegram but never opened a private chat with the bot. Sam is the secretariat."""
    quiet = await member_organisation(db, "Quiet BV", joins=("pfas",))
    await person(db, "Quentin Quiet", organisation=quiet)
    kompetenz = await member_organisation(db, "Kompetenz AG", joins=("pfas",))
    await person(db, "Klaus Berg", organisation=kompetenz, accounts=("telegram:2002",))
    await person(db, "Sam", accounts=("console:sam",), roles=("secretariat",))
    return pfas


async def private_texts(db, like: str) -> list[tuple[str, str]]:
    async with db.transaction() as session:
        found = await session.execute(
            select(Notice.target, Notice.text).where(Notice.direct.is_(True), Notice.text.like(like))
        )
        return list(found.tuples())


async def private_notices(db, like: str) -> list[tuple[str, str]]:
    async with db.transaction() as session:
        found = await session.execute(
            select(Notice.platform, Notice.target).where(Notice.direct.is_(True), Notice.text.like(like))
        )
        return sorted(found.tuples())


async def test_the_chair_sees_who_has_not_voted_and_a_representative_may_not(db, chase_scene, say):
    await open_roadmap_vote(say)
    await say("/vote 1 yes", sender="jana")
    asked_in_the_room = await say("/vote pending 1", sender="jana")
    assert asked_in_the_room.startswith("I have sent the organisations that have not voted yet to you in a private")
    [(target, pending)] = await private_texts(db, "3 of 4 organisations have not voted%")
    assert target == "jana" and pending == await say("/vote pending 1", sender="jana", room="jana", direct=True)
    assert pending.splitlines() == [
        "3 of 4 organisations have not voted on #1 (Adopt the PFAS roadmap v2?):",
        "• Fab Nord AS — Ola Nordmann",
        "• Kompetenz AG — Klaus Berg (has not opened a private chat with me on Telegram: a reminder waits until "
        "they press Start there)",
        "• Quiet BV — Quentin Quiet (not on any chat: /vote remind cannot reach them)",
        "/vote remind 1 reminds them privately now.",
    ]
    assert await say("/vote pending 1", sender="sam", room="secretariat") == pending
    refused = await say("/vote pending 1", sender="ola")
    assert refused.startswith("Who has not voted on #1 is for the chairs of its group and the secretariat to see.")
    assert "Usage" not in refused


async def test_a_reminder_by_hand_reaches_each_organisation_once_per_12_hours(db, chase_scene, settings, say):
    clock = [utcnow()]
    say = say.using(Router(db, build_registry(), settings, clock=lambda: clock[0]))
    await open_roadmap_vote(say)
    first = await say("/vote remind 1", sender="jana")
    assert first.splitlines() == [
        "Reminded 2 organisations privately, now: ACME GmbH, Fab Nord AS.",
        "Waiting for a private chat: Kompetenz AG (Klaus Berg). Telegram lets me write to them only once they have "
        "opened a chat with me: I ask them in a room we share to press Start, and the reminder arrives then.",
        "Not reachable, no representative on any chat: Quiet BV.",
    ]
    reminded = await private_notices(db, "Reminder: vote #1 %")
    assert reminded == sorted(
        [
            ("console", "jana"),
            ("telegram", "1001"),
            ("matrix", "@piet:example.org"),
            ("console", "ola"),
            ("telegram", "2002"),
        ]
    )
    await say("/vote 1 yes", sender="jana")
    clock[0] += timedelta(hours=11)
    again = await say("/vote remind 1", sender="sam", room="secretariat")
    assert again.startswith("Not reminded again within 12 hours: Fab Nord AS (reminded ")
    assert len(await private_notices(db, "Reminder: vote #1 %")) == len(reminded)
    clock[0] += timedelta(hours=2)
    async with db.transaction() as session:  # Klaus has pressed Start meanwhile: the transport noted his chat
        await TransportMemory(db, "telegram").put(private_chat_key("2002"), "2002")
    later = await say("/vote remind 1", sender="jana")
    assert later == (
        "Reminded 2 organisations privately, now: Fab Nord AS, Kompetenz AG.\n"
        "Not reachable, no representative on any chat: Quiet BV."
    )
    assert len(await private_notices(db, "Reminder: vote #1 %")) == 7
    async with db.transaction() as session:
        lines = list(await session.scalars(select(AuditEntry.details).where(AuditEntry.action == "vote.reminded")))
    assert [line["organisations"] for line in lines] == [
        ["ACME GmbH", "Fab Nord AS"],
        [],
        ["Fab Nord AS", "Kompetenz AG"],
    ]
    assert lines[0]["waiting_for_a_private_chat"] == ["Kompetenz AG"]


async def test_two_chairs_reminding_at_the_same_instant_remind_each_organisation_once(db, chase_scene, say):
    await open_roadmap_vote(say)
    replies = await asyncio.gather(
        say("/vote remind 1", sender="jana"), say("/vote remind 1", sender="sam", room="secretariat")
    )
    assert sorted(r.splitlines()[0].split(" (")[0] for r in replies) == [
        "Not reminded again within 12 hours: ACME GmbH",
        "Reminded 2 organisations privately, now: ACME GmbH, Fab Nord AS.",
    ]
    assert len(await private_notices(db, "Reminder: vote #1 %")) == 5


async def test_the_register_lists_closed_votes_newest_first_and_a_secret_one_by_its_totals(db, pfas, say):
    await open_roadmap_vote(say)
    await say("/vote 1 yes", sender="jana")
    await say("/vote 1 no", sender="ola")
    await say("/vote close 1", sender="jana")
    await say('/vote open "Elect the PFAS rapporteur?" secret', sender="jana")
    await say("/vote 2 yes", sender="jana", room="jana", direct=True)
    await say("/vote close 2", sender="jana")
    await say('/vote open "Still open?"', sender="jana")

    listed = await say("/decisions pfas", sender="ola")
    assert listed.splitlines()[0] == "Decisions (PFAS), newest first:"
    assert (
        listed.splitlines()[4]
        == "   NOT ADOPTED — no simple majority; turnout 2 of 2; yes 1 · no 1 · abstain 0; "
        + (listed.splitlines()[4].split("; ")[-1])
    )  # the tally once, not again in the outcome
    assert [line.split(" ")[0] for line in listed.splitlines()[1::2]] == ["#2", "#1"]
    assert "Still open?" not in listed

    reply = await say.router.handle(message("/decisions as=csv", sender="ola"))
    assert reply.file.name == "decisions-all-groups.csv" and reply.file.media_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(reply.file.content.decode("utf-8-sig"))))
    assert [(r["vote"], r["secret"], r["tally"], r["turnout"], r["electorate"]) for r in rows] == [
        ("2", "True", "yes 1 · no 0 · abstain 0", "1", "2"),
        ("1", "False", "yes 1 · no 1 · abstain 0", "2", "2"),
    ]
    assert rows[1]["outcome"] == "NOT ADOPTED — no simple majority"
    assert "ACME" not in reply.file.content.decode() and "Fab Nord" not in reply.file.content.decode()
    async with db.transaction() as session:
        closed = dict(
            (
                await session.execute(
                    select(AuditEntry.subject, AuditEntry.hash).where(AuditEntry.action == "vote.closed")
                )
            )
            .tuples()
            .all()
        )
        chain = await audit.verify(session)
    assert [r["audit_hash"] for r in rows] == [closed["vote:2"], closed["vote:1"]] and chain.intact

    assert (await say("/decisions alliance 2026", sender="ola")) == "No decisions yet (alliance-wide votes, 2026)."
    refused = await say("/decisions pfas skills", sender="ola")
    assert refused.startswith("Give one group and one year at most")
    assert (await say("/decisions as=pdf", sender="ola")).startswith("as= is one of csv, json, md.")
