"""How fast does the service layer take ballots? `cast_ballot` as a command runs it.

Sets up M votes in one group whose electorate is N organisations (one representative each),
then casts ballots round-robin across the votes, each in its own transaction with its dedup
mark, exactly as a chat command does, and prints ballots/second and latency percentiles.
`--concurrency K` has K representatives pressing at the same time (a burst after a reminder).
Target: ≥ 1,000 ballots/s with p99 < 20 ms on one core.

    .venv/bin/python bench/ballots.py [--ballots 3000] [--votes 10] [--organisations 100] [--concurrency 1]
    .venv/bin/python bench/ballots.py --url postgresql+asyncpg://postgres@127.0.0.1/<empty database>
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import events, groups, migrate, organisations, people, votes
from storage.db import Database
from storage.models import OrganisationKind, OrganisationStatus, utcnow
from storage.rules.voting import Majority


async def main(ballots: int, vote_count: int, organisation_count: int, concurrency: int, url: str | None) -> None:
    work = Path(tempfile.mkdtemp(prefix="wgbot-bench-"))
    db = Database.connect(url or f"sqlite+aiosqlite:///{work / 'wgbot.sqlite3'}")
    await migrate.upgrade(db)
    async with db.transaction() as session:
        pfas = await groups.add_group(session, actor="bench", name="PFAS")
        actors = []
        for n in range(organisation_count):
            org = await organisations.add_organisation(
                session,
                actor="bench",
                name=f"Member {n:04d}",
                country="DE",
                kind=OrganisationKind.INDUSTRY,
                status=OrganisationStatus.MEMBER,
            )
            await organisations.join_group(
                session, actor="bench", organisation=org, group_id=pfas.id, group_slug="pfas"
            )
            rep = await people.add_person(session, actor="bench", name=f"Rep {n}", organisation=org)
            await people.add_account(session, actor="bench", person=rep, platform="telegram", user_id=str(n))
        for n in range(organisation_count):
            actors.append(await people.identify(session, "telegram", str(n), f"Rep {n}"))
        opener = actors[0]
        vote_ids = []
        for n in range(vote_count):
            rules = votes.VoteRules(
                f"Question {n}?", ("yes", "no", "abstain"), utcnow() + timedelta(days=7), 0.5, Majority.SIMPLE
            )
            vote_ids.append((await votes.open_vote(session, actor=opener, group=pfas, rules=rules, now=utcnow())).id)

    latencies = []
    options = ("yes", "no", "abstain")
    numbers = iter(range(ballots))

    async def representatives_pressing() -> None:
        for n in numbers:
            actor = actors[n % organisation_count]
            vote_id = vote_ids[(n // organisation_count) % vote_count]
            began = time.perf_counter()
            async with db.transaction() as session:
                await events.claim(session, "telegram", f"bench-{n}")
                await votes.cast_ballot(session, vote_id, options[n % 3], actor, utcnow())
            latencies.append((time.perf_counter() - began) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(representatives_pressing() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started

    percentiles = statistics.quantiles(latencies, n=100)
    rate = ballots / elapsed
    backend = "PostgreSQL" if db.is_postgres else "SQLite"
    print(
        f"{ballots} ballots across {vote_count} votes, electorate {organisation_count}, {backend}, {concurrency} at once"
    )
    print(f"throughput {rate:8.0f} ballots/s")
    print(
        f"latency    p50 {statistics.median(latencies):6.2f} ms   p99 {percentiles[98]:6.2f} ms   max {max(latencies):6.2f} ms"
    )
    verdict = "meets" if rate >= 1000 and percentiles[98] < 20 else "misses"
    print(f"{verdict} the target (≥ 1,000 ballots/s, p99 < 20 ms)")
    await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=3000)
    parser.add_argument("--votes", type=int, default=10)
    parser.add_argument("--organisations", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1, help="representatives pressing at the same time")
    parser.add_argument("--url", help="an empty database to use instead of a new SQLite file")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.ballots, arguments.votes, arguments.organisations, arguments.concurrency, arguments.url))
