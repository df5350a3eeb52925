"""Does any command grow with the alliance's history? The same commands on three database sizes.

Builds a small alliance (10 organisations, 1,000 audit entries, 200 meetings, 500 notices sent),
then 10× and 100× of it (1,000 organisations, 100,000 audit entries, 20,000 meetings, 50,000
notices), bulk-inserted with a valid audit chain. On each, times through the real router:
/whoami, /vote, /vote status, /meeting list (in the group's room and in a private chat), the
postman's pending-notices query, and `audit verify`. Prints each one's median per size and how
it grows. Target: every command within 1.5× of its small-database time at 100×; audit verify of
100k entries < 1 s.

    .venv/bin/python bench/scale.py [--sizes 1 10 100] [--repeat 200]
    .venv/bin/python bench/scale.py --url postgresql+asyncpg://postgres@127.0.0.1/<empty database>
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from bot.areas import registry_of
from bot.config import Settings
from bot.router import Router
from bot.transports.base import Incoming
from handlers import AREAS
from storage import audit, groups, migrate, notices, rooms, votes
from storage.db import Database
from storage.models import (
    ChatAccount,
    Meeting,
    MeetingStatus,
    Notice,
    NoticeStatus,
    Organisation,
    OrganisationKind,
    OrganisationStatus,
    Participation,
    Person,
    RoomPurpose,
    table_of,
    utcnow,
)
from storage.people import identify
from storage.rules.voting import Majority

ROOM = "-100777"
BASE = {"organisations": 10, "audit": 1000, "meetings": 200, "notices": 500}
CHUNK = 2000


async def build(db: Database, scale: int) -> int:
    """An alliance `scale` times the small one; returns the id of an open vote in its group."""
    await migrate.upgrade(db)
    now = utcnow()
    count = {what: n * scale for what, n in BASE.items()}
    async with db.transaction() as session:
        pfas = await groups.add_group(session, actor="bench", name="PFAS")
        await rooms.bind_room(
            session, actor="bench", platform="telegram", room_id=ROOM, purpose=RoomPurpose.GROUP, group=pfas
        )
        connection = await session.connection()
        await _bulk(
            connection,
            Organisation,
            [
                dict(
                    id=n + 1,
                    name=f"Member {n:05d}",
                    name_key=f"member {n:05d}",
                    country="DE",
                    kind=OrganisationKind.INDUSTRY,
                    status=OrganisationStatus.MEMBER,
                    created_at=now,
                )
                for n in range(count["organisations"])
            ],
        )
        await _bulk(
            connection,
            Participation,
            [dict(organisation_id=n + 1, group_id=pfas.id, since=now) for n in range(count["organisations"])],
        )
        await _bulk(
            connection,
            Person,
            [
                dict(id=n + 1, name=f"Rep {n}", organisation_id=n + 1, created_at=now)
                for n in range(count["organisations"])
            ],
        )
        await _bulk(
            connection,
            ChatAccount,
            [
                dict(platform="telegram", platform_user_id=str(n), person_id=n + 1, created_at=now)
                for n in range(count["organisations"])
            ],
        )
        await _bulk(connection, Meeting, [_meeting(pfas.id, n, now) for n in range(count["meetings"])])
        await _bulk(
            connection,
            Notice,
            [
                dict(
                    platform="telegram",
                    direct=False,
                    target=ROOM,
                    text=f"notice {n}",
                    status=NoticeStatus.SENT,
                    attempts=1,
                    created_at=now,
                    sent_at=now,
                    pin=False,
                    private_buttons=False,
                )
                for n in range(count["notices"])
            ],
        )
        await _chain(connection, count["audit"], now)
        opener = await identify(session, "telegram", "0", "Rep 0")
        rules = votes.VoteRules("Adopt?", ("yes", "no", "abstain"), now + timedelta(days=7), 0.5, Majority.SIMPLE)
        vote = await votes.open_vote(session, actor=opener, group=pfas, rules=rules, now=now)
    if db.is_postgres:
        async with db.engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
    return vote.id


def _meeting(group_id: int, n: int, now: datetime) -> dict:
    """Most meetings are over (a long history); every tenth is still to come."""
    start = now + timedelta(days=1 + n % 300, minutes=n) if n % 10 == 0 else now - timedelta(days=1 + n % 900)
    start = start.replace(second=0, microsecond=0)
    return dict(
        group_id=group_id,
        title=f"Meeting {n}",
        zone="Europe/Brussels",
        local_start=start.astimezone(UTC).replace(tzinfo=None) + timedelta(hours=1),
        rule=None,
        duration_minutes=60,
        link=None,
        status=MeetingStatus.ACTIVE,
        first_start=start,
        last_start=start,
        next_start=start if start > now else None,  # as the migration and /meeting list leave them
        created_by="bench",
        created_at=now,
    )


async def _bulk(connection, model, rows: list[dict]) -> None:
    for at in range(0, len(rows), CHUNK):
        await connection.execute(insert(table_of(model)), rows[at : at + CHUNK])


async def _chain(connection, entries: int, now: datetime) -> None:
    """A valid hash chain of `entries` acts, continuing what the setup above audited."""
    prev = await connection.scalar(text("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")) or audit.GENESIS_HASH
    rows = []
    for n in range(entries):
        at = now - timedelta(seconds=entries - n)
        details = {"n": n}
        digest = audit.entry_hash(prev, at, "bench", "bench.act", f"thing:{n}", details)
        rows.append(
            dict(
                at=at,
                actor="bench",
                action="bench.act",
                subject=f"thing:{n}",
                details=audit.canonical(details),  # as audit.record stores them
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    for at in range(0, len(rows), CHUNK):
        await connection.execute(audit.APPEND[connection.dialect.name], rows[at : at + CHUNK])


def commands(router: Router, db: Database, vote_id: int) -> dict[str, Callable[[], Awaitable[object]]]:
    numbers = iter(range(10**9))
    run = os.urandom(4).hex()

    def say(text_: str, sender: str = "1", room: str = ROOM, direct: bool = False):
        async def send() -> object:
            n = next(numbers)
            return await router.handle(Incoming("telegram", room, sender, "Rep", text_, f"{run}-{n}", is_direct=direct))

        return send

    async def pending() -> object:
        async with db.transaction() as session:
            return await notices.pending(session, utcnow(), ["telegram"])

    async def verify() -> object:
        async with db.transaction() as session:
            return await audit.verify(session)

    return {
        "/whoami": say("/whoami"),
        "/vote": say(f"/vote {vote_id} yes"),
        "/vote status": say(f"/vote status {vote_id}"),
        "/meeting list": say("/meeting list"),
        "/meeting list (private)": say("/meeting list", room="1", direct=True),
        "outbox pending": pending,
        "audit verify": verify,
    }


async def samples(act: Callable[[], Awaitable[object]], repeat: int, warm_up: int = 3) -> list[float]:
    """How long each of `repeat` runs took, in ms, after `warm_up` runs not counted."""
    for _ in range(warm_up):
        await act()
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        await act()
        runs.append((time.perf_counter() - began) * 1000)
    return runs


async def timed(act: Callable[[], Awaitable[object]], repeat: int) -> float:
    """The median of `repeat` runs, in ms."""
    return statistics.median(await samples(act, repeat))


async def empty_database(url: str | None) -> Database:
    """The PostgreSQL database at `url`, emptied (its public schema dropped), or a new SQLite file."""
    if url is None:
        return Database.connect(f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='wgbot-bench-')}/wgbot.sqlite3")
    db = Database.connect(url)
    async with db.engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    return db


async def main(sizes: list[int], repeat: int, url: str | None) -> None:
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores")
    results: dict[str, dict[int, float]] = {}
    for scale in sizes:
        db = await empty_database(url)
        began = time.perf_counter()
        vote_id = await build(db, scale)
        backend = "PostgreSQL" if db.is_postgres else "SQLite"
        print(f"{scale:>4}×  built in {time.perf_counter() - began:5.1f} s ({backend})")
        router = Router(db, registry_of(AREAS), Settings())
        for name, act in commands(router, db, vote_id).items():
            results.setdefault(name, {})[scale] = await timed(act, 5 if name == "audit verify" else repeat)
        await db.close()
    print(f"{'median ms':<26}" + "".join(f"{f'{s}×':>10}" for s in sizes) + "   growth   target")
    for name, by_size in results.items():
        small, large = by_size[sizes[0]], by_size[sizes[-1]]
        growth = large / small
        if name == "audit verify":
            verdict = "meets" if large < 1000 else "misses"
            target = "< 1 s"
        else:
            verdict = "meets" if growth <= 1.5 else "misses"
            target = "≤ 1.5×"
        cells = "".join(f"{by_size[s]:10.2f}" for s in sizes)
        print(f"{name:<26}{cells}   {growth:5.2f}×   {verdict} ({target})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--url", help="an empty PostgreSQL database to use (its public schema is dropped)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.sizes, arguments.repeat, arguments.url))
