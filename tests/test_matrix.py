"""wgbot on a real Synapse, with real matrix-nio clients as the people in the room."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.transports.base import Reply, RoomRef, UserRef
from storage import rooms
from storage.models import RoomPurpose
from tests.alliance import member_organisation, person
from tests.matrix_peers import Member, RunningBot, start_bot
from tests.synapse import Synapse
from tests.transport_probes import PROBE_AREAS

pytestmark = pytest.mark.sqlite_only  # the transport is under test here; storage is tested elsewhere


class Scene:
    """A PFAS room with the bot in it: Sam (secretariat) made it, Jana (ACME, chair) is in it."""

    def __init__(self, synapse, db, bot_user, sam: Member, jana: Member) -> None:
        self.synapse, self.db, self.bot_user, self.sam, self.jana = synapse, db, bot_user, sam, jana
        self.room_id = ""
        self.bot: RunningBot | None = None

    @property
    def bot_id(self) -> str:
        return self.bot_user.user_id

    async def start_bot(self, **matrix) -> RunningBot:
        self.bot = await start_bot(self.synapse, self.bot_user, self.db, PROBE_AREAS, **matrix)
        return self.bot

    async def ask(self, text: str, who: Member | None = None, room: str | None = None) -> dict:
        """Say `text` and return the bot's answer to it."""
        who = who or self.jana
        event_id = await who.say(room or self.room_id, text)
        return await who.reply_from(self.bot_id, event_id)


@pytest.fixture
async def scene(synapse, db):
    bot_user = await synapse.register()
    sam_user, jana_user = await synapse.register(), await synapse.register()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=(f"matrix:{jana_user.user_id}",), roles=("chair:pfas",))
    await person(db, "Sam Secretariat", accounts=(f"matrix:{sam_user.user_id}",), roles=("secretariat",))
    sam, jana = Member(synapse, sam_user), Member(synapse, jana_user)
    await sam.start()
    await jana.start()
    scene = Scene(synapse, db, bot_user, sam, jana)
    await scene.start_bot()
    scene.room_id = await sam.create_room(invite=[bot_user.user_id, jana_user.user_id])
    await jana.client.join(scene.room_id)
    await sam.wait_until_joined(scene.room_id, bot_user.user_id)
    async with db.transaction() as session:
        group = await _group(session, "pfas")
        await rooms.bind_room(
            session, actor="test", platform="matrix", room_id=scene.room_id, purpose=RoomPurpose.GROUP, group=group
        )
    yield scene
    if scene.bot is not None and not scene.bot.task.done():
        await scene.bot.stop()
    await sam.stop()
    await jana.stop()


async def _group(session, slug):
    from storage.groups import find_group

    return await find_group(session, slug)


async def test_a_command_is_answered_as_a_reply_that_mentions_the_sender(scene):
    answer = await scene.ask("!whoami")
    content = answer["content"]
    assert content["msgtype"] == "m.notice"
    assert content["body"].startswith("You are Jana Novak")
    assert content["m.mentions"] == {"user_ids": [scene.jana.user_id]}


async def test_html_replies_carry_a_plain_fallback(scene):
    content = (await scene.ask("/bold"))["content"]
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"] == "<b>Important</b>: read this"
    assert content["body"] == "Important: read this"


async def test_a_reply_to_a_message_is_read_without_the_quoted_fallback(scene):
    first = await scene.jana.say(scene.room_id, "who chairs this?")
    event_id = await scene.jana.send(
        scene.room_id,
        {
            "msgtype": "m.text",
            "body": f"> <{scene.jana.user_id}> who chairs this?\n\n/wg info pfas",
            "m.relates_to": {"m.in_reply_to": {"event_id": first}},
        },
    )
    answer = await scene.jana.reply_from(scene.bot_id, event_id)
    assert answer["content"]["body"].startswith("PFAS (pfas)")


