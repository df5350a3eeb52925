"""A burst of votes on Matrix: N representatives press within a few seconds, wgbot vs a bare bot.

One Synapse on 127.0.0.1 (the tests' harness). N representatives of N member organisations
are in two rooms: wgbot's group room with an open vote, and a room with a bare matrix-nio bot
that answers `!ping` with `pong` (no database). Each representative sends `/vote <id> yes` to
wgbot and `!ping` to the bare bot, all N spread evenly over `--spread` seconds (the burst after
a reminder), the two bursts one after the other. One observer's /sync sees every reply; a
reply's latency is from its command's send to the observer seeing it. Checks that every ballot
was counted. Target: all counted, and wgbot's median reply ≤ 1.2 × the bare bot's.

    .venv/bin/python bench/matrix_burst.py [--voters 100] [--spread 3]
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
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from sqlalchemy import func, select

from bench.matrix_latency import WHOLE_TIMELINE, bare_bot
from storage import groups, migrate, rooms, votes
from storage.db import Database
from storage.models import Ballot, RoomPurpose, utcnow
from storage.people import identify
from storage.rules.voting import Majority
from tests.alliance import member_organisation, person
from tests.matrix_peers import Member, start_bot
from tests.synapse import MatrixUser, Synapse


async def send(http: aiohttp.ClientSession, synapse: Synapse, user: MatrixUser, room: str, text: str) -> str:
    url = f"{synapse.url}/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/{os.urandom(8).hex()}"
    headers = {"Authorization": f"Bearer {user.access_token}"}
    async with http.put(url, json={"msgtype": "m.text", "body": text}, headers=headers) as answer:
        return (await answer.json())["event_id"]


async def join(http: aiohttp.ClientSession, synapse: Synapse, user: MatrixUser, room: str) -> None:
    url = f"{synapse.url}/_matrix/client/v3/join/{quote(room)}"
    async with http.post(url, json={}, headers={"Authorization": f"Bearer {user.access_token}"}) as answer:
        assert answer.status == 200, await answer.text()


async def burst(
    http: aiohttp.ClientSession,
    synapse: Synapse,
    observer: Member,
    voters: list[MatrixUser],
    room: str,
    text: str,
    bot_id: str,
    spread: float,
) -> list[float]:
    """Every voter sends `text` at their moment of the spread; the latency of each reply, in ms."""
    sent_at: dict[str, float] = {}

    async def one(n: int, voter: MatrixUser) -> None:
        await asyncio.sleep(spread * n / len(voters))
        began = time.perf_counter()
        sent_at[await send(http, synapse, voter, room, text)] = began

    await asyncio.gather(*(one(n, voter) for n, voter in enumerate(voters)))
    latencies = []
    for event_id, began in sent_at.items():
        reply = await observer.reply_from(bot_id, event_id, timeout=120)
        latencies.append((reply["observed"] - began) * 1000)
    return latencies


async def main(voter_count: int, spread: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="wgbot-burst-"))
    synapse = Synapse(work)
    synapse.start()
    try:
        bare_user, wg_user, chair_user = [await synapse.register() for _ in range(3)]
        voters = [await synapse.register() for _ in range(voter_count)]

        db = Database.connect(f"sqlite+aiosqlite:///{work / 'wgbot.sqlite3'}")
        await migrate.upgrade(db)
        async with db.transaction() as session:
            await groups.add_group(session, actor="bench", name="PFAS")
        # The observer creates the rooms: the secretariat, whose invitations wgbot accepts.
        await person(db, "Sam", accounts=(f"matrix:{chair_user.user_id}",), roles=("secretariat",))
        for n, voter in enumerate(voters):
            organisation = await member_organisation(db, f"Member {n:03d}", joins=("pfas",))
            await person(db, f"Voter {n}", organisation=organisation, accounts=(f"matrix:{voter.user_id}",))

        bare, bare_sync = await bare_bot(synapse, bare_user)
        wgbot = await start_bot(synapse, wg_user, db, sync_timeout_ms=30000)
        observer = Observer(synapse, chair_user)
        await observer.start()
        bare_room = await observer.create_room(invite=[bare_user.user_id, *(v.user_id for v in voters)])
        wg_room = await observer.create_room(invite=[wg_user.user_id, *(v.user_id for v in voters)])
        async with aiohttp.ClientSession() as http:
            for voter in voters:
                await join(http, synapse, voter, bare_room)
                await join(http, synapse, voter, wg_room)
            for room, bot in ((bare_room, bare_user), (wg_room, wg_user)):
                await observer.wait_until_joined(room, bot.user_id)
            async with db.transaction() as session:
                pfas = await groups.find_group(session, "pfas")
                await rooms.bind_room(
                    session, actor="bench", platform="matrix", room_id=wg_room, purpose=RoomPurpose.GROUP, group=pfas
                )
                opener = await identify(session, "matrix", voters[0].user_id, "Voter 0")
                rules = votes.VoteRules(
                    "Adopt?", ("yes", "no", "abstain"), utcnow() + timedelta(days=7), 0.5, Majority.SIMPLE
                )
                vote = await votes.open_vote(session, actor=opener, group=pfas, rules=rules, now=utcnow())

            print(f"{voter_count} representatives within {spread:g} s; load average {os.getloadavg()[0]:.2f}")
            bare_ms = await burst(http, synapse, observer, voters, bare_room, "!ping", bare_user.user_id, spread)
            wg_ms = await burst(
                http, synapse, observer, voters, wg_room, f"/vote {vote.id} yes", wg_user.user_id, spread
            )

        async with db.transaction() as session:
            counted = await session.scalar(select(func.count()).select_from(Ballot).where(Ballot.vote_id == vote.id))
        for name, samples in (("bare nio bot  !ping", bare_ms), ("wgbot         /vote", wg_ms)):
            p95 = statistics.quantiles(samples, n=20)[-1]
            print(
                f"{name:<22} median {statistics.median(samples):7.1f} ms   p95 {p95:7.1f} ms   max {max(samples):7.1f} ms"
            )
        ratio = statistics.median(wg_ms) / statistics.median(bare_ms)
        met = counted == voter_count and ratio <= 1.2
        print(f"ballots counted {counted} of {voter_count}; median ratio {ratio:.2f}")
        print(f"{'meets' if met else 'misses'} the target (all counted, median ≤ 1.2 × the bare bot's)")

        await wgbot.stop()
        await observer.stop()
        bare_sync.cancel()
        await asyncio.gather(bare_sync, return_exceptions=True)
        await bare.close()
        await db.close()
    finally:
        synapse.stop()


class Observer(Member):
    """A member whose sync sees every event of a burst, each stamped with when it arrived."""

    async def _sync(self, since: str) -> None:
        while True:
            answer = await self.client.sync(timeout=2000, since=since, sync_filter=WHOLE_TIMELINE)
            for room_id, info in answer.rooms.join.items():
                for event in info.timeline.events:
                    self.seen.append({**event.source, "room_id": room_id, "observed": time.perf_counter()})
            since = answer.next_batch
            self._news.set()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=100)
    parser.add_argument("--spread", type=float, default=3.0, help="seconds over which the presses come")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.voters, arguments.spread))
