"""People on Matrix for the tests: real matrix-nio clients syncing from the test Synapse, and
wgbot itself started the way `wgbot run` starts it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import Api, AsyncClient, AsyncClientConfig, RoomCreateResponse, RoomSendResponse, UploadResponse

from bot.app import App, chat_transports
from bot.areas import Area, registry_of
from bot.config import Settings
from handlers import AREAS
from storage.db import Database
from tests.synapse import MatrixUser, Synapse

WAIT = 15.0  # seconds: Synapse answers in tens of milliseconds; this only bounds a failure


class Member:
    """A person using a Matrix client: says things, reacts, and sees what arrives. With a
    `store`, the client encrypts as Element does, with its own device keys kept there."""

    def __init__(self, synapse: Synapse, user: MatrixUser, store: Path | None = None) -> None:
        self.user = user
        self.user_id = user.user_id
        self.store = store
        if store is not None:
            store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            synapse.url,
            user.user_id,
            store_path=str(store) if store else "",
            config=AsyncClientConfig(encryption_enabled=store is not None, store_sync_tokens=False),
        )
        self.client.access_token = user.access_token
        self.client.user_id = user.user_id
        self.seen: list[dict[str, Any]] = []  # events as the person reads them (decrypted), with "room_id"
        self._news = asyncio.Event()
        self._task: asyncio.Task | None = None

    @classmethod
    def from_client(cls, client: AsyncClient, user: MatrixUser) -> Member:
        """Another device of the same person, already logged in."""
        member = cls.__new__(cls)
        member.user, member.user_id, member.store, member.client = user, user.user_id, None, client
        member.seen, member._news, member._task = [], asyncio.Event(), None
        return member

    async def start(self) -> None:
        if self.store is not None:
            who = await self.client.whoami()
            self.client.restore_login(who.user_id, who.device_id, self.user.access_token)
            await self.client.keys_upload()
        first = await self.client.sync(timeout=0, full_state=True)
        await self._keep_keys()
        self._task = asyncio.create_task(self._sync(first.next_batch))

    async def _keep_keys(self) -> None:
        if self.client.olm is None:
            return
        await self.client.send_to_device_messages()
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.close()

    async def _sync(self, since: str) -> None:
        while True:
            answer = await self.client.sync(timeout=2000, since=since)
            await self._keep_keys()
            for room_id, info in answer.rooms.join.items():
                for event in info.timeline.events:
                    self.seen.append(
                        {**event.source, "room_id": room_id, "decrypted": bool(getattr(event, "decrypted", False))}
                    )
            since = answer.next_batch
            self._news.set()

    async def wait_for(self, matches: Callable[[dict], bool], timeout: float = WAIT) -> dict:
        """The first event seen (now or later) that `matches`."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.seen:
                    if matches(event):
                        return event
                self._news.clear()
                await self._news.wait()

    async def reply_from(self, bot_id: str, to: str, timeout: float = WAIT) -> dict:
        """The bot's answer to event `to` (the message that quotes it)."""
        return await self.wait_for(
            lambda e: (
                e["sender"] == bot_id
                and e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == to
            ),
            timeout,
        )

    def from_sender(self, sender: str, room_id: str, event_type: str = "m.room.message") -> list[dict]:
        return [e for e in self.seen if e["sender"] == sender and e["room_id"] == room_id and e["type"] == event_type]

    async def send(self, room_id: str, content: dict, event_type: str = "m.room.message") -> str:
        if self.client.olm is not None:
            async with asyncio.timeout(WAIT):  # an encrypting client sends only to rooms its sync knows
                while room_id not in self.client.rooms:
                    await asyncio.sleep(0.05)
        answer = await self.client.room_send(room_id, event_type, content, ignore_unverified_devices=True)
        assert isinstance(answer, RoomSendResponse), answer
        return answer.event_id

    async def say(self, room_id: str, text: str) -> str:
        return await self.send(room_id, {"msgtype": "m.text", "body": text})

    async def react(self, room_id: str, event_id: str, key: str, encrypted: bool = False) -> str:
        """A reaction; `encrypted` as Element sends one in an encrypted room (nio would send it plain)."""
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        if not encrypted:
            return await self.send(room_id, content, "m.reaction")
        async with asyncio.timeout(WAIT):
            while room_id not in self.client.rooms:
                await asyncio.sleep(0.05)
        if not self.client.rooms[room_id].members_synced:
            await self.client.joined_members(room_id)
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.olm.should_share_group_session(room_id):
            await self.client.share_group_session(room_id, ignore_unverified_devices=True)
        return await self._send_sealed(room_id, "m.reaction", content)

    async def _send_sealed(self, room_id: str, event_type: str, content: dict) -> str:
        """Encrypt with this client's room session, shared or not, and send the result as is
        (room_send would encrypt the sealed event once more)."""
        sealed_type, sealed = self.client.encrypt(room_id, event_type, content)
        assert sealed_type == "m.room.encrypted" and "ciphertext" in sealed
        method, path, data = Api.room_send(self.client.access_token, room_id, sealed_type, sealed, uuid.uuid4())
        answer = await self.client._send(RoomSendResponse, method, path, data, (room_id,))
        assert isinstance(answer, RoomSendResponse), answer
        return answer.event_id

    async def say_without_sharing_the_key(self, room_id: str, text: str) -> str:
        """A message whose room key never reaches anyone: what a recipient sees when keys go missing."""
        async with asyncio.timeout(WAIT):
            while room_id not in self.client.rooms:
                await asyncio.sleep(0.05)
        if not self.client.rooms[room_id].members_synced:
            await self.client.joined_members(room_id)
        self.client.olm.create_outbound_group_session(room_id)
        self.client.olm.outbound_group_sessions[room_id].shared = True  # as if: its to-device messages were lost
        sent = await self._send_sealed(room_id, "m.room.message", {"msgtype": "m.text", "body": text})
        self.client.olm.outbound_group_sessions.pop(room_id, None)  # the next message shares a new session
        return sent

    async def send_file(
        self, room_id: str, data: bytes, name: str, caption: str | None = None, encrypt: bool = False
    ) -> str:
        uploaded, keys = await self.client.upload(
            lambda *_: data,
            content_type="application/octet-stream" if encrypt else "application/pdf",
            filename=name,
            encrypt=encrypt,
            filesize=len(data),
        )
        assert isinstance(uploaded, UploadResponse), uploaded
        content: dict[str, Any] = {
            "msgtype": "m.file",
            "body": caption or name,
            "filename": name,
            "info": {"mimetype": "application/pdf", "size": len(data)},
        }
        if encrypt:  # as Element sends a file to an encrypted room: the keys travel in the event
            content["file"] = {"url": uploaded.content_uri, **keys}
        else:
            content["url"] = uploaded.content_uri
        return await self.send(room_id, content)

    async def create_room(
        self, invite: list[str], *, direct: bool = False, encrypted: bool = False, moderators: tuple[str, ...] = ()
    ) -> str:
        """A room this member creates; `moderators` get power level 50 (e.g. to pin messages)."""
        state = (
            [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
            if encrypted
            else []
        )
        answer = await self.client.room_create(
            name=None if direct else "Working group room",
            is_direct=direct,
            invite=invite,
            initial_state=state,
            power_level_override={"users": {m: 50 for m in moderators}} if moderators else None,
        )
        assert isinstance(answer, RoomCreateResponse), answer
        return answer.room_id

    async def joined_members(self, room_id: str) -> set[str]:
        answer = await self.client.joined_members(room_id)
        return {m.user_id for m in answer.members}

    async def wait_until_joined(self, room_id: str, user_id: str, timeout: float = WAIT) -> None:
        """Joined on the server, and known to this client's sync (an encrypting client shares
        its room key only with the members its sync has shown it)."""
        async with asyncio.timeout(timeout):
            while user_id not in await self.joined_members(room_id):
                await asyncio.sleep(0.05)
            while self.client.olm is not None and user_id not in getattr(self.client.rooms.get(room_id), "users", {}):
                await asyncio.sleep(0.05)
        room = self.client.rooms.get(room_id)
        if self.client.olm is not None and user_id != self.user_id and room is not None and room.encrypted:
            await self.wait_until_keys_known(user_id, timeout)  # a plain room needs no keys (a bare bot has none)

    async def wait_until_keys_known(self, user_id: str, timeout: float = WAIT) -> None:
        """This client knows `user_id`'s devices, so its next message shares its key with them
        (as Element does before it sends)."""
        async with asyncio.timeout(timeout):
            while not list(self.client.device_store.active_user_devices(user_id)):
                if self.client.should_query_keys:
                    await self.client.keys_query()
                else:
                    self.client.olm.users_for_key_query.add(user_id)
                await asyncio.sleep(0.05)


@dataclass
class RunningBot:
    app: App
    task: asyncio.Task

    @property
    def transport(self):
        return self.app.transports["matrix"]

    async def stop(self) -> None:
        self.app.request_stop()
        await asyncio.wait_for(self.task, WAIT)


STORE_KEY = "the tests' store key"


def matrix_section(synapse: Synapse, bot: MatrixUser, **matrix: Any) -> dict[str, Any]:
    """The [matrix] settings of a bot account on the test Synapse: one crypto store per account."""
    return {
        "homeserver": synapse.url,
        "user_id": bot.user_id,
        "password": bot.password,
        "sync_timeout_ms": 2000,
        "store_key": STORE_KEY,
        "store_path": str(synapse.workdir / "stores" / bot.user_id),
        **matrix,
    }


def bot_settings(synapse: Synapse, bot: MatrixUser, files: Path | None = None, **matrix: Any) -> Settings:
    return Settings.model_validate(
        {**({"files": {"path": str(files)}} if files else {}), "matrix": matrix_section(synapse, bot, **matrix)}
    )


async def start_bot(
    synapse: Synapse,
    bot: MatrixUser,
    db: Database,
    areas: Sequence[Area] = AREAS,
    files: Path | None = None,
    **matrix: Any,
) -> RunningBot:
    """wgbot on Matrix, built by the same function as `wgbot run`, logged in with a password."""
    settings = bot_settings(synapse, bot, files, **matrix)
    app = App(settings, db, chat_transports(settings, db, registry_of(areas)), areas)
    task = asyncio.create_task(app.run())
    started = asyncio.create_task(app.started.wait())
    await asyncio.wait([task, started], timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # the bot failed to start: show why
    assert app.started.is_set(), "wgbot did not start on Matrix"
    return RunningBot(app, task)