async def test_buttons_become_reactions_and_a_reaction_is_the_command(scene):
    offer = await scene.ask("/choose")
    assert "React with 👍 yes · 👎 no · 🤷 abstain" in offer["content"]["body"]
    placed = await scene.jana.wait_for(
        lambda e: (
            e["type"] == "m.reaction" and e["sender"] == scene.bot_id and e["content"]["m.relates_to"]["key"] == "🤷"
        )
    )
    assert placed["content"]["m.relates_to"]["event_id"] == offer["event_id"]

    await scene.jana.react(scene.room_id, offer["event_id"], "👎")
    recorded = await scene.jana.reply_from(scene.bot_id, offer["event_id"])  # quotes the question
    assert recorded["content"]["body"] == "Recorded: no for ACME GmbH"
    assert recorded["content"]["m.mentions"] == {"user_ids": [scene.jana.user_id]}
    reaction = next(
        e["event_id"] for e in scene.jana.seen if e["type"] == "m.reaction" and e["sender"] == scene.jana.user_id
    )

    await scene.jana.client.room_redact(scene.room_id, reaction)
    taken_back = await scene.jana.wait_for(
        lambda e: (
            e["sender"] == scene.bot_id and "Taking back a reaction changes nothing" in e["content"].get("body", "")
        )
    )
    assert "👎 (/pick no) still stands" in taken_back["content"]["body"]


async def test_the_reaction_legend_is_in_the_room_s_language(scene):
    async with scene.db.transaction() as session:
        (await _group(session, "pfas")).language = "de"
    offer = await scene.ask("/choose")
    assert (
        "Reagieren Sie mit 👍 yes · 👎 no · 🤷 abstain — oder senden Sie den Befehl, z. B. /pick yes"
        in (offer["content"]["body"])
    )


async def test_an_ordinary_reaction_is_just_a_reaction(scene):
    answer = await scene.ask("/whoami")
    await scene.jana.react(scene.room_id, answer["event_id"], "👍")
    marker = await scene.ask("/wg list")
    bot_messages = scene.jana.from_sender(scene.bot_id, scene.room_id)
    assert [m["event_id"] for m in bot_messages][-2:] == [answer["event_id"], marker["event_id"]]


async def test_a_secret_vote_offers_no_reactions_and_a_ballot_typed_in_the_room_is_redacted(scene):
    moderated = await scene.sam.create_room(invite=[scene.bot_id, scene.jana.user_id], moderators=(scene.bot_id,))
    await scene.jana.client.join(moderated)
    await scene.sam.wait_until_joined(moderated, scene.bot_id)
    async with scene.db.transaction() as session:
        group = await _group(session, "pfas")
        await rooms.bind_room(
            session, actor="test", platform="matrix", room_id=moderated, purpose=RoomPurpose.GROUP, group=group
        )
    await scene.ask('/vote open "Elect the vice-chair?" secret', room=moderated)
    posted = await scene.jana.wait_for(
        lambda e: (
            e["room_id"] == moderated
            and e["sender"] == scene.bot_id
            and e["content"].get("body", "").startswith("Vote #1 (PFAS)")
        )
    )
    assert (
        "In a private chat with me, send one of: /vote 1 yes · /vote 1 no · /vote 1 abstain"
        in (posted["content"]["body"])
    )

    typed = await scene.jana.say(moderated, "/vote 1 yes")
    ack = await scene.jana.wait_for(
        lambda e: e["sender"] == scene.bot_id and e["content"].get("body", "").startswith("A ballot for vote #1")
    )
    assert "m.relates_to" not in ack["content"]  # it quotes nothing: the ballot is gone
    gone = await scene.jana.client.room_get_event(moderated, typed)
    assert gone.event.source["content"] == {}  # redacted on the server
    reactions = [e for e in scene.jana.seen if e["type"] == "m.reaction" and e["sender"] == scene.bot_id]
    assert not any(e["content"]["m.relates_to"]["event_id"] == posted["event_id"] for e in reactions)


async def test_an_answer_longer_than_an_event_arrives_whole_in_pieces(scene):
    await scene.jana.say(scene.room_id, "/long 800")
    last = await scene.jana.wait_for(
        lambda e: e["sender"] == scene.bot_id and "line 0800" in e["content"].get("body", "")
    )
    pieces = [e["content"]["body"] for e in scene.jana.from_sender(scene.bot_id, scene.room_id)]
    lines = [line for body in pieces for line in body.splitlines() if line.startswith("line ")]
    assert [line.split()[1] for line in lines] == [f"{n:04d}" for n in range(1, 801)]
    assert len(pieces) >= 3 and "React with" in last["content"]["body"]


