"""People on Matrix for the tests: real matrix-nio clients syncing from the test Synapse, and
wgbot itself started the way `wgbot run` starts it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nio import AsyncClient, AsyncClientConfig, RoomCreateResponse, RoomSendResponse, UploadResponse

from bot.app import App, chat_transports
from bot.areas import Area, registry_of
from bot.config import Settings
from handlers import AREAS
from storage.db import Database
from tests.synapse import MatrixUser, Synapse

WAIT = 15.0  # seconds: Synapse answers in tens of milliseconds; this only bounds a failure


class Member:
    """A person using a Matrix client: says things, reacts, and sees what arrives."""

    def __init__(self, synapse: Synapse, user: MatrixUser) -> None:
        self.user_id = user.user_id
        self.client = AsyncClient(
            synapse.url,
            user.user_id,
            config=AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False),
        )
        self.client.access_token = user.access_token
        self.client.user_id = user.user_id
        self.seen: list[dict[str, Any]] = []  # raw events, with "room_id" added
        self._news = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        first = await self.client.sync(timeout=0)
        self._task = asyncio.create_task(self._sync(first.next_batch))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.close()

    async def _sync(self, since: str) -> None:
        while True:
            answer = await self.client.sync(timeout=2000, since=since)
            for room_id, info in answer.rooms.join.items():
                for event in info.timeline.events:
                    self.seen.append({**event.source, "room_id": room_id})
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
        answer = await self.client.room_send(room_id, event_type, content)
        assert isinstance(answer, RoomSendResponse), answer
        return answer.event_id

    async def say(self, room_id: str, text: str) -> str:
        return await self.send(room_id, {"msgtype": "m.text", "body": text})

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        return await self.send(
            room_id,
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}},
            "m.reaction",
        )

    async def send_file(self, room_id: str, data: bytes, name: str, caption: str | None = None) -> str:
        uploaded, _ = await self.client.upload(
            lambda *_: data, content_type="application/pdf", filename=name, filesize=len(data)
        )
        assert isinstance(uploaded, UploadResponse), uploaded
        content = {
            "msgtype": "m.file",
            "body": caption or name,
            "filename": name,
            "url": uploaded.content_uri,
            "info": {"mimetype": "application/pdf", "size": len(data)},
        }
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
        async with asyncio.timeout(timeout):
            while user_id not in await self.joined_members(room_id):
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


async def start_bot(
    synapse: Synapse, bot: MatrixUser, db: Database, areas: Sequence[Area] = AREAS, **matrix: Any
) -> RunningBot:
    """wgbot on Matrix, built by the same function as `wgbot run`, logged in with a password."""
    settings = Settings.model_validate(
        {
            "matrix": {
                "homeserver": synapse.url,
                "user_id": bot.user_id,
                "password": bot.password,
                "sync_timeout_ms": 2000,
                **matrix,
            }
        }
    )
    app = App(settings, db, chat_transports(settings, db, registry_of(areas)), areas)
    task = asyncio.create_task(app.run())
    started = asyncio.create_task(app.started.wait())
    await asyncio.wait([task, started], timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # the bot failed to start: show why
    assert app.started.is_set(), "wgbot did not start on Matrix"
    return RunningBot(app, task)
