"""/healthz, /readyz and /metrics, asked over HTTP as a container runtime or Prometheus would,
of wgbot serving Telegram (the real PTB Application against the Bot API emulator)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot.app import App, chat_transports
from bot.areas import registry_of
from bot.config import Settings
from handlers import AREAS
from storage import notices
from tests.alliance import member_organisation, person
from tests.conftest import free_port
from tests.telegram_emulator import BotApiEmulator

pytestmark = pytest.mark.sqlite_only  # the HTTP side is under test here; storage is tested elsewhere


def sample(metrics: str, name: str) -> float | None:
    """The value of one sample line of Prometheus's text format, e.g. 'wgbot_x{a="b"}'."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_health_readiness_and_metrics_say_how_the_bot_is_doing(db):
    emulator = BotApiEmulator()
    await emulator.start()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",))
    jana = emulator.person(1001, "Jana", "jana")
    port = free_port()
    http_settings = {"listen": f"127.0.0.1:{port}", "pages": "public"}
    settings = Settings.model_validate({"telegram": emulator.bot_settings(), "http": http_settings})
    app = App(settings, db, chat_transports(settings, db, registry_of(AREAS)), AREAS)
    running = asyncio.create_task(app.run())
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            await asyncio.wait_for(app.started.wait(), 10)
            async with http.get(f"{base}/groups/pfas") as page:  # the areas' pages, as the bot serves them
                assert page.status == 200 and "<h1>PFAS" in await page.text()
            async with http.get(f"{base}/readyz") as ready:
                assert ready.status == 200
            async with http.get(f"{base}/healthz") as health:
                assert (health.status, await health.json()) == (200, {"status": "ok"})

            await emulator.answer_to(await emulator.say(jana, None, "/start"))  # opens the private chat
            async with http.get(f"{base}/metrics") as scraped:  # the process's counters, since it began
                before = sample(await scraped.text(), 'wgbot_commands_total{command="whoami",outcome="ok"}') or 0
            await emulator.answer_to(await emulator.say(jana, None, "/whoami"))
            async with db.transaction() as session:
                await notices.to_room(session, "matrix", "!elsewhere:example.org", "for a platform not served here")
            async with http.get(f"{base}/metrics") as scraped:
                assert scraped.status == 200 and scraped.headers["Content-Type"].startswith("text/plain")
                metrics = await scraped.text()
            assert sample(metrics, 'wgbot_commands_total{command="whoami",outcome="ok"}') == before + 1
            assert sample(metrics, "wgbot_command_seconds_count") >= 1
            assert sample(metrics, 'wgbot_platform_connected{platform="telegram"}') == 1
            assert sample(metrics, 'wgbot_outbox_notices{platform="matrix",status="pending"}') == 1
            named = "\n".join(line.rsplit(" ", 1)[0] for line in metrics.splitlines())  # without the figures
            assert "Jana" not in named and "1001" not in named  # figures, never who said what

            errors_before = sample(metrics, 'wgbot_platform_errors_total{platform="telegram"}') or 0
            await emulator.stop()  # Telegram goes away: polls fail
            async with asyncio.timeout(20):
                while True:
                    async with http.get(f"{base}/healthz") as health:
                        if health.status == 503:
                            assert (await health.json())["problems"] == {"telegram": "not connected"}
                            break
                    await asyncio.sleep(0.2)
            async with http.get(f"{base}/metrics") as scraped:
                metrics = await scraped.text()
            assert sample(metrics, 'wgbot_platform_errors_total{platform="telegram"}') > errors_before
            async with http.get(f"{base}/readyz") as ready:
                assert ready.status == 200  # started, and not stopping: a restart is for /healthz to ask
    finally:
        app.request_stop()
        await asyncio.wait_for(running, 30)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{base}/readyz")  # gone with the bot