async def test_a_restart_neither_replays_old_commands_nor_misses_new_ones(scene):
    await scene.ask("/whoami")
    first_device = scene.bot.transport.client.device_id
    await scene.bot.stop()
    while_down = await scene.jana.say(scene.room_id, "/wg list")

    offer_id = None
    await scene.start_bot()
    answer = await scene.jana.reply_from(scene.bot_id, while_down)
    assert answer["content"]["body"].startswith("3 working groups")
    assert scene.bot.transport.client.device_id == first_device  # it kept its device

    offer_id = (await scene.ask("/choose"))["event_id"]
    await scene.bot.stop()
    await scene.start_bot()  # buttons live in the message itself, so they survive restarts
    await scene.jana.react(scene.room_id, offer_id, "👍")
    recorded = await scene.jana.reply_from(scene.bot_id, offer_id)
    assert recorded["content"]["body"] == "Recorded: yes for ACME GmbH"

    await asyncio.sleep(1.0)  # time for any replayed answer to show up
    answers = [
        e
        for e in scene.jana.from_sender(scene.bot_id, scene.room_id)
        if e["content"].get("m.relates_to", {}).get("m.in_reply_to")
    ]
    quoted = [e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] for e in answers]
    assert len(quoted) == len(set(quoted)), "some command was answered twice"


async def test_invites_from_strangers_are_ignored_but_private_chats_are_welcome(scene, synapse):
    stranger = Member(synapse, await synapse.register())
    await stranger.start()
    try:
        group_room = await stranger.create_room(invite=[scene.bot_id])
        direct = await stranger.create_room(invite=[scene.bot_id], direct=True)
        await stranger.wait_until_joined(direct, scene.bot_id)
        answer = await scene.ask("/whoami", who=stranger, room=direct)
        assert "not yet known to the alliance" in answer["content"]["body"]
        assert scene.bot_id not in await stranger.joined_members(group_room)
    finally:
        await stranger.stop()


async def test_with_encryption_turned_off_an_encrypted_room_gets_an_explanation_and_the_bot_leaves(scene):
    await scene.bot.stop()
    await scene.start_bot(encryption=False)
    room = await scene.sam.create_room(invite=[scene.bot_id], encrypted=True)
    notice = await scene.sam.wait_for(
        lambda e: e["room_id"] == room and e["sender"] == scene.bot_id and e["type"] == "m.room.message"
    )
    assert "runs with encryption turned off" in notice["content"]["body"]
    async with asyncio.timeout(10):
        while scene.bot_id in await scene.sam.joined_members(room):
            await asyncio.sleep(0.05)


async def test_direct_messages_open_one_private_chat_and_reuse_it(scene):
    transport = scene.bot.transport
    first = await transport.send_direct(UserRef("matrix", scene.jana.user_id), Reply("Your vote is due tomorrow."))
    second = await transport.send_direct(UserRef("matrix", scene.jana.user_id), Reply("Reminder: 1 hour left."))
    assert first.room == second.room
    await scene.jana.client.join(first.room.room_id)
    await scene.bot.stop()
    await scene.start_bot()
    third = await scene.bot.transport.send_direct(UserRef("matrix", scene.jana.user_id), Reply("Result: adopted."))
    assert third.room == first.room


async def test_one_malformed_event_never_stops_the_others(scene):
    await scene.jana.send(scene.room_id, {"msgtype": "m.file", "body": "x.pdf"})  # no url
    await scene.jana.send(scene.room_id, {"m.relates_to": {"rel_type": "m.annotation"}}, "m.reaction")
    broken_file = await scene.jana.send(
        scene.room_id, {"msgtype": "m.file", "body": "/sha", "filename": "x.pdf", "url": "nonsense"}
    )
    failed = await scene.jana.reply_from(scene.bot_id, broken_file)
    assert failed["content"]["body"].startswith("Sorry, that failed on our side")
    assert (await scene.ask("/wg list"))["content"]["body"].startswith("3 working groups")


