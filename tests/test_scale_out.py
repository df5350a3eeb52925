"""Two `wgbot run` processes on one PostgreSQL database, as the README's scale-out describes:
Telegram in webhook mode behind one address, one Matrix sync at a time. The first leads (it
syncs Matrix, schedules, delivers); the second stands by, answering what the address sends it.
Killed with SIGKILL, the first is replaced within seconds; no command is answered twice."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from storage import groups, rooms
from storage.db import Database
from storage.models import RoomPurpose
from tests.alliance import member_organisation, person
from tests.conftest import free_port
from tests.matrix_peers import STORE_KEY, Member
from tests.telegram_emulator import BotApiEmulator

WGBOT = str(Path(sys.executable).with_name("wgbot"))
GROUP = -1001234567890
WAIT = 45.0  # a takeover: the lock's release, a follower's next try (5 s), a Matrix start


class LoadBalancer:
    """The one address Telegram posts to: the first process that takes the post gets it."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith(("content-type", "x-telegram"))}
        async with aiohttp.ClientSession() as http:
            for port in self.ports:
                try:
                    async with http.post(f"http://127.0.0.1:{port}{request.path}", data=body, headers=headers) as r:
                        return web.Response(status=r.status, body=await r.read())
                except aiohttp.ClientConnectionError:
                    continue  # that process is gone: the next one
        return web.Response(status=502)


@pytest.mark.sqlite_only  # (as in test_crashes) no automatic pair of backends: PostgreSQL only, as below
@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_two_processes_one_leads_the_other_takes_over_and_nothing_is_answered_twice(
    database_url, synapse, tmp_path
):
    db = Database.connect(database_url)
    bot_user, jana_user = await synapse.register(), await synapse.register()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(
        db,
        "Jana Novak",
        organisation=acme,
        roles=("chair:pfas",),
        accounts=(f"matrix:{jana_user.user_id}", "telegram:1001"),
    )
    emulator = BotApiEmulator()
    await emulator.start()
    jana_tg = emulator.person(1001, "Jana", "jana")
    emulator.group(GROUP, "PFAS working group", jana_tg)
    ports = [free_port(), free_port()]
    balancer = LoadBalancer(ports)
    await balancer.start()
    emulator.webhook_forward = f"http://127.0.0.1:{balancer.port}"
    jana = Member(synapse, jana_user, store=tmp_path / "jana-store")
    await jana.start()
    room = await jana.create_room(invite=[bot_user.user_id], encrypted=True)
    async with db.transaction() as session:
        pfas = await groups.find_group(session, "pfas")
        for platform, room_id in (("matrix", room), ("telegram", str(GROUP))):
            await rooms.bind_room(
                session, actor="t", platform=platform, room_id=room_id, purpose=RoomPurpose.GROUP, group=pfas
            )
    processes: list[asyncio.subprocess.Process] = []

    async def launch(number: int) -> asyncio.subprocess.Process:
        home = tmp_path / f"process-{number}"
        home.mkdir()
        (home / "config.toml").write_text(
            f'[database]\nurl = "{database_url}"\n[files]\npath = "{tmp_path / "files"}"\n'
            f'[matrix]\nhomeserver = "{synapse.url}"\nuser_id = "{bot_user.user_id}"\n'
            f'password = "{bot_user.password}"\nsync_timeout_ms = 1000\nallowed_inviters = ["{jana_user.user_id}"]\n'
            f'store_key = "{STORE_KEY}"\nstore_path = "{tmp_path / "matrix-store"}"\n'  # shared, as on one volume
            f'[telegram]\ntoken = "{emulator.token}"\napi_url = "{emulator.base_url}"\n'
            f'file_url = "{emulator.base_file_url}"\nrate_limiter = false\nmode = "webhook"\n'
            f'webhook_url = "https://bot.example.org/telegram"\nlisten = "127.0.0.1"\nport = {ports[number]}\n'
            f'secret_token = "the-webhook-secret"\n'
        )
        environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
        log = (home / "run.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            WGBOT, "-c", str(home / "config.toml"), "run", cwd=home, env=environment, stdout=log, stderr=log
        )
        processes.append(process)
        return process

    def log_of(number: int) -> str:
        return (tmp_path / f"process-{number}" / "run.log").read_text(errors="replace")

    async def matrix_asks(text: str) -> dict:
        return await jana.reply_from(bot_user.user_id, await jana.say(room, text), timeout=WAIT)

    async def telegram_asks(text: str):
        return await emulator.answer_to(await emulator.say(jana_tg, GROUP, text), timeout=WAIT)

    try:
        first = await launch(0)
        await jana.wait_until_joined(room, bot_user.user_id, timeout=WAIT)
        assert (await matrix_asks("/whoami"))["content"]["body"].startswith("You are Jana Novak")
        await launch(1)
        async with asyncio.timeout(WAIT):  # the second listens for webhooks, and only stands by on Matrix
            while "telegram transport started" not in log_of(1):
                await asyncio.sleep(0.2)
        assert (await telegram_asks("/whoami")).text.startswith("You are Jana Novak")
        assert (await matrix_asks("/wg list"))["content"]["body"].startswith("3 working groups")
        assert "matrix: signed in as" not in log_of(1), "two Matrix syncs at once"

        first.kill()  # SIGKILL: its database session, and with it the lead, goes
        await first.wait()
        assert (await matrix_asks("/whoami"))["content"]["body"].startswith("You are Jana Novak")
        assert "matrix: signed in as" in log_of(1)  # logged before it handles what it missed
        assert (await telegram_asks("/wg list")).text.startswith("3 working groups")
        opened = await matrix_asks('/vote open "Adopt the roadmap?"')
        assert opened["content"]["body"].startswith("Vote #1 is open")

        await asyncio.sleep(2)  # a second answer would have come by now
        bot_replies = [
            e
            for e in jana.seen
            if e["room_id"] == room
            and e["sender"] == bot_user.user_id
            and e["content"].get("m.relates_to", {}).get("m.in_reply_to")
        ]
        quoted = [e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] for e in bot_replies]
        assert len(quoted) == len(set(quoted)) == 4, "a command was answered twice (or not at all)"
        telegram_answers = [m.reply_to for m in emulator.bot_messages(GROUP) if m.reply_to]
        assert len(telegram_answers) == len(set(telegram_answers)) == 2
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await asyncio.wait_for(process.wait(), 30)
        await jana.stop()
        await balancer.stop()
        await emulator.stop()
        await db.close()
