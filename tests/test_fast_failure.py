"""A platform that cannot be reached: at start, one line and exit 1 within seconds, with none of
the libraries' back-off chatter; once running, the bot keeps trying quietly (one warning a
minute at most) and comes back by itself. Real `wgbot run` processes, a real Synapse behind a
relay the test takes down."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from storage import groups, rooms
from storage.db import Database
from storage.models import RoomPurpose
from tests.alliance import member_organisation, person
from tests.conftest import free_port
from tests.matrix_peers import STORE_KEY, Member
from tests.relay import Outage
from tests.telegram_emulator import BotApiEmulator, User
from tests.wgbot_process import WGBOT, database_for

GROUP = -1001234567890
START_LIMIT = 15.0  # seconds a start that cannot reach its platform may take to say so


async def run_until_it_ends(home: Path, config: str) -> tuple[int, str, float]:
    """`wgbot run` with `config`: its exit status, what it wrote, how long it took."""
    (home / "config.toml").write_text(f'[database]\nurl = "sqlite+aiosqlite:///{home / "wgbot.sqlite3"}"\n' + config)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
    began = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        WGBOT, "run", cwd=home, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode(), time.monotonic() - began


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A port that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.transport.abort()
        server.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the probe is


async def wgbot_run(home: Path) -> tuple[asyncio.subprocess.Process, Path]:
    """`wgbot run` in `home` with its config.toml and no WGBOT_ variables, writing to run.log."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
    log = home / "run.log"
    with log.open("wb") as written:
        bot = await asyncio.create_subprocess_exec(
            WGBOT, "run", cwd=home, env=environment, stdout=written, stderr=written
        )
    return bot, log


def matrix_config(homeserver: str) -> str:
    return (
        f'[matrix]\nhomeserver = "{homeserver}"\nuser_id = "@wgbot:example.org"\npassword = "secret"\n'
        f'store_key = "{STORE_KEY}"\n'
    )


def assert_one_line(output: str, expected: str, took: float) -> None:
    last = output.strip().splitlines()[-1]
    assert last.startswith(expected), output
    assert took < START_LIMIT, f"{took:.1f} s: {output}"
    assert "Timed out, sleeping" not in output and "Traceback" not in output, output


async def test_a_homeserver_that_is_not_there_is_one_line_at_once(tmp_path):
    port = closed_port()
    status, output, took = await run_until_it_ends(tmp_path, matrix_config(f"http://127.0.0.1:{port}"))
    assert status == 1
    assert_one_line(output, f"wgbot: matrix: cannot reach http://127.0.0.1:{port} (", took)