async def test_rate_limited_sends_are_retried_on_a_server_with_default_limits(tmp_path, db, caplog):
    """Synapse's default rc_message lets a burst of 10 through, then one message per 5 s."""
    server = Synapse(tmp_path, default_rate_limits=True)
    server.start()
    caplog.set_level(logging.WARNING, logger="nio.client.async_client")
    try:
        bot_user, member_user = await server.register(), await server.register()
        member = Member(server, member_user)
        await member.start()
        bot = await start_bot(server, bot_user, db, PROBE_AREAS, allowed_inviters=[member_user.user_id])
        try:
            room = await member.create_room(invite=[bot_user.user_id])
            await member.wait_until_joined(room, bot_user.user_id)
            for n in range(11):  # the burst is 10: the eleventh must wait
                await bot.transport.send(RoomRef("matrix", room), Reply(f"announcement {n}"))
            await member.wait_for(lambda e: e["content"].get("body") == "announcement 10", timeout=30)
            bodies = [e["content"]["body"] for e in member.from_sender(bot_user.user_id, room)]
            assert [b for b in bodies if not b.startswith("Hello!")] == [f"announcement {n}" for n in range(11)]
            assert any("429" in r.getMessage() for r in caplog.records), "the server never limited"
        finally:
            await bot.stop()
            await member.stop()
    finally:
        server.stop()


async def test_a_wrong_password_stops_the_start_with_one_clear_line(synapse, db):
    from bot.transports.base import TransportUnavailable

    bot_user = await synapse.register()
    with pytest.raises(TransportUnavailable, match=rf"^matrix: could not log in as {bot_user.user_id}"):
        await start_bot(synapse, bot_user.__class__(bot_user.user_id, "", "wrong-password"), db)


async def test_a_burst_larger_than_a_sync_brings_is_handled_whole(synapse, db):
    """Thirty representatives vote within a moment; the bot's sync brings five events per room,
    so the homeserver leaves a gap, which the bot pages back through: every ballot counted,
    every voter answered once."""
    from sqlalchemy import func, select

    from storage.models import Ballot

    voters_count = 30
    bot_user, sam_user = await synapse.register(), await synapse.register()
    await person(db, "Sam Secretariat", accounts=(f"matrix:{sam_user.user_id}",), roles=("secretariat",))
    voters = []
    for n in range(voters_count):
        user = await synapse.register()
        organisation = await member_organisation(db, f"Member {n:02d}", joins=("pfas",))
        await person(db, f"Voter {n}", organisation=organisation, accounts=(f"matrix:{user.user_id}",))
        voters.append(Member(synapse, user))
    chair = await synapse.register()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=(f"matrix:{chair.user_id}",), roles=("chair:pfas",))
    sam, jana = Member(synapse, sam_user), Member(synapse, chair)
    await sam.start()
    bot = await start_bot(synapse, bot_user, db, sync_timeline_limit=5)
    try:
        room = await sam.create_room(invite=[bot_user.user_id, chair.user_id, *(v.user_id for v in voters)])
        for member in (jana, *voters):
            await member.client.join(room)
        await sam.wait_until_joined(room, bot_user.user_id)
        async with db.transaction() as session:
            group = await _group(session, "pfas")
            await rooms.bind_room(
                session, actor="test", platform="matrix", room_id=room, purpose=RoomPurpose.GROUP, group=group
            )
        await jana.say(room, '/vote open "Adopt the roadmap?"')
        await sam.wait_for(lambda e: e["content"].get("body", "").startswith("Vote #1 (PFAS)"))
        await asyncio.gather(*(voter.say(room, "/vote 1 yes") for voter in voters))
        async with asyncio.timeout(60):
            while True:
                async with db.transaction() as session:
                    if await session.scalar(select(func.count()).select_from(Ballot)) == voters_count:
                        break
                await asyncio.sleep(0.2)
        async with asyncio.timeout(30):
            while True:
                answers = [
                    e["content"]["body"]
                    for e in sam.from_sender(bot_user.user_id, room)
                    if e["content"].get("body", "").startswith("Recorded: yes for Member")
                ]
                if len(answers) >= voters_count:
                    break
                await asyncio.sleep(0.2)
        await asyncio.sleep(1)
        answers = [
            e["content"]["body"]
            for e in sam.from_sender(bot_user.user_id, room)
            if e["content"].get("body", "").startswith("Recorded: yes for Member")
        ]
        assert sorted(answers) == sorted(f"Recorded: yes for Member {n:02d}" for n in range(voters_count))
    finally:
        await bot.stop()
        await sam.stop()
        for member in (jana, *voters):
            await member.client.close()


