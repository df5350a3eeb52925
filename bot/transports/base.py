"""The seam between chat platforms and the rest of wgbot.

A transport turns a platform's events into `Incoming` messages and renders `Reply` objects
natively. Nothing on the other side of this seam knows which platform it is talking to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.i18n import ENGLISH, Language


@dataclass(frozen=True)
class RoomRef:
    platform: str
    room_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.room_id}"


@dataclass(frozen=True)
class UserRef:
    platform: str
    user_id: str


@dataclass(frozen=True)
class MessageRef:
    """A message the bot sent, so that it can be edited later (e.g. a live tally)."""

    room: RoomRef
    message_id: str


@dataclass(frozen=True)
class AttachmentRef:
    """A file attached to an incoming message; `Transport.fetch` gets its bytes on demand."""

    platform: str
    file_id: str
    name: str
    media_type: str
    size: int | None = None


@dataclass(frozen=True)
class Incoming:
    """One message (or button press) from a person, platform-neutral."""

    platform: str
    room_id: str
    sender_id: str
    sender_name: str
    text: str
    event_id: str
    is_direct: bool = False  # a private chat between the person and the bot
    attachments: tuple[AttachmentRef, ...] = ()
    # A button press whose answer only the presser sees (a Telegram toast), even in a room.
    answered_privately: bool = False
    # The person has just opened (or reopened) their private chat: what waited for it can go.
    opens_private_chat: bool = False
    language: str | None = None  # what the platform says the person reads (Telegram's language_code)

    @property
    def room(self) -> RoomRef:
        return RoomRef(self.platform, self.room_id)


@dataclass(frozen=True)
class Button:
    """A choice offered under a reply; pressing it is the same as sending `command`."""

    label: str
    command: str


@dataclass(frozen=True)
class OutgoingFile:
    name: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class Reply:
    """What the bot says: plain text always, HTML where the platform can show it."""

    text: str
    html: str | None = None
    buttons: tuple[Button, ...] = ()
    file: OutgoingFile | None = None
    reply_to: str | None = None  # the event id this answers, quoted where the platform can
    # The answered message carried a secret (a secret ballot): remove it where the platform lets
    # the bot (a Matrix redaction, Telegram's deleteMessage), and say so where it could not.
    withdraw: bool = False
    # Pressing these buttons must stay private: shown only where a press is (Telegram's inline
    # keyboard); elsewhere (Matrix reactions are public events) the text gives the command.
    private_buttons: bool = False
    # For the sender's eyes only (a secret ballot's receipt): never posted where others read it.
    private: bool = False
    # The same key sent again (after a crash between sending and recording it) is the same
    # message: a platform that deduplicates (Matrix, by transaction id) keeps one copy.
    key: str | None = None
    # The language the text is in (None: the alliance's), for what a transport adds to it.
    language: str | None = None


# The router: the answer to one incoming message, or None to stay silent. The transport renders
# it the way its platform shows answers (a quoted reply, a button's toast…).
IncomingHandler = Callable[[Incoming], Awaitable["Reply | None"]]


def greeting(room: RoomRef, lang: Language = ENGLISH, *, topics: bool = False) -> str:
    """What the bot says in a room it has just been brought into, on every platform (in the
    alliance's language: the room has no group yet). In a chat with topics (a Telegram forum),
    each topic is bound from inside it, and the shell names a topic by its id."""
    where = f"{room.platform}:{room.room_id}"
    if topics:
        return lang._(
            "Hello! I am the alliance's working-group bot. This chat has topics, and each topic can be the room of "
            "its own working group. Until the secretariat binds a topic, I answer there only /help, /whoami, /wg "
            "and /room. To bind one, someone from the secretariat sends inside that topic:\n"
            "/room bind <group>\n"
            "Here in General: /room bind plenary, if everyone meets here. From a shell: wgbot room bind "
            "{room}/<topic id> --group <group> (/room info inside a topic shows its id).",
            room=where,
        )
    return lang._(
        "Hello! I am the alliance's working-group bot. Until the secretariat binds this room, I answer "
        "only /help, /whoami, /wg and /room. To bind it, someone from the secretariat sends here:\n"
        "/room bind <group>   (or /room bind plenary, /room bind secretariat)\n"
        "From a shell: wgbot room bind {room} --group <group>",
        room=where,
    )


def split_text(text: str, limit: int) -> list[str]:
    """A text too long for one message, in pieces of at most `limit` characters: cut at the
    last line end that fits, else the last space, else where the limit falls."""
    pieces = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n ")
    return [*pieces, text]


async def not_started(incoming: Incoming) -> Reply | None:
    """What a transport hands messages to before `start` gives it the bot's handler."""
    raise RuntimeError("the transport received a message before it was started")


class TooLarge(Exception):
    """An attachment turned out larger than the limit while it was being read."""


async def at_most(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Bytes from a stream, refused (TooLarge) once more than `limit` have come."""
    received = bytearray()
    async for chunk in chunks:
        received += chunk
        if len(received) > limit:
            raise TooLarge(limit)
    return bytes(received)


class TransportUnavailable(Exception):
    """A platform cannot be served as configured (a rejected token, an unknown server)."""


class Undeliverable(Exception):
    """The platform refused the message for good (the bot was removed, the chat is gone):
    trying again would not help."""


class DirectChatUnavailable(Undeliverable):
    """The person has no private chat with the bot on this platform (e.g. never started it).

    Where the person can open one themselves, `invitation` words the message that asks them to,
    given their name, for a room they share with the bot; the notice then waits for them."""

    def __init__(self, message: str, invitation: Callable[[str, Language], Reply] | None = None) -> None:
        super().__init__(message)
        self.invitation = invitation


class Memory(Protocol):
    """What a transport may persist across restarts (sync tokens, private chats), by key; a
    credential with the `_secret` pair, which keeps it sealed."""

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str) -> None: ...

    async def get_secret(self, key: str) -> str | None: ...

    async def put_secret(self, key: str, value: str) -> None: ...


@runtime_checkable
class Leading(Protocol):
    """A transport with work of its own while its process leads (Matrix keeps the alliance's
    Space furnished): the bot runs it as a task, and cancels it when the process steps down."""

    async def while_leading(self) -> None: ...


@runtime_checkable
class Operated(Protocol):
    """A transport an operator types into (the console): told the operator's own news, and
    asked to settle a command's notices before the next command is read."""

    after_each_command: Callable[[], Awaitable[None]] | None

    def tell_operator(self, text: str) -> None: ...


class Transport(Protocol):
    platform: str
    # Set when the transport ends by itself (the console at end of input, a revoked token):
    # the bot then shuts down rather than run deaf on that platform.
    finished: asyncio.Event

    async def start(self, on_incoming: IncomingHandler) -> None:
        """Connect and begin delivering messages to `on_incoming`; returns once connected."""

    async def stop(self) -> None: ...

    async def send(self, room: RoomRef, reply: Reply) -> MessageRef: ...

    async def edit(self, ref: MessageRef, reply: Reply) -> None: ...

    async def pin(self, ref: MessageRef) -> None:
        """Pin a message the bot sent; raises when the room does not allow it."""

    async def send_direct(self, user: UserRef, reply: Reply) -> MessageRef:
        """A private message (nudges, application updates)."""

    async def fetch(self, attachment: AttachmentRef, limit: int) -> bytes:
        """The attachment's bytes, read as they stream in: TooLarge as soon as they pass `limit`,
        whatever size the message advertised."""
