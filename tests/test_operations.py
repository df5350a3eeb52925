"""What an operator's tools (systemd, a container runtime) do to `wgbot run` is honoured at any
moment: a SIGTERM while the homeserver is still being tried stops the bot within seconds."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

WGBOT = str(Path(sys.executable).with_name("wgbot"))


async def test_sigterm_while_the_homeserver_does_not_answer_stops_the_bot_within_seconds(tmp_path):
    silent: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)  # a homeserver behind a hung proxy: the connection opens, no answer comes

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "wgbot.sqlite3"}"\n'
        f'[matrix]\nhomeserver = "http://127.0.0.1:{port}"\nuser_id = "@wgbot:example.org"\n'
        f'store_path = "{tmp_path / "store"}"\n'
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")} | {
        "WGBOT_MATRIX__PASSWORD": "a password",
        "WGBOT_MATRIX__STORE_KEY": "a store key for the test",
    }
    await (await asyncio.create_subprocess_exec(WGBOT, "db", "upgrade", cwd=tmp_path, env=environment)).wait()
    bot = await asyncio.create_subprocess_exec(
        WGBOT, "run", cwd=tmp_path, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(20):
            while not silent:  # the bot is trying to log in
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        bot.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, err = await asyncio.wait_for(bot.communicate(), 30)
        took = time.monotonic() - sent
    finally:
        if bot.returncode is None:
            bot.kill()
        server.close()
    assert took < 10, f"SIGTERM took {took:.1f} s"
    assert bot.returncode == 0, err.decode()
    assert "Unclosed client session" not in err.decode() and "Traceback" not in err.decode(), err.decode()
