"""How fast does wgbot take ballots? `/vote <id> <option>` through the router, as a chat sends it.

Sets up M votes in one group whose electorate is N organisations (one representative each, on
Telegram), then sends `/vote` commands round-robin across the votes through the real router
(dedup claim, room binding, sender identity, role check, the ballot and its audit line, one
durable commit), and prints ballots/second and latency percentiles. `--concurrency K` has K
representatives pressing at the same time (a burst after a reminder). Every answer is checked:
a refused or failed ballot stops the benchmark. Runs 1 and 8 at once unless told otherwise.
Targets: SQLite ≥ 1,200/s one at a time, ≥ 1,500/s eight at once with p99 < 10 ms;
PostgreSQL ≥ 1,000/s eight at once.

    .venv/bin/python bench/ballots.py [--ballots 3000] [--votes 10] [--organisations 100] [--concurrency 1 8]
    .venv/bin/python bench/ballots.py --url postgresql+asyncpg://postgres@127.0.0.1/<empty database>
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.areas import registry_of
from bot.config import Settings
from bot.router import Router
from bot.transports.base import Incoming
from handlers import AREAS
from storage import groups, migrate, organisations, people, rooms, votes
from storage.db import Database
from storage.models import OrganisationKind, OrganisationStatus, RoomPurpose, utcnow
from storage.rules.voting import Majority

ROOM = "-100777"
OPTIONS = ("yes", "no", "abstain")
TARGETS = {  # (backend, at once) → (ballots/s, p99 ms)
    ("SQLite", 1): (1200, None),
    ("SQLite", 8): (1500, 10.0),
    ("PostgreSQL", 8): (1000, None),
}


async def alliance(db: Database, vote_count: int, organisation_count: int) -> list[int]:
    """One group with its Telegram room, N member organisations with a representative each, and
    M open votes; returns the votes' ids."""
    await migrate.upgrade(db)
    async with db.transaction() as session:
        pfas = await groups.add_group(session, actor="bench", name="PFAS")
        await rooms.bind_room(
            session, actor="bench", platform="telegram", room_id=ROOM, purpose=RoomPurpose.GROUP, group=pfas
        )
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
        opener = await people.identify(session, "telegram", "0", "Rep 0")
        vote_ids = []
        for n in range(vote_count):
            rules = votes.VoteRules(f"Question {n}?", OPTIONS, utcnow() + timedelta(days=7), 0.5, Majority.SIMPLE)
            vote_ids.append((await votes.open_vote(session, actor=opener, group=pfas, rules=rules, now=utcnow())).id)
    return vote_ids


async def run(router: Router, vote_ids: list[int], ballots: int, organisations_: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    numbers = iter(range(ballots))
    run_id = os.urandom(4).hex()

    async def representative_pressing() -> None:
        for n in numbers:
            sender = str(n % organisations_)
            vote_id = vote_ids[(n // organisations_) % len(vote_ids)]
            incoming = Incoming(
                "telegram", ROOM, sender, f"Rep {sender}", f"/vote {vote_id} {OPTIONS[n % 3]}", f"{run_id}-{n}"
            )
            began = time.perf_counter()
            reply = await router.handle(incoming)
            latencies.append((time.perf_counter() - began) * 1000)
            if reply is None or not reply.text.startswith(("Recorded", "Changed")):
                raise SystemExit(f"ballot {n} was not taken: {reply and reply.text!r}")

    await asyncio.gather(*(representative_pressing() for _ in range(concurrency)))
    return latencies


async def main(
    ballots: int, vote_count: int, organisation_count: int, concurrencies: list[int], url: str | None
) -> None:
    work = Path(tempfile.mkdtemp(prefix="wgbot-bench-"))
    db = Database.connect(url or f"sqlite+aiosqlite:///{work / 'wgbot.sqlite3'}")
    vote_ids = await alliance(db, vote_count, organisation_count)
    router = Router(db, registry_of(AREAS), Settings())
    backend = "PostgreSQL" if db.is_postgres else "SQLite"
    print(f"{ballots} ballots per run across {vote_count} votes, electorate {organisation_count}, {backend}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores")
    await run(router, vote_ids, 200, organisation_count, 1)  # warm up: statement caches, first pages
    for concurrency in concurrencies:
        started = time.perf_counter()
        latencies = await run(router, vote_ids, ballots, organisation_count, concurrency)
        rate = ballots / (time.perf_counter() - started)
        p99 = statistics.quantiles(latencies, n=100)[98]
        line = (
            f"{concurrency} at once: {rate:6.0f} ballots/s   p50 {statistics.median(latencies):5.2f} ms"
            f"   p99 {p99:5.2f} ms   max {max(latencies):6.2f} ms"
        )
        target = TARGETS.get((backend, concurrency))
        if target:
            least, p99_limit = target
            met = rate >= least and (p99_limit is None or p99 < p99_limit)
            wanted = f"≥ {least:,}/s" + (f", p99 < {p99_limit:g} ms" if p99_limit else "")
            line += f"   {'meets' if met else 'misses'} the target ({wanted})"
        print(line)
    await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=3000)
    parser.add_argument("--votes", type=int, default=10)
    parser.add_argument("--organisations", type=int, default=100)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8], help="representatives pressing at once")
    parser.add_argument("--url", help="an empty database to use instead of a new SQLite file")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.ballots, arguments.votes, arguments.organisations, arguments.concurrency, arguments.url))
