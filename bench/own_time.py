"""How long does wgbot itself take per command, from the message received to the reply ready?

Times the real router (dedup claim, room binding, sender identity, role check, the handler, one
durable commit) on a small alliance, with no network: what remains is wgbot's own time, the part
a chat platform's round trip is added to. Prints p50/p95/p99 for /whoami, /vote, /vote status
and /meeting list. Targets: /whoami and /vote ≤ 1.0 ms median and ≤ 3 ms p95 on SQLite, ≤ 2 ms
median on PostgreSQL.

    .venv/bin/python bench/own_time.py [--repeat 1000]
    .venv/bin/python bench/own_time.py --url postgresql+asyncpg://postgres@127.0.0.1/<empty database>
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench.scale import build, commands, empty_database, samples
from bot.areas import registry_of
from bot.config import Settings
from bot.router import Router
from handlers import AREAS

TIMED = ("/whoami", "/vote", "/vote status", "/meeting list")


async def main(repeat: int, url: str | None) -> None:
    db = await empty_database(url)
    vote_id = await build(db, 1)
    router = Router(db, registry_of(AREAS), Settings())
    acts = commands(router, db, vote_id)
    backend = "PostgreSQL" if db.is_postgres else "SQLite"
    print(f"{backend}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores")
    for name in TIMED:
        runs = await samples(acts[name], repeat, warm_up=20)
        cuts = statistics.quantiles(runs, n=100)
        p50 = statistics.median(runs)
        line = f"{name:<15} p50 {p50:6.2f} ms   p95 {cuts[94]:6.2f} ms   p99 {cuts[98]:6.2f} ms"
        if name in ("/whoami", "/vote"):
            met = p50 <= 2.0 if db.is_postgres else p50 <= 1.0 and cuts[94] <= 3.0
            wanted = "p50 ≤ 2 ms" if db.is_postgres else "p50 ≤ 1 ms, p95 ≤ 3 ms"
            line += f"   {'meets' if met else 'misses'} the target ({wanted})"
        print(line)
    await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1000)
    parser.add_argument("--url", help="an empty PostgreSQL database to use (its public schema is dropped)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.repeat, arguments.url))
