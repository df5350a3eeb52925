"""No secret reaches the log, at any level: not the Bot API token that every request URL
carries, not a Matrix access token or password. Checked on the real programs at DEBUG."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from bot.config import Settings
from bot.logs import REDACTED, Redactor, keep_secrets_out
from tests.alliance import member_organisation, person
from tests.matrix_peers import STORE_KEY, Member, matrix_section, start_bot
from tests.telegram_emulator import BotApiEmulator
from tests.wgbot_process import Bot, database_for

pytestmark = pytest.mark.sqlite_only
GROUP = -1004445556667


@pytest.mark.parametrize(
    ("logged", "secret"),
    [
        ("HTTP Request: POST https://api.telegram.org/bot123456:AAE-secret_Token/getUpdates", "AAE-secret_Token"),
        ("GET /file/bot123456:AAE-secret_Token/documents/x.pdf", "AAE-secret_Token"),
        ("token 7654321:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi in a traceback", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        ("Authorization: Bearer syt_YWxpY2U_wFNhAbLkWjhNaYvAqGeL_2ZzX8D", "syt_YWxpY2U"),
        ('{"access_token": "MDAxsecretvalue", "device_id": "ABC"}', "MDAxsecretvalue"),
        ("https://matrix.example.org/_matrix/client/v3/sync?access_token=abc.def&since=s1", "abc.def"),
        ("{'type': 'm.login.password', 'password': 'hunter22'}", "hunter22"),
    ],
)
def test_every_shape_of_secret_is_blanked(logged, secret):
    redacted = Redactor().redact(logged)
    assert secret not in redacted and REDACTED in redacted


def test_a_known_secret_is_blanked_in_the_message_its_arguments_and_its_traceback():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(Redactor(["correct horse battery"]))
    logger = logging.getLogger("wgbot.test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("logging in with %s", "correct horse battery")
        try:
            raise RuntimeError("the password correct horse battery was refused")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert "correct horse battery" not in out.getvalue() and out.getvalue().count(REDACTED) == 3


async def test_wgbot_run_at_debug_on_telegram_logs_no_token(tmp_path):
    emulator = BotApiEmulator()
    await emulator.start()
    jana = emulator.person(1001, "Jana")
    emulator.group(GROUP, "PFAS", jana)
    db = await database_for(tmp_path, GROUP)
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",))
    await db.close()
    bot = Bot(tmp_path, emulator, GROUP, extra_config='[logging]\nlevel = "DEBUG"\n')
    try:
        await bot.start(jana)  # polls, answers /whoami
        await emulator.answer_to(await emulator.say(jana, GROUP, "/wg list"))
    finally:
        await bot.stop()
        await emulator.stop()
    log = bot.log()
    assert "getUpdates" in log or "DEBUG" in log  # the log did run at DEBUG
    secret = emulator.token.split(":", 1)[1]
    assert secret not in log


async def test_the_matrix_transport_at_debug_logs_no_access_token_or_password(synapse, db):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    bot_user, jana_user = await synapse.register(), await synapse.register()
    settings = Settings.model_validate({"matrix": matrix_section(synapse, bot_user)})
    keep_secrets_out([handler], settings)
    jana = Member(synapse, jana_user)
    await jana.start()
    try:
        bot = await start_bot(synapse, bot_user, db)
        token = bot.transport.client.access_token
        direct = await jana.create_room(invite=[bot_user.user_id], direct=True)
        await jana.wait_until_joined(direct, bot_user.user_id)
        await jana.reply_from(bot_user.user_id, await jana.say(direct, "/whoami"))
        await bot.stop()
    finally:
        await jana.stop()
        root.removeHandler(handler)
        root.setLevel(previous)
    log = out.getvalue()
    assert "nio.responses: " in log  # the library did log at DEBUG
    assert token and token not in log and bot_user.password not in log and STORE_KEY not in log


async def test_each_command_is_one_log_line_with_its_name_outcome_and_time_but_never_its_arguments(db, say, caplog):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    caplog.set_level(logging.DEBUG)
    await say("/whoami")
    await say('/vote open "Elect the vice-chair?" options=Anna|Ben secret')
    await say("/vote 1 Ben")
    await say("/link 918273", direct=True, room="direct:jana")  # a wrong code: refused
    await say("/frobnicate now")
    lines = [r for r in caplog.records if r.name == "bot.router"]
    assert [r.getMessage().rsplit(",", 1)[0] for r in lines] == [
        "whoami in console:pfas: ok",
        "vote open in console:pfas: ok",
        "vote in console:pfas: ok",
        "link in console:private: refused",
        "(unknown) in console:pfas: refused",
    ]
    assert all(isinstance(r.ms, float) and r.outcome and r.command and r.platform == "console" for r in lines)
    assert "Ben" not in caplog.text and "918273" not in caplog.text and "frobnicate" not in caplog.text


async def test_no_log_line_names_a_person_s_account_name_or_contact(db, caplog):
    """A day on Telegram (the real PTB against the emulator): a representative in a private chat
    and in her group, a stranger applying with a contact name. Telegram's private chat id *is*
    the user's id, so a log that named rooms would keep it where erasure cannot reach."""
    from bot.app import App, chat_transports
    from bot.areas import registry_of
    from handlers import AREAS
    from storage import groups, rooms
    from storage.models import RoomPurpose

    emulator = BotApiEmulator()
    await emulator.start()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Zofia Wrzesniewska", organisation=acme, accounts=("telegram:770011",), roles=("chair:pfas",))
    async with db.transaction() as session:
        pfas = await groups.find_group(session, "pfas")
        await rooms.bind_room(
            session, actor="t", platform="telegram", room_id="-1009911", purpose=RoomPurpose.GROUP, group=pfas
        )
    zofia, stranger = emulator.person(770011, "Zofia", "zofia"), emulator.person(880022, "Bartholomew", "bq")
    emulator.group(-1009911, "PFAS", zofia, stranger)
    settings = Settings.model_validate({"telegram": emulator.bot_settings()})
    app = App(settings, db, chat_transports(settings, db, registry_of(AREAS)), AREAS)
    caplog.set_level(logging.INFO)
    running = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app.started.wait(), 10)
        for who, chat, text in [
            (zofia, None, "/start"),
            (zofia, None, "/whoami"),
            (zofia, -1009911, "/whoami"),
            (zofia, -1009911, '/vote open "Adopt the roadmap?"'),
            (zofia, -1009911, "/vote 1 yes"),
            (stranger, None, "/start"),
            (stranger, None, "/apply"),
            (stranger, None, "Quince Microsystems"),
            (stranger, None, "BE"),
            (stranger, None, "industry"),
            (stranger, None, "pfas"),
            (stranger, None, "Bartholomew Quince"),
            (stranger, -1009911, "/frobnicate"),
        ]:
            await emulator.answer_to(await emulator.say(who, chat, text))
        await asyncio.sleep(0.5)  # what the postman and the live messages log, too
    finally:
        app.request_stop()
        await asyncio.wait_for(running, 15)
        await emulator.stop()
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records if r.levelno >= logging.INFO)
    assert "whoami in telegram:private: ok" in logged and "whoami in telegram:-1009911: ok" in logged
    for personal in ("770011", "880022", "Zofia", "Wrzesniewska", "Bartholomew", "Quince", "zofia"):
        assert personal not in logged, [line for line in logged.splitlines() if personal in line]


def test_logs_can_be_json_lines_for_a_collector(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")} | {
        "WGBOT_LOGGING__FORMAT": "json",
        "WGBOT_DATABASE_URL": "sqlite+aiosqlite:///elsewhere.sqlite3",  # a stray: warned about
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("wgbot")), "db", "upgrade"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=environment,
    )
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(line) for line in done.stderr.splitlines()]
    assert line["level"] == "WARNING" and line["logger"] == "wgbot" and "WGBOT_DATABASE__URL" in line["message"]
    assert {"time", "level", "logger", "message"} <= set(line)