async def test_a_new_room_is_greeted_with_how_to_bind_it_and_the_secretariat_binds_it_there(scene):
    lobby = await scene.sam.create_room(invite=[scene.bot_id, scene.jana.user_id])
    await scene.jana.client.join(lobby)
    hello = await scene.sam.wait_for(
        lambda e: e["room_id"] == lobby and e["sender"] == scene.bot_id and e["type"] == "m.room.message"
    )
    assert "/room bind <group>" in hello["content"]["body"]
    assert f"wgbot room bind matrix:{lobby} --group <group>" in hello["content"]["body"]

    refused = await scene.ask("/room bind skills", who=scene.jana, room=lobby)
    assert "secretariat" in refused["content"]["body"].lower()
    bound = await scene.ask("/room bind skills", who=scene.sam, room=lobby)
    assert (
        bound["content"]["body"]
        == "This room is now the Skills working group's room. /help shows what can be done here."
    )
    info = await scene.ask("/room info", who=scene.jana, room=lobby)
    assert info["content"]["body"] == f"This room (matrix:{lobby}) serves the Skills working group."


async def test_a_command_in_a_thread_is_answered_in_that_thread(scene):
    root = await scene.jana.say(scene.room_id, "Questions about the roadmap")
    in_thread = await scene.jana.send(
        scene.room_id,
        {
            "msgtype": "m.text",
            "body": "/whoami",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            },
        },
    )
    answer = await scene.jana.reply_from(scene.bot_id, in_thread)
    relation = answer["content"]["m.relates_to"]
    assert relation["rel_type"] == "m.thread" and relation["event_id"] == root
    assert relation["m.in_reply_to"] == {"event_id": in_thread} and relation["is_falling_back"] is False
    outside = await scene.ask("/whoami")
    assert "rel_type" not in outside["content"]["m.relates_to"]


async def test_one_persons_quick_commands_are_answered_in_their_order(scene):
    """Replies of one sync batch are sent side by side, but one person's replies in a room keep
    the order of their commands, even when the first send is slow: a changed ballot never
    reads as if it came first."""
    opened = await scene.ask('/vote open "Adopt the roadmap?"')
    assert opened["content"]["body"].startswith("Vote #1 is open")
    transport = scene.bot.transport
    send, slowed = transport.send, []

    async def slow_at_first(room, reply):
        """A slow homeserver: the /whoami answer holds its batch while the votes come in (so the
        next sync brings them together), and the first receipt is slow too."""
        kind = "whoami" if reply.text.startswith("You are") else "receipt"
        if kind not in slowed:
            slowed.append(kind)
            await asyncio.sleep(1.0)
        return await send(room, reply)

    transport.send = slow_at_first
    await scene.jana.say(scene.room_id, "/whoami")
    await asyncio.sleep(0.3)
    choices = ["yes", "no", "abstain", "no"]
    for choice in choices:
        await scene.jana.say(scene.room_id, f"/vote 1 {choice}")

    def bodies(sender: str, prefix: str) -> list[str]:
        found = scene.jana.from_sender(sender, scene.room_id)
        return [e["content"]["body"] for e in found if e["content"].get("body", "").startswith(prefix)]

    async with asyncio.timeout(15):
        while len(bodies(scene.bot_id, "Recorded:")) < len(choices):
            await asyncio.sleep(0.1)
    commanded = [body.removeprefix("/vote 1 ") for body in bodies(scene.jana.user_id, "/vote 1 ")]
    answered = [body.removeprefix("Recorded: ").split(" for ")[0] for body in bodies(scene.bot_id, "Recorded:")]
    assert slowed == ["whoami", "receipt"] and answered == commanded == choices