async def test_an_address_that_is_no_homeserver_says_so(tmp_path):
    plain = free_port()
    server = await asyncio.create_subprocess_exec(
        "python3", "-m", "http.server", str(plain), "--bind", "127.0.0.1",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with asyncio.timeout(10):
            while closed_port_is(plain):
                await asyncio.sleep(0.1)
        status, output, took = await run_until_it_ends(tmp_path, matrix_config(f"http://127.0.0.1:{plain}"))
    finally:
        server.kill()
        await server.wait()
    assert status == 1
    assert_one_line(output, f"wgbot: matrix: http://127.0.0.1:{plain} is no Matrix homeserver (HTTP 404", took)


async def test_a_homeserver_that_never_answers_is_given_up_on_in_seconds(tmp_path):
    async with silent_server() as port:
        status, output, took = await run_until_it_ends(tmp_path, matrix_config(f"http://127.0.0.1:{port}"))
    assert status == 1
    assert_one_line(output, f"wgbot: matrix: http://127.0.0.1:{port} did not answer within 10 s", took)


async def test_an_unreachable_bot_api_is_one_line_at_once(tmp_path):
    port = closed_port()
    config = f'[telegram]\ntoken = "123456:{"A" * 35}"\napi_url = "http://127.0.0.1:{port}/bot"\n'
    status, output, took = await run_until_it_ends(tmp_path, config)
    assert status == 1
    assert_one_line(output, f"wgbot: telegram: cannot reach http://127.0.0.1:{port}/bot", took)


@pytest.mark.sqlite_only
async def test_a_running_bot_that_loses_its_homeserver_retries_quietly_and_comes_back(database_url, synapse, tmp_path):
    db = Database.connect(database_url)
    bot_user, jana_user = await synapse.register(), await synapse.register()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=(f"matrix:{jana_user.user_id}",))
    jana = Member(synapse, jana_user, store=tmp_path / "jana-store")
    await jana.start()
    room = await jana.create_room(invite=[bot_user.user_id])
    async with db.transaction() as session:
        pfas = await groups.find_group(session, "pfas")
        await rooms.bind_room(
            session, actor="t", platform="matrix", room_id=room, purpose=RoomPurpose.GROUP, group=pfas
        )
    await db.close()
    relay = Outage(synapse.port)
    await relay.up()
    health = free_port()
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "{database_url}"\n[http]\nlisten = "127.0.0.1:{health}"\n'
        f'[matrix]\nhomeserver = "http://127.0.0.1:{relay.port}"\nuser_id = "{bot_user.user_id}"\n'
        f'password = "{bot_user.password}"\nsync_timeout_ms = 2000\nstore_key = "{STORE_KEY}"\n'
        f'store_path = "{tmp_path / "store"}"\nallowed_inviters = ["{jana_user.user_id}"]\n'
    )
    bot, log = await wgbot_run(tmp_path)
    try:
        await jana.wait_until_joined(room, bot_user.user_id, timeout=60)
        await until_healthz(health, 200)
        await relay.down()
        began = len(log.read_text())
        await until_healthz(health, 503)  # after the sync's long poll (2 s) and its grace (15 s)
        await asyncio.sleep(10)  # nio and the sync keep trying meanwhile
        during = log.read_text()[began:]
        assert bot.returncode is None, during
        warned = [line for line in during.splitlines() if " WARNING " in line or " ERROR " in line]
        assert sum("sync failed" in line for line in warned) <= 1, during
        assert sum("Timed out, sleeping" in line for line in warned) <= 1, during
        assert "Traceback" not in during
        await relay.up()
        reply = await jana.reply_from(bot_user.user_id, await jana.say(room, "/whoami"), timeout=90)
        assert reply["content"]["body"].startswith("You are Jana Novak")
        await until_healthz(health, 200)
        assert "matrix: connected again" in log.read_text()
    finally:
        bot.terminate()
        await bot.wait()
        await jana.stop()
        await relay.down()


async def healthz(port: int) -> int | None:
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as answer:
            return answer.status
    except aiohttp.ClientConnectionError:
        return None


def closed_port_is(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class BehindRelay:
    """`wgbot run` on Telegram, reaching the Bot API emulator through a relay the test takes down."""

    emulator: BotApiEmulator
    jana: User
    relay: Outage
    bot: asyncio.subprocess.Process
    log: Path
    health: int


@asynccontextmanager
async def telegram_behind_a_relay(home: Path) -> AsyncIterator[BehindRelay]:
    emulator = BotApiEmulator()
    await emulator.start()
    jana = emulator.person(1001, "Jana")
    emulator.group(GROUP, "PFAS", jana)
    db = await database_for(home, GROUP)
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",))
    await db.close()
    relay = Outage(int(emulator.url.rsplit(":", 1)[1]))
    await relay.up()
    health = free_port()
    through = f"http://127.0.0.1:{relay.port}"
    (home / "config.toml").write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{home / "wgbot.sqlite3"}"\n[http]\nlisten = "127.0.0.1:{health}"\n'
        f'[telegram]\ntoken = "{emulator.token}"\napi_url = "{through}/bot"\nfile_url = "{through}/file/bot"\n'
        "poll_timeout = 1\nrate_limiter = false\n"
    )
    bot, log = await wgbot_run(home)
    try:
        await emulator.answer_to(await emulator.say(jana, GROUP, "/whoami"), timeout=30)
        yield BehindRelay(emulator, jana, relay, bot, log, health)
    finally:
        if bot.returncode is None:
            bot.terminate()
            await bot.wait()
        await relay.down()
        await emulator.stop()


