"""A second wgbot beside a running one, with the web view and health check on, as the Dockerfile
and the systemd unit turn them on: the operator's console serves no HTTP, a second `wgbot run`
stands by with one line about the port, and takes the port over when the first is killed.
Real processes, on SQLite (the lock file) and PostgreSQL (the advisory lock)."""

from __future__ import annotations

import asyncio
import os

import aiohttp

from storage.db import Database
from tests.conftest import free_port
from tests.wgbot_process import WGBOT, Bot, pfas_on_telegram

GROUP = -1001234567890
WAIT = 45.0  # a takeover: the lock's release, a follower's next try (5 s), Telegram's start


async def served_by_someone(port: int) -> int | None:
    """The status /healthz answers with on `port`, or None when nothing listens there."""
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as answer:
            return answer.status
    except aiohttp.ClientConnectionError:
        return None


async def until(check, timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.2)


async def test_one_process_serves_the_port_the_console_none_and_a_standby_takes_it_over(tmp_path, database_url):
    db = Database.connect(database_url)
    emulator, jana = await pfas_on_telegram(db, GROUP)
    port = free_port()
    web = f'[http]\nlisten = "127.0.0.1:{port}"\npages = "public"\n'
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = Bot(tmp_path / "first", emulator, GROUP, extra_config=web, url=database_url)
    second = Bot(tmp_path / "second", emulator, GROUP, extra_config=web, url=database_url)
    try:
        await first.start(jana)
        assert await served_by_someone(port) == 200

        # The operator's console, on the very same config: it answers, and serves nothing.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
        console = await asyncio.create_subprocess_exec(
            WGBOT, "-c", str(first.config), "console", "--as", "sam", "--room", "secretariat",
            cwd=tmp_path / "first", env=environment,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(console.communicate(b"/whoami\n"), 60)
        shown = output.decode()
        assert console.returncode == 0, shown
        assert "You are Sam Secretariat" in shown and "Traceback" not in shown
        assert "cannot listen" not in shown  # it did not even try
        assert await served_by_someone(port) == 200

        # A second `wgbot run`: it stands by, and says in one line why it does not serve.
        await second.start(jana)  # the leader answers; the second is up beside it
        await until(lambda: _said(second, "http: cannot listen on 127.0.0.1:"))
        assert "Traceback" not in second.log() and second.process.returncode is None

        await first.kill()  # SIGKILL: the port and the lead come free
        await until(lambda: _said(second, "telegram transport started"))
        await until(lambda: _answers(port))
        reply = await emulator.answer_to(await emulator.say(jana, GROUP, "/whoami"), timeout=WAIT)
        assert reply.text.startswith("You are Jana Novak")
        assert "Traceback" not in second.log()
    finally:
        await second.stop()
        await first.stop()
        await emulator.stop()
        await db.close()


async def _said(bot: Bot, line: str) -> bool:
    return line in bot.log()


async def _answers(port: int) -> bool:
    return await served_by_someone(port) == 200
