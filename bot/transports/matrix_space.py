"""The alliance as a Matrix Space: the Space, and rooms inside it that its members may join.

Only the homeserver is touched here (no crypto: nothing is sent but state and invitations), so
the operator's `wgbot matrix setup` can run beside the running bot, on its own connection, with
the bot's access token.
"""

from __future__ import annotations

import logging
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    RoomCreateResponse,
    RoomGetStateResponse,
    RoomInviteError,
)

from bot.transports.matrix import ENCRYPTION_STATE, MatrixError

log = logging.getLogger(__name__)
SPACE_CHILD = "m.space.child"
SPACE_PARENT = "m.space.parent"


class SpaceBuilder:
    def __init__(self, homeserver: str, user_id: str, access_token: str, encryption: bool) -> None:
        self.client = AsyncClient(
            homeserver, user_id, config=AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False)
        )
        self.client.access_token, self.client.user_id = access_token, user_id
        self.encryption = encryption
        self.server = user_id.split(":", 1)[1]

    async def close(self) -> None:
        await self.client.close()

    async def create_space(self, name: str, topic: str) -> str:
        created = await self.client.room_create(name=name, topic=topic, space=True)
        if not isinstance(created, RoomCreateResponse):
            raise MatrixError(f"could not create the Space {name!r}: {created.message}")
        log.info("matrix: created the Space %s (%s)", name, created.room_id)
        return str(created.room_id)

    async def create_room(self, space_id: str, name: str, topic: str, open_to_space: bool) -> str:
        """A room in the Space: joinable by the Space's members (`open_to_space`), or by
        invitation only (the secretariat's); encrypted when the bot encrypts."""
        join_rule: dict[str, Any] = (
            {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space_id}]}
            if open_to_space
            else {"join_rule": "invite"}
        )
        state = [
            {"type": "m.room.join_rules", "state_key": "", "content": join_rule},
            {"type": SPACE_PARENT, "state_key": space_id, "content": {"via": [self.server], "canonical": True}},
            {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "shared"}},
        ]
        if self.encryption:
            state.append(ENCRYPTION_STATE)
        created = await self.client.room_create(name=name, topic=topic, initial_state=state)
        if not isinstance(created, RoomCreateResponse):
            raise MatrixError(f"could not create the room {name!r}: {created.message}")
        await self.add_child(space_id, str(created.room_id))
        return str(created.room_id)

    async def add_child(self, space_id: str, room_id: str) -> None:
        answer = await self.client.room_put_state(space_id, SPACE_CHILD, {"via": [self.server]}, state_key=room_id)
        if isinstance(answer, ErrorResponse):
            raise MatrixError(f"could not add {room_id} to the Space: {answer.message}")

    async def children(self, space_id: str) -> set[str]:
        state = await self.client.room_get_state(space_id)
        if not isinstance(state, RoomGetStateResponse):
            raise MatrixError(f"could not read the Space {space_id}: {state.message}")
        return {
            e["state_key"] for e in state.events if e.get("type") == SPACE_CHILD and e.get("content", {}).get("via")
        }

    async def invite(self, room_id: str, user_ids: list[str]) -> list[str]:
        """Invite who is not in the room yet; the ids invited now."""
        members = await self.client.joined_members(room_id)
        present = {m.user_id for m in getattr(members, "members", [])}
        invited = []
        for user_id in user_ids:
            if user_id in present:
                continue
            answer = await self.client.room_invite(room_id, user_id)
            if isinstance(answer, RoomInviteError):
                if "already" not in answer.message:
                    log.warning(
                        "matrix: could not invite a member of the secretariat to %s: %s", room_id, answer.message
                    )
                continue
            invited.append(user_id)
        return invited