async def test_a_running_bot_that_loses_the_bot_api_retries_quietly_and_comes_back(tmp_path):
    async with telegram_behind_a_relay(tmp_path) as running:
        await until_healthz(running.health, 200)
        await running.relay.down()
        began = len(running.log.read_text())
        await until_healthz(running.health, 503)
        await asyncio.sleep(10)  # PTB's Updater keeps polling meanwhile
        during = running.log.read_text()[began:]
        assert running.bot.returncode is None, during
        assert sum("polling failed" in line for line in during.splitlines()) == 1, during
        assert "Traceback" not in during and " ERROR " not in during, during
        await running.relay.up()
        asked = await running.emulator.say(running.jana, GROUP, "/whoami")
        reply = await running.emulator.answer_to(asked, timeout=60)
        assert reply.text.startswith("You are Jana Novak")
        await until_healthz(running.health, 200)
        assert "telegram: connected again" in running.log.read_text()


async def test_a_bot_stopped_while_the_bot_api_is_away_says_so_in_one_line(tmp_path):
    """At a stop PTB polls once more to confirm what it fetched; with the API away that fails,
    which it handles, and says so: one line, not a traceback."""
    async with telegram_behind_a_relay(tmp_path) as running:
        await asyncio.sleep(1)  # the answer's HTTP response back to the bot, too
        await running.relay.down()
        running.bot.terminate()
        assert await asyncio.wait_for(running.bot.wait(), 30) == 0
    said = running.log.read_text()
    assert "Traceback" not in said, said
    [line] = [line for line in said.splitlines() if "one more time to mark all fetched updates" in line]
    assert " ERROR telegram.ext.Updater: " in line and line.endswith(")")  # the cause, in brackets


async def until_healthz(port: int, status: int, timeout: float = 40.0) -> None:
    async with asyncio.timeout(timeout):
        while await healthz(port) != status:
            await asyncio.sleep(0.3)


@pytest.mark.sqlite_only
async def test_a_bot_its_homeserver_signs_out_stops_as_a_failure_so_its_supervisor_restarts_it(synapse, tmp_path):
    bot_user = await synapse.register()
    health = free_port()
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "wgbot.sqlite3"}"\n[http]\nlisten = "127.0.0.1:{health}"\n'
        f'[matrix]\nhomeserver = "{synapse.url}"\nuser_id = "{bot_user.user_id}"\npassword = "{bot_user.password}"\n'
        f'sync_timeout_ms = 2000\nstore_key = "{STORE_KEY}"\nstore_path = "{tmp_path / "store"}"\n'
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
    bot = await asyncio.create_subprocess_exec(
        WGBOT, "run", cwd=tmp_path, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        await until_healthz(health, 200)
        async with aiohttp.ClientSession() as http:  # the operator, elsewhere, signs out every session of the bot
            login = {"type": "m.login.password", "user": bot_user.user_id, "password": bot_user.password}
            async with http.post(f"{synapse.url}/_matrix/client/v3/login", json=login) as answer:
                token = (await answer.json())["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            async with http.post(f"{synapse.url}/_matrix/client/v3/logout/all", headers=headers, json={}) as answer:
                assert answer.status == 200
        output, _ = await asyncio.wait_for(bot.communicate(), 30)
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    said = output.decode()
    assert bot.returncode == 1, said  # systemd's Restart=on-failure and compose start it again
    assert "matrix: the homeserver signed the bot out" in said
    assert said.strip().splitlines()[-1] == "wgbot: the matrix connection ended; stopped"
    assert "Traceback" not in said
