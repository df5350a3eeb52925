"""Nothing is lost when `wgbot run` is killed (SIGKILL) in the middle of a burst: the real
program, in its own process, against the Bot API emulator with a slow link."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from storage import groups, migrate, rooms
from storage.db import Database
from storage.models import Ballot, RoomPurpose
from tests.alliance import member_organisation, person
from tests.matrix_peers import STORE_KEY
from tests.relay import Outage
from tests.telegram_emulator import BotApiEmulator
from tests.wgbot_process import Bot, database_for, pfas_on_telegram

pytestmark = pytest.mark.sqlite_only
GROUP = -1007778889990
VOTERS = 40


async def test_presses_fetched_before_a_kill_are_all_handled_after_the_restart(tmp_path):
    emulator = BotApiEmulator()
    await emulator.start()
    emulator.send_latency = 0.05  # every toast takes a while: the burst is still being handled at the kill
    jana = emulator.person(1001, "Jana")
    voters = [emulator.person(2000 + n, f"Voter {n}") for n in range(VOTERS)]
    emulator.group(GROUP, "PFAS", jana, *voters)
    db = await database_for(tmp_path, GROUP)
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",), roles=("chair:pfas",))
    for n in range(VOTERS):
        organisation = await member_organisation(db, f"Member {n:02d}", joins=("pfas",))
        await person(db, f"Voter {n}", organisation=organisation, accounts=(f"telegram:{2000 + n}",))
    bot = Bot(tmp_path, emulator, GROUP)
    try:
        await bot.start(jana)
        await emulator.say(jana, GROUP, '/vote open "Adopt the roadmap?"')
        posted = next(m for m in await emulator.wait_for_bot(GROUP, count=3) if m.text.startswith("Vote #1 (PFAS)"))
        for voter in voters:  # a burst: every press queued at once
            await emulator.press(voter, posted, "yes")
        async with asyncio.timeout(20):
            while len(emulator.toasts) < 5:  # some handled, most still waiting
                await asyncio.sleep(0.01)
        await bot.kill()
        handled_before = len(emulator.toasts)
        assert handled_before < VOTERS

        await bot.start(jana)
        async with asyncio.timeout(30):
            while True:
                async with db.transaction() as session:
                    counted = await session.scalar(select(func.count()).select_from(Ballot))
                if counted == VOTERS:
                    break
                await asyncio.sleep(0.1)
        async with asyncio.timeout(10):
            while len({t["id"] for t in emulator.toasts}) < VOTERS:  # every press answered
                await asyncio.sleep(0.05)
        recorded = [t["id"] for t in emulator.toasts if t["text"].startswith("Recorded: yes")]
        assert len(recorded) == len(set(recorded))  # no press recorded twice
    finally:
        await bot.stop()
        await emulator.stop()
        await db.close()


async def test_a_notice_sent_just_before_a_kill_is_not_posted_again_after_the_restart(tmp_path, synapse):
    """On Matrix: a meeting's announcement with its three RSVP reactions; the bot is killed as
    soon as the message shows in the room, and after the restart the room has it once."""
    import os
    import sys
    from datetime import timedelta
    from pathlib import Path

    from storage.models import utcnow
    from tests.matrix_peers import WAIT, Member

    bot_user, sam_user, jana_user = await synapse.register(), await synapse.register(), await synapse.register()
    url = f"sqlite+aiosqlite:///{tmp_path / 'wgbot.sqlite3'}"
    db = Database.connect(url)
    await migrate.upgrade(db)
    async with db.transaction() as session:
        await groups.seed_founding_groups(session)
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=(f"matrix:{jana_user.user_id}",), roles=("chair:pfas",))
    await person(db, "Sam", accounts=(f"matrix:{sam_user.user_id}",), roles=("secretariat",))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[files]\npath = "{tmp_path / "files"}"\n'
        f'[matrix]\nhomeserver = "{synapse.url}"\nuser_id = "{bot_user.user_id}"\n'
        f'password = "{bot_user.password}"\nsync_timeout_ms = 1000\n'
        f'store_key = "{STORE_KEY}"\nstore_path = "{tmp_path / "matrix-store"}"\n'
    )
    wgbot = str(Path(sys.executable).with_name("wgbot"))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
    runs: list[asyncio.subprocess.Process] = []

    async def start() -> None:
        log = (tmp_path / f"run-{len(runs)}.log").open("wb")
        runs.append(
            await asyncio.create_subprocess_exec(
                wgbot, "-c", str(config), "run", cwd=tmp_path, env=environment, stdout=log, stderr=log
            )
        )

    sam, jana = Member(synapse, sam_user), Member(synapse, jana_user)
    await sam.start()
    await jana.start()
    try:
        await start()
        room = await sam.create_room(invite=[bot_user.user_id, jana_user.user_id])
        await jana.client.join(room)
        await sam.wait_until_joined(room, bot_user.user_id, timeout=30)
        async with db.transaction() as session:
            pfas = await groups.find_group(session, "pfas")
            await rooms.bind_room(
                session, actor="t", platform="matrix", room_id=room, purpose=RoomPurpose.GROUP, group=pfas
            )
        when = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
        await jana.say(room, f'/meeting schedule "{when} Etc/UTC" "Stand-up"')
        announced = await sam.wait_for(
            lambda e: e["sender"] == bot_user.user_id and e["content"].get("body", "").startswith("New meeting of PFAS")
        )
        runs[-1].kill()  # SIGKILL as soon as the message shows: its reactions and its record may be missing
        await runs[-1].wait()

        await start()
        await asyncio.sleep(WAIT / 2)  # time for the restarted bot to deliver what it thinks is pending
        bot_messages = [
            e
            for e in sam.seen
            if e["room_id"] == room
            and e["sender"] == bot_user.user_id
            and e["content"].get("body", "").startswith("New meeting of PFAS")
        ]
        assert [e["event_id"] for e in bot_messages] == [announced["event_id"]]
        reactions = [
            e["content"]["m.relates_to"]["key"]
            for e in sam.seen
            if e["type"] == "m.reaction"
            and e["sender"] == bot_user.user_id
            and e["content"]["m.relates_to"]["event_id"] == announced["event_id"]
        ]
        assert len(reactions) == len(set(reactions)) == 3  # every RSVP reaction in place, none twice
    finally:
        for process in runs:
            if process.returncode is None:
                process.terminate()
                await process.wait()
        await sam.stop()
        await jana.stop()
        await db.close()


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_console_beside_the_running_bot_neither_schedules_nor_delivers(tmp_path, database_url):
    """An operator opens `wgbot console` on the live bot's database and announces to all: the
    console says it does not deliver, and the running bot delivers to its Telegram group."""
    import os
    import sys
    from pathlib import Path

    db = Database.connect(database_url)
    emulator, jana = await pfas_on_telegram(db, GROUP)
    bot = Bot(tmp_path, emulator, GROUP, url=database_url)
    try:
        await bot.start(jana)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
        environment["WGBOT_DATABASE__URL"] = database_url
        console = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("wgbot")),
            "console",
            "--as",
            "sam",
            "--room",
            "secretariat",
            cwd=tmp_path,
            env=environment,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(console.communicate(b"/announce all Drafts are due on Friday.\n"), 60)
        shown = output.decode()
        assert console.returncode == 0, shown
        assert "Another wgbot process serves this database: this console neither schedules nor delivers" in shown
        delivered = (await emulator.wait_for_bot(GROUP, count=2, timeout=40))[-1]
        assert delivered.text == "From the Secretariat:\n\nDrafts are due on Friday."
    finally:
        await bot.stop()
        await emulator.stop()
        await db.close()


@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_the_console_answers_through_a_database_outage_and_goes_on(tmp_path, database_url):
    import os
    import sys
    from pathlib import Path

    from sqlalchemy.engine import make_url

    outage = Outage()
    await outage.up()
    through = make_url(database_url).set(host="127.0.0.1", port=outage.port).render_as_string(hide_password=False)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
    environment["WGBOT_DATABASE__URL"] = through

    async def launch() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("wgbot")),
            "console",
            "--as",
            "sam",
            "--room",
            "pfas",
            cwd=tmp_path,
            env=environment,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=(tmp_path / "console.log").open("ab"),  # the operator's log, apart from the conversation
        )

    console = await launch()
    assert console.stdin is not None and console.stdout is not None

    async def ask(text: str) -> str:
        console.stdin.write(f"{text}\n".encode())
        await console.stdin.drain()
        lines = []
        while (line := await asyncio.wait_for(console.stdout.readline(), 45)) not in (b"\n", b""):
            lines.append(line.decode())
        return "".join(lines)

    try:
        for _ in range(3):  # seen here once in a while: PostgreSQL ends a brand-new database's first session
            if "3 working groups" in await ask("/wg list"):
                break
            await console.wait()
            console = await launch()
        else:
            raise AssertionError((tmp_path / "console.log").read_text())
        await outage.down()
        failed = await ask("/wg list")
        assert "Sorry, that failed on our side and nothing was changed" in failed
        assert console.returncode is None  # still there
        await outage.up()
        async with asyncio.timeout(90):  # a connection lost in the outage may hold the pool for its 30 s timeout
            while "3 working groups" not in (answer := await ask("/wg list")):
                assert "failed on our side" in answer
                await asyncio.sleep(0.5)
    finally:
        if console.returncode is None:
            console.stdin.close()
            await asyncio.wait_for(console.wait(), 30)
        if outage.server is not None:
            outage.server.close()
