"""How much slower than a bare python-telegram-bot bot is wgbot at answering on Telegram?

One Bot API emulator (the tests' own) hosting two bots, each a real PTB Application
long-polling it over HTTP:
  - a bare PTB bot whose CommandHandler answers `/ping` with `pong`;
  - wgbot answering `/whoami` (dedup mark, sender lookup, role check, a database read).
A person in each bot's group sends the command; the time until the bot's answer reaches the
emulator is one round trip. Pings alternate so both bots see the same conditions.
Target: wgbot's median ≤ 1.3 × the bare bot's.

    .venv/bin/python bench/telegram_latency.py [--rounds 200]
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

from telegram import ReplyParameters, Update
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from bot.app import App, chat_transports
from bot.areas import registry_of
from bot.config import Settings
from handlers import AREAS
from storage import migrate
from storage.db import Database
from tests.alliance import member_organisation, person
from tests.telegram_emulator import BotApiEmulator, BotApiServer


async def bare_bot(emulator: BotApiEmulator):
    async def ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text("pong", reply_parameters=ReplyParameters(update.message.message_id))

    app = (
        ApplicationBuilder()
        .token(emulator.token)
        .base_url(emulator.base_url)
        .base_file_url(emulator.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("ping", ping))
    await app.initialize()
    await app.start()
    await app.updater.start_polling(timeout=30)
    return app


async def round_trip(emulator: BotApiEmulator, user, chat_id: int, text: str) -> float:
    started = time.perf_counter()
    sent = await emulator.say(user, chat_id, text)
    await emulator.answer_to(sent)
    return (time.perf_counter() - started) * 1000


def describe(name: str, samples: list[float]) -> str:
    p95 = statistics.quantiles(samples, n=20)[-1]
    return f"{name:<24} median {statistics.median(samples):6.2f} ms   p95 {p95:6.2f} ms   (n={len(samples)})"


async def main(rounds: int) -> None:
    server = BotApiServer()
    await server.start()
    bare_api, wg_api = BotApiEmulator("PingBot", 7000000002), BotApiEmulator("WgBot", 7000000003)
    await bare_api.start(server)
    await wg_api.start(server)
    for api in (bare_api, wg_api):
        api.group(-100500, "PFAS", api.person(1001, "Jana"))

    work = Path(tempfile.mkdtemp(prefix="wgbot-bench-"))
    db = Database.connect(f"sqlite+aiosqlite:///{work / 'wgbot.sqlite3'}")
    await migrate.upgrade(db)
    acme = await member_organisation(db, "ACME GmbH")
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",), roles=("secretariat",))
    settings = Settings.model_validate(
        {
            "telegram": {
                "token": wg_api.token,
                "api_url": wg_api.base_url,
                "file_url": wg_api.base_file_url,
                "rate_limiter": False,  # the emulator does not limit; pacing would only add waits
            }
        }
    )
    wgbot = App(settings, db, chat_transports(settings, db, registry_of(AREAS)), AREAS)
    running = asyncio.create_task(wgbot.run())
    await wgbot.started.wait()
    bare = await bare_bot(bare_api)

    jana_bare, jana_wg = bare_api.users[1001], wg_api.users[1001]
    for _ in range(20):  # warm-up
        await round_trip(bare_api, jana_bare, -100500, "/ping")
        await round_trip(wg_api, jana_wg, -100500, "/whoami")
    bare_ms, wg_ms = [], []
    for _ in range(rounds):
        bare_ms.append(await round_trip(bare_api, jana_bare, -100500, "/ping"))
        wg_ms.append(await round_trip(wg_api, jana_wg, -100500, "/whoami"))

    print(describe("bare PTB bot  /ping", bare_ms))
    print(describe("wgbot         /whoami", wg_ms))
    ratio = statistics.median(wg_ms) / statistics.median(bare_ms)
    print(f"ratio (median wgbot / median bare) {ratio:.2f} — {'meets' if ratio <= 1.3 else 'misses'} the 1.3 target")

    await bare.updater.stop()
    await bare.stop()
    await bare.shutdown()
    wgbot.request_stop()
    await running
    await db.close()
    await bare_api.stop()
    await wg_api.stop()
    await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args().rounds))
