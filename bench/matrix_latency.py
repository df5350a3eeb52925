"""How much slower than a bare matrix-nio bot is wgbot at answering on Matrix?

One Synapse on 127.0.0.1 (the tests' harness), two bots, one member client timing each
round trip from sending a command to seeing the answer arrive through its own /sync:
  - a bare matrix-nio bot answering `!ping` with `pong` (no database, no router);
  - wgbot answering `/whoami` (dedup mark, sender lookup, role check, a database read);
  - wgbot answering `/whoami` in an end-to-end encrypted room (the member's client encrypts
    with its own store, as Element does; the bot decrypts, answers and encrypts).
Rounds alternate between the three so all see the same server conditions.
Targets: wgbot's median ≤ 1.15 × the bare bot's; encrypted, ≤ 1.15 × the bare bot's plain
round trip and ≤ 1.1 × wgbot's own plain one.

    .venv/bin/python bench/matrix_latency.py [--rounds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    MatrixRoom,
    RoomMessageText,
)

from storage import migrate
from storage.db import Database
from tests.alliance import member_organisation, person
from tests.matrix_peers import Member, start_bot
from tests.synapse import Synapse

# A burst brings more events than a sync's default timeline (10): ask for all of them, as wgbot
# fetches a gap itself.
WHOLE_TIMELINE = {"room": {"timeline": {"limit": 500}}}


async def bare_bot(synapse: Synapse, user) -> tuple[AsyncClient, asyncio.Task]:
    client = AsyncClient(
        synapse.url, user.user_id, config=AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False)
    )
    client.access_token, client.user_id = user.access_token, user.user_id

    async def on_message(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.body == "!ping":
            await client.room_send(
                room.room_id,
                "m.room.message",
                {
                    "msgtype": "m.notice",
                    "body": "pong",
                    "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}},
                },
            )

    async def on_invite(room, event) -> None:
        await client.join(room.room_id)

    first = await client.sync(timeout=0)
    client.add_event_callback(on_message, RoomMessageText)
    client.add_event_callback(on_invite, InviteMemberEvent)
    return client, asyncio.create_task(
        client.sync_forever(timeout=30000, since=first.next_batch, sync_filter=WHOLE_TIMELINE)
    )


async def round_trip(member: Member, room: str, text: str, bot_id: str) -> float:
    started = time.perf_counter()
    event_id = await member.say(room, text)
    await member.reply_from(bot_id, event_id)
    return (time.perf_counter() - started) * 1000


def describe(name: str, samples: list[float]) -> str:
    p95 = statistics.quantiles(samples, n=20)[-1]
    return f"{name:<24} median {statistics.median(samples):6.1f} ms   p95 {p95:6.1f} ms   (n={len(samples)})"


async def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="wgbot-bench-"))
    synapse = Synapse(work)
    synapse.start()
    try:
        bare_user = await synapse.register()
        wg_user = await synapse.register()
        member_user = await synapse.register()

        db = Database.connect(f"sqlite+aiosqlite:///{work / 'wgbot.sqlite3'}")
        await migrate.upgrade(db)
        acme = await member_organisation(db, "ACME GmbH")
        await person(
            db, "Jana Novak", organisation=acme, accounts=(f"matrix:{member_user.user_id}",), roles=("secretariat",)
        )

        bare, bare_sync = await bare_bot(synapse, bare_user)
        wgbot = await start_bot(synapse, wg_user, db, sync_timeout_ms=30000)
        member = Member(synapse, member_user, store=work / "member-store")
        await member.start()
        bare_room = await member.create_room(invite=[bare_user.user_id])
        wg_room = await member.create_room(invite=[wg_user.user_id])
        sealed_room = await member.create_room(invite=[wg_user.user_id], encrypted=True)
        for room, user in ((bare_room, bare_user), (wg_room, wg_user), (sealed_room, wg_user)):
            await member.wait_until_joined(room, user.user_id)

        for _ in range(5):  # warm-up: connections, caches, SQLite pages, the room keys
            await round_trip(member, bare_room, "!ping", bare_user.user_id)
            await round_trip(member, wg_room, "/whoami", wg_user.user_id)
            await round_trip(member, sealed_room, "/whoami", wg_user.user_id)
        bare_ms, wg_ms, sealed_ms = [], [], []
        for _ in range(rounds):
            bare_ms.append(await round_trip(member, bare_room, "!ping", bare_user.user_id))
            wg_ms.append(await round_trip(member, wg_room, "/whoami", wg_user.user_id))
            sealed_ms.append(await round_trip(member, sealed_room, "/whoami", wg_user.user_id))

        print(describe("bare nio bot  !ping", bare_ms))
        print(describe("wgbot         /whoami", wg_ms))
        print(describe("wgbot, e2e    /whoami", sealed_ms))
        for what, numerator, denominator, target in (
            ("wgbot / bare", wg_ms, bare_ms, 1.15),
            ("wgbot e2e / bare", sealed_ms, bare_ms, 1.15),
            ("wgbot e2e / wgbot", sealed_ms, wg_ms, 1.10),
        ):
            ratio = statistics.median(numerator) / statistics.median(denominator)
            verdict = "meets" if ratio <= target else "misses"
            print(f"ratio {what:<18} {ratio:.2f} — {verdict} the {target:.2f} target")

        await wgbot.stop()
        await member.stop()
        bare_sync.cancel()
        await asyncio.gather(bare_sync, return_exceptions=True)
        await bare.close()
        await db.close()
    finally:
        synapse.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    asyncio.run(main(parser.parse_args().rounds))
