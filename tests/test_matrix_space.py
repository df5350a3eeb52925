"""`wgbot matrix setup` on the real Synapse: the alliance's Space with a room per working group
(bound), a member who was never invited to a room joins it through the Space and votes, a
second run changes nothing, and a group made later gets its room from the running bot."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

import bot.transports.matrix
from bot.transports.matrix_setup import SPACE_KEY, furnish
from storage import groups, rooms
from storage.models import RoomPurpose
from storage.transport_state import TransportMemory
from tests.alliance import member_organisation, person
from tests.matrix_peers import STORE_KEY, Member, bot_settings, start_bot

pytestmark = pytest.mark.sqlite_only  # the transport is under test here; storage is tested elsewhere


async def test_the_alliance_space_is_set_up_once_and_members_join_its_rooms_through_it(
    synapse, db, tmp_path, monkeypatch
):
    monkeypatch.setattr(bot.transports.matrix, "SPACE_EVERY", 0.5)  # the running bot looks for new groups often
    bot_user, sam_user, jana_user = await synapse.register(), await synapse.register(), await synapse.register()
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=(f"matrix:{jana_user.user_id}",), roles=("chair:pfas",))
    await person(db, "Sam Secretariat", accounts=(f"matrix:{sam_user.user_id}",), roles=("secretariat",))
    running = await start_bot(synapse, bot_user, db, files=tmp_path / "files")
    sam = Member(synapse, sam_user, store=tmp_path / "sam-store")
    jana = Member(synapse, jana_user, store=tmp_path / "jana-store")
    await sam.start()
    await jana.start()
    try:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")} | {
            "WGBOT_DATABASE__URL": db.url,
            "WGBOT_MATRIX__HOMESERVER": synapse.url,
            "WGBOT_MATRIX__USER_ID": bot_user.user_id,
            "WGBOT_MATRIX__PASSWORD": bot_user.password,
            "WGBOT_MATRIX__STORE_KEY": STORE_KEY,
        }
        setup = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("wgbot")),
            "matrix",
            "setup",
            env=environment,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await setup.communicate()
        assert setup.returncode == 0, err.decode()
        report = out.decode()
        space = await TransportMemory(db, "matrix").get(SPACE_KEY)
        assert report.startswith(f"Space created: {space}\n")
        async with db.transaction() as session:
            bound = {rooms.describe(b): b.room_id for b in await rooms.bindings_on(session, "matrix")}
        assert set(bound) == {
            "the plenary",
            "the secretariat",
            "the PFAS working group",
            "the Skills working group",
            "the Supply Chains working group",
        }
        for served, room_id in bound.items():
            assert f"created and bound: {served}: {room_id}" in report
        assert f"invited: {sam_user.user_id} to {space}" in report

        # Sam accepts the Space, invites Jana to it; Jana joins the PFAS room on her own and votes.
        await sam.client.join(space)
        await sam.client.room_invite(space, jana_user.user_id)
        await jana.client.join(space)
        pfas = bound["the PFAS working group"]
        joined = await jana.client.join(pfas)
        assert getattr(joined, "room_id", None) == pfas, joined
        opened = await jana.reply_from(bot_user.user_id, await jana.say(pfas, '/vote open "Adopt the roadmap?"'))
        assert opened["decrypted"] and opened["content"]["body"].startswith("Vote #1 is open")
        ballot = await jana.reply_from(bot_user.user_id, await jana.say(pfas, "/vote 1 yes"))
        assert ballot["content"]["body"] == "Recorded: yes for ACME GmbH"
        # The secretariat's room is not open to the Space's members.
        refused = await jana.client.join(bound["the secretariat"])
        assert getattr(refused, "room_id", None) is None

        settings = bot_settings(synapse, bot_user)
        token = running.transport.client.access_token
        again = await furnish(db, settings, token, create_space=True, actor="test")
        assert again.report() == [f"Space found: {space}", "nothing was missing"]

        async with db.transaction() as session:
            chiplets = await groups.add_group(
                session, actor="vote:9", name="Chiplets", mandate="Open chiplet standards"
            )
        async with asyncio.timeout(15):  # the running bot notices the new group and houses it
            while True:
                async with db.transaction() as session:
                    housed = [b for b in await rooms.bindings_on(session, "matrix") if b.group_id == chiplets.id]
                if housed:
                    break
                await asyncio.sleep(0.2)
        assert housed[0].purpose == RoomPurpose.GROUP
        state = await running.transport.client.room_get_state(space)
        children = {e["state_key"] for e in state.events if e["type"] == "m.space.child"}
        assert housed[0].room_id in children and set(bound.values()) <= children
    finally:
        await running.stop()
        await sam.stop()
        await jana.stop()
