"""Two representatives of one organisation vote at the same instant, from two processes: one
ballot counts, and both are told the truth — the later one that theirs replaces the earlier
("Recorded: no for ACME GmbH (replaces yes by Jana Novak)"), the earlier one that theirs was
replaced (privately). Fifty rounds, each released by a barrier, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import multiprocessing

from sqlalchemy import select

from bot.config import Settings
from bot.router import Router
from handlers import build_registry
from storage.db import Database
from storage.models import Ballot, BallotCast, Notice, Person
from tests.alliance import member_organisation, message, person

ROUNDS = 50
VOTERS = {"jana": ("Jana Novak", "yes"), "piet": ("Piet Jansen", "no")}


def _vote_every_round(url: str, sender: str, barrier, answers) -> None:
    """One process: a representative who votes in every round the moment the barrier opens."""
    asyncio.run(_rounds(url, sender, barrier, answers))


async def _rounds(url: str, sender: str, barrier, answers) -> None:
    db = Database.connect(url)
    router = Router(db, build_registry(), Settings.model_validate({}))
    try:
        await router.handle(message("/whoami", sender=sender, event_id=f"{sender}-warm-up"))  # connections open
        for vote_id in range(1, ROUNDS + 1):
            await asyncio.to_thread(barrier.wait, 60)
            said = message(f"/vote {vote_id} {VOTERS[sender][1]}", sender=sender, event_id=f"{sender}-{vote_id}")
            reply = await router.handle(said)
            answers.put((vote_id, sender, reply.text if reply else None))
    finally:
        await db.close()


async def test_two_processes_voting_for_one_organisation_at_the_same_instant_are_each_told_the_truth(
    db, database_url, say
):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await member_organisation(db, "Fab Nord AS", joins=("pfas",))  # so that no round decides the vote
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Piet Jansen", organisation=acme, accounts=("console:piet",))
    for round_ in range(1, ROUNDS + 1):
        assert (await say(f'/vote open "Question {round_}?"')).startswith(f"Vote #{round_} is open")

    spawn = multiprocessing.get_context("spawn")
    barrier, answers = spawn.Barrier(len(VOTERS)), spawn.Queue()
    voters = [spawn.Process(target=_vote_every_round, args=(database_url, s, barrier, answers)) for s in VOTERS]
    for voter in voters:
        voter.start()
    told: dict[tuple[int, str], str | None] = {}
    while len(told) < ROUNDS * len(VOTERS):
        vote_id, sender, text = await asyncio.to_thread(answers.get, True, 120)
        told[(vote_id, sender)] = text
    for voter in voters:
        await asyncio.to_thread(voter.join, 30)
        assert voter.exitcode == 0

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
