"""A Telegram forum with one topic per working group, as organisations set up Telegram: each topic
is bound from inside it and is that group's room; the General topic is the chat itself."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import App, chat_transports
from bot.areas import registry_of
from bot.config import Settings
from handlers import AREAS
from tests.alliance import member_organisation, person
from tests.telegram_emulator import BotApiEmulator

pytestmark = pytest.mark.sqlite_only  # the transport is under test here; storage is tested elsewhere

FORUM = -1005550001111
OTHER_FORUM = -1005550002222
GROUPS = {"pfas": "PFAS", "skills": "Skills", "supply-chains": "Supply Chains"}


async def test_a_forum_s_topics_each_serve_their_group_and_nothing_strays_into_another(db):
    emulator = BotApiEmulator()
    await emulator.start()
    acme = await member_organisation(db, "ACME GmbH", joins=tuple(GROUPS))
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:1001",), roles=("chair:pfas",))
    await person(db, "Sam Secretariat", accounts=("telegram:1003",), roles=("secretariat",))
    jana, sam = emulator.person(1001, "Jana", "jana"), emulator.person(1003, "Sam", "sam")
    emulator.forum(FORUM, "ACME alliance", jana, sam)
    topics = {slug: emulator.create_topic(FORUM, name) for slug, name in GROUPS.items()}
    settings = Settings.model_validate({"telegram": emulator.bot_settings()})
    app = App(settings, db, chat_transports(settings, db, registry_of(AREAS)), AREAS)
    running = asyncio.create_task(app.run())

    async def ask(who, text: str, topic: int | None = None, chat: int | None = FORUM):
        return await emulator.answer_to(await emulator.say(who, chat, text, topic=topic))

    try:
        await asyncio.wait_for(app.started.wait(), 10)
        for slug, topic in topics.items():
            bound = await ask(sam, f"/room bind {slug}", topic)
            assert bound.topic == topic, "the answer left the topic"
            assert (
                bound.text
                == f"This room is now the {GROUPS[slug]} working group's room. /help shows what can be done here."
            )
        general = await ask(sam, "/room info")
        assert general.topic is None and general.text.startswith(f"This room (telegram:{FORUM}) serves no group yet")
        info = await ask(jana, "/room info", topics["skills"])
        assert info.text == f"This room (telegram:{FORUM}/{topics['skills']}) serves the Skills working group."

        opened = await ask(jana, '/vote open "Adopt the PFAS roadmap?"', topics["pfas"])
        assert opened.topic == topics["pfas"] and opened.text.startswith("Vote #1 is open")
        await emulator.wait_for_bot(FORUM, count=len(emulator.bot_messages(FORUM)) + 1)
        about_the_vote = [m for m in emulator.bot_messages(FORUM) if "PFAS roadmap" in (m.text or "")]
        assert {m.topic for m in about_the_vote} == {topics["pfas"]}, "the vote strayed out of the PFAS topic"
        [posted] = [m for m in about_the_vote if m.keyboard]
        toast = await emulator.wait_for_toast(await emulator.press(jana, posted, "yes"))
        assert toast["text"] == "Recorded: yes for ACME GmbH"
        # A vote command in another group's topic is about that group: PFAS's vote is not there.
        elsewhere = await ask(jana, "/vote list", topics["skills"])
        assert elsewhere.topic == topics["skills"] and "PFAS roadmap" not in elsewhere.text

        await ask(sam, "/start", chat=None)
        queued = await ask(sam, "/announce all Drafts are due on Friday.", chat=None)
        assert "is on its way" in queued.text
        async with asyncio.timeout(10):
            while len([m for m in emulator.bot_messages(FORUM) if "Drafts are due" in (m.text or "")]) < 3:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # anything more would be a duplicate
        announced = [m.topic for m in emulator.bot_messages(FORUM) if "Drafts are due" in (m.text or "")]
        assert sorted(announced) == sorted(topics.values()), "each topic once, General never"

        # Brought into another forum, the bot says how topics are bound: from inside each, or by topic id.
        other = emulator.group(OTHER_FORUM, "Fab Nord's forum", sam, with_bot=False)
        other.is_forum = True
        await emulator.set_member(emulator.bot, OTHER_FORUM, "member")
        [greeting] = await emulator.wait_for_bot(OTHER_FORUM)
        assert greeting.topic is None  # in General
        assert "each topic can be the room of its own working group" in greeting.text
        assert "someone from the secretariat sends inside that topic:\n/room bind <group>" in greeting.text
        assert f"wgbot room bind telegram:{OTHER_FORUM}/<topic id> --group <group>" in greeting.text
    finally:
        app.request_stop()
        await asyncio.wait_for(running, 15)
        await emulator.stop()
