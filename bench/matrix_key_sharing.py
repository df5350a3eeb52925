"""What does it cost wgbot to share a room key with many devices in an encrypted room?

Key sharing is lazy: the bot shares its room key when it first sends after the room's members or
their devices changed, not when they change. That first send claims a one-time key per device
and Olm-encrypts the room key once per device, so it grows with the room; the sends after it
reuse the shared key. This measures both on one Synapse (the tests' harness), for rooms with a
growing number of member devices, each with its own crypto store as Element's would have.

    .venv/bin/python bench/matrix_key_sharing.py [--devices 10 50 100]
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

from nio import AsyncClient, AsyncClientConfig

from bot.transports.base import Reply, RoomRef
from bot.transports.matrix import ENCRYPTION_STATE
from storage import migrate
from storage.db import Database
from tests.matrix_peers import start_bot
from tests.synapse import Synapse


async def device(synapse: Synapse, work: Path, number: int) -> AsyncClient:
    """A member's device with its own store and keys uploaded, as a client that has started once."""
    user = await synapse.register()
    store = work / f"device-{number}"
    store.mkdir()
    client = AsyncClient(
        synapse.url,
        user.user_id,
        store_path=str(store),
        config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
    )
    client.access_token = user.access_token
    who = await client.whoami()
    client.restore_login(who.user_id, who.device_id, user.access_token)
    await client.keys_upload()
    return client


async def measure(synapse: Synapse, work: Path, count: int) -> tuple[float, float]:
    db = Database.connect(f"sqlite+aiosqlite:///{work / f'wgbot-{count}.sqlite3'}")
    await migrate.upgrade(db)
    bot_user = await synapse.register()
    (work / f"room-{count}").mkdir()
    devices = [await device(synapse, work / f"room-{count}", n) for n in range(count)]
    creator = devices[0]
    bot = await start_bot(
        synapse, bot_user, db, store_path=str(work / f"bot-store-{count}"), allowed_inviters=[creator.user_id]
    )
    created = await creator.room_create(
        name="Key sharing",
        invite=[bot_user.user_id, *(d.user_id for d in devices[1:])],
        initial_state=[ENCRYPTION_STATE],
    )
    for member in devices[1:]:
        await member.join(created.room_id)
    transport = bot.transport
    async with asyncio.timeout(30):  # the bot's sync has brought every member's join
        while getattr(transport.client.rooms.get(created.room_id), "joined_count", 0) < count + 1:
            await asyncio.sleep(0.05)
    room = RoomRef("matrix", created.room_id)
    started = time.perf_counter()
    await transport.send(room, Reply("The first message: the room key goes to every device."))
    first = (time.perf_counter() - started) * 1000
    later = []
    for n in range(5):
        started = time.perf_counter()
        await transport.send(room, Reply(f"Message {n + 2}: the shared key is reused."))
        later.append((time.perf_counter() - started) * 1000)
    await bot.stop()
    for member in devices:
        await member.close()
    await db.close()
    return first, statistics.median(later)


async def main(counts: list[int]) -> None:
    work = Path(tempfile.mkdtemp(prefix="wgbot-bench-keys-"))
    synapse = Synapse(work)
    synapse.start()
    try:
        print(f"{'devices':>8}  {'first send (shares the key)':>28}  {'later sends (median)':>21}")
        for count in counts:
            first, later = await measure(synapse, work, count)
            print(f"{count:>8}  {first:>25.0f} ms  {later:>18.1f} ms")
    finally:
        synapse.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[10, 50, 100])
    asyncio.run(main(parser.parse_args().devices))
