"""No secret reaches the log, at any level: not the Bot API token that every request URL
carries, not a Matrix access token or password. Checked on the real programs at DEBUG."""

from __future__ import annotations

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
