"""Two representatives of one organisation vote at the same instant, from two processes: one
ballot counts, and both are told the truth — the later one that theirs replaces the earlier
("Recorded: no for ACME GmbH (replaces yes by Jana Novak)"), the earlier one that theirs was
replaced (privately). Fifty rounds, each released by a barrier, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import multiprocessing
import random

from sqlalchemy import select

from bot.config import Settings
from bot.router import Router
from handlers import build_registry
from storage.db import Database
from storage.models import Ballot, BallotCast, Notice, Person
from tests.alliance import member_organisation, message, person

ROUNDS = 50
VOTERS = {"jana": ("Jana Novak", "yes"), "piet": ("Piet Jansen", "no")}


def _vote_every_round(url: str, sender: str, command: str, barrier, answers, stagger: float = 0.0) -> None:
    """One process: a representative who sends `command` (its `{id}` the round's vote) in every
    round the moment the barrier opens (or up to `stagger` seconds later, at random: a racer
    whose command is quicker, held back so that either may arrive first)."""
    asyncio.run(_rounds(url, sender, command, barrier, answers, stagger))


async def _rounds(url: str, sender: str, command: str, barrier, answers, stagger: float) -> None:
    db = Database.connect(url)
    router = Router(db, build_registry(), Settings.model_validate({}))
    try:
        await router.handle(message("/whoami", sender=sender, event_id=f"{sender}-warm-up"))  # connections open
        for vote_id in range(1, ROUNDS + 1):
            await asyncio.to_thread(barrier.wait, 60)
            await asyncio.sleep(random.uniform(0, stagger))
            said = message(command.format(id=vote_id), sender=sender, event_id=f"{sender}-{vote_id}")
            reply = await router.handle(said)
            answers.put((vote_id, sender, reply.text if reply else None))
    finally:
        await db.close()


async def race(
    url: str, commands: dict[str, str], stagger: dict[str, float] | None = None
) -> dict[tuple[int, str], str | None]:
    """Each sender's command sent from a process of its own, every round at the same instant
    (held back by up to `stagger[sender]` seconds): what each was answered, by round and sender."""
    spawn = multiprocessing.get_context("spawn")
    barrier, answers = spawn.Barrier(len(commands)), spawn.Queue()
    racers = [
        spawn.Process(
            target=_vote_every_round, args=(url, sender, command, barrier, answers, (stagger or {}).get(sender, 0.0))
        )
        for sender, command in commands.items()
    ]
    for racer in racers:
        racer.start()
    told: dict[tuple[int, str], str | None] = {}
    while len(told) < ROUNDS * len(commands):
        vote_id, sender, text = await asyncio.to_thread(answers.get, True, 120)
        told[(vote_id, sender)] = text
    for racer in racers:
        await asyncio.to_thread(racer.join, 30)
        assert racer.exitcode == 0
    return told


async def test_two_processes_voting_for_one_organisation_at_the_same_instant_are_each_told_the_truth(
    db, database_url, say
):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await member_organisation(db, "Fab Nord AS", joins=("pfas",))  # so that no round decides the vote
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Piet Jansen", organisation=acme, accounts=("console:piet",))
    for round_ in range(1, ROUNDS + 1):
        assert (await say(f'/vote open "Question {round_}?"')).startswith(f"Vote #{round_} is open")

    told = await race(database_url, {sender: f"/vote {{id}} {option}" for sender, (_, option) in VOTERS.items()})

    async with db.transaction() as session:
        names = dict((await session.execute(select(Person.id, Person.name))).tuples().all())
        casts = (await session.execute(select(BallotCast.vote_id, BallotCast.person_id).order_by(BallotCast.id))).all()
        ballots = dict((await session.execute(select(Ballot.vote_id, Ballot.option))).tuples().all())
        private = list(await session.scalars(select(Notice.target).where(Notice.text.like("Your ballot on vote #%"))))
    order: dict[int, list[str]] = {}
    for vote_id, person_id in casts:
        order.setdefault(vote_id, []).append(next(s for s, (n, _) in VOTERS.items() if n == names[person_id]))
    consistent = 0
    for vote_id in range(1, ROUNDS + 1):
        first, last = order[vote_id]
        first_name, first_option = VOTERS[first]
        _, last_option = VOTERS[last]
        assert ballots[vote_id] == last_option  # one ballot counts: the later one
        if (
            told[(vote_id, first)] == f"Recorded: {first_option} for ACME GmbH"
            and told[(vote_id, last)]
            == f"Recorded: {last_option} for ACME GmbH (replaces {first_option} by {first_name})"
        ):
            consistent += 1
    assert consistent == ROUNDS, f"only {consistent} of {ROUNDS} races were answered as the database holds them"
    # Each round, the earlier voter was told privately that their ballot was replaced.
    assert sorted(private) == sorted(order[v][0] for v in range(1, ROUNDS + 1))


async def test_a_giver_voting_itself_as_its_holder_casts_its_ballot_by_mandate_leaves_the_giver_s_own_ballot(
    db, database_url, say
):
    """Fab Nord votes itself the instant ACME casts Fab Nord's ballot by mandate: whichever comes
    first, Fab Nord's own ballot is the one that counts, and each is told what the database holds."""
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=("console:ola",))
    for round_ in range(1, ROUNDS + 1):
        assert (await say(f'/vote open "Question {round_}?"')).startswith(f"Vote #{round_} is open")
    given = await say("/mandate give ACME GmbH until=30d", sender="ola", room="ola", direct=True)
    assert given.startswith("Mandate #1: ACME GmbH may cast Fab Nord AS's ballot")

    # A cast by mandate first looks for its mandate, a few milliseconds on PostgreSQL: there Ola
    # is held back as long, so that either may come first (measured: about half the rounds each).
    commands = {"jana": f"/vote {{id}} yes for=#{fab.id}", "ola": "/vote {id} no"}
    told = await race(database_url, commands, stagger={"ola": 0.005 if "postgresql" in database_url else 0.0})

    async with db.transaction() as session:
        names = dict((await session.execute(select(Person.id, Person.name))).tuples().all())
        rows = await session.execute(
            select(BallotCast.vote_id, BallotCast.person_id).where(BallotCast.organisation_id == fab.id)
        )
        casts = rows.all()
        ballots = await session.execute(
            select(Ballot.vote_id, Ballot.option, Ballot.mandate_id).where(Ballot.organisation_id == fab.id)
        )
        counted = {vote_id: (option, mandate) for vote_id, option, mandate in ballots.tuples()}
        overridden = list(
            await session.scalars(select(Notice.target).where(Notice.text.like("Fab Nord AS voted itself%")))
        )
    order: dict[int, list[str]] = {}
    for vote_id, person_id in casts:
        order.setdefault(vote_id, []).append(names[person_id])
    for vote_id in range(1, ROUNDS + 1):
        assert counted[vote_id] == ("no", None)  # one ballot for Fab Nord: its own
        if order[vote_id] == ["Jana Novak", "Ola Nordmann"]:  # the mandated ballot came first, then was replaced
            assert told[(vote_id, "jana")] == "Recorded: yes for Fab Nord AS, cast by ACME GmbH under mandate #1"
            assert told[(vote_id, "ola")] == "Recorded: no for Fab Nord AS (replaces yes by Jana Novak)"
        else:  # Fab Nord first: the mandated ballot was refused
            assert order[vote_id] == ["Ola Nordmann"]
            assert told[(vote_id, "ola")] == "Recorded: no for Fab Nord AS"
            assert told[(vote_id, "jana")] == "Fab Nord AS has voted itself; its own ballot counts."
    first = sum(order[v][0] == "Jana Novak" for v in range(1, ROUNDS + 1))
    assert len(overridden) == first  # Jana heard each time her mandated ballot was overridden
