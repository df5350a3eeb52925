"""Telegram, through python-telegram-bot's Application: groups, private chats, buttons, files.

Reply buttons become an inline keyboard; a press enters the router as the button's command and
is answered with a toast carrying the router's answer. Telegram lets a bot write privately only
to people who started it, so private chats are remembered when people write to the bot.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sulguk import transform_html
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    ExtBot,
    JobQueue,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.config import TelegramSettings
from bot.i18n import ENGLISH, Language, language
from bot.metrics import CONNECTED, SYNC_ERRORS
from bot.transports.base import (
    AttachmentRef,
    Button,
    DirectChatUnavailable,
    Incoming,
    IncomingHandler,
    Memory,
    MessageRef,
    Reply,
    RoomRef,
    TransportUnavailable,
    Undeliverable,
    UserRef,
    at_most,
    greeting,
    not_started,
    split_text,
)
from bot.transports.telegram_pacing import TelegramPacing
from storage.platforms import private_chat_key

# Opt in to PTB's coming behaviour: RetryAfter.retry_after as a timedelta, without warnings.
os.environ.setdefault("PTB_TIMEDELTA", "1")
log = logging.getLogger(__name__)

PLATFORM = "telegram"
CALLBACK_LIMIT = 64  # bytes of callback data Telegram accepts
TOAST_LIMIT = 200
TEXT_LIMIT = 4000  # Telegram takes 4,096 characters a message; a margin for how it counts them
_PRESENT: frozenset[str] = frozenset({ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR})
MAX_ATTEMPTS = 5
UNATTACHED_FILE_SECONDS = 600
WARN_EVERY = 60.0  # seconds between two warnings of polls that keep failing
# The HTML Telegram can show; anything richer is sent as plain text.
TELEGRAM_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "blockquote",
    "span",
    "tg-emoji",
}
_TAG = re.compile(r"</?([a-zA-Z][\w-]*)")


class Reachability:
    """Whether the Bot API answers the polls. PTB's Updater retries a failed poll by itself;
    that is said once a minute at most, without a traceback (/healthz and the metrics say it
    meanwhile), and the first poll answered after it is said too."""

    def __init__(self) -> None:
        self.warned: float | None = None
        self.lost = False

    def failed(self, error: TelegramError) -> None:
        """PTB's `error_callback` for a poll that failed."""
        SYNC_ERRORS.labels(PLATFORM).inc()
        CONNECTED.labels(PLATFORM).set(0)
        self.lost = True
        now = time.monotonic()
        if self.warned is None or now - self.warned >= WARN_EVERY:
            log.warning("telegram: polling failed (%s); retrying", error)
            self.warned = now

    def answered(self) -> None:
        CONNECTED.labels(PLATFORM).set(1)
        if self.lost:
            log.info("telegram: connected again")
            self.lost = False


class TolerantBot(ExtBot[None]):
    """A Bot whose getUpdates confirms only what was handled, and survives an update PTB cannot
    parse.

    Asking for the next updates (a higher offset) tells Telegram the earlier ones are done, and
    PTB's Updater asks as soon as it has queued a batch. Here it first waits until every update
    queued so far was handled — its command's transaction committed — so a crash (kill -9) never
    loses a fetched update: Telegram sends it again, and its dedup mark makes the repeat harmless.

    PTB confirms updates only after parsing the whole batch, so one unreadable update would be
    fetched, and fail, forever — holding back every update behind it. Here the batch is read
    update by update; an unreadable one is logged and confirmed as an empty update.
    """

    handled: Callable[[], Awaitable[None]] | None = None  # returns once the queued updates are handled
    reachability: Reachability | None = None

    def confirm_only_after(self, handled: Callable[[], Awaitable[None]], reachability: Reachability) -> None:
        with self._unfrozen():  # PTB freezes its objects once built
            self.handled = handled
            self.reachability = reachability

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: int | timedelta | None = None,  # noqa: ASYNC109 - PTB's signature
        allowed_updates: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> tuple[Update, ...]:
        if self.handled is not None:
            await self.handled()
        try:
            batch = await super().get_updates(
                offset=offset, limit=limit, timeout=timeout, allowed_updates=allowed_updates, **kwargs
            )
            if self.reachability is not None:
                self.reachability.answered()
            return batch
        except TelegramError:
            raise  # the Updater retries it, and tells Reachability.failed
        except Exception:
            log.exception("telegram: a batch of updates could not be read; reading them one by one")
        raw = await self._post(
            "getUpdates", {"offset": offset, "limit": limit, "timeout": 0, "allowed_updates": allowed_updates}
        )
        updates = []
        for item in raw:
            try:
                updates.append(Update.de_json(item, self))
            except Exception:
                kinds = sorted(k for k in item if k != "update_id")  # not its content: it names people
                log.error("telegram: skipped update %s (%s), which cannot be read", item.get("update_id"), kinds)
                updates.append(Update(update_id=item["update_id"]))
        return tuple(updates)


# The Application as the transport builds it: PTB's default context and data, with its job queue.
_App = Application[
    TolerantBot,
    ContextTypes.DEFAULT_TYPE,
    dict[Any, Any],
    dict[Any, Any],
    dict[Any, Any],
    JobQueue[ContextTypes.DEFAULT_TYPE],
]


class TelegramTransport:
    platform = PLATFORM

    def __init__(
        self,
        settings: TelegramSettings,
        memory: Memory,
        menus: Mapping[str | None, list[tuple[str, str]]],
        language: Language = ENGLISH,
    ) -> None:
        self.settings = settings
        self.memory = memory
        self.menus = menus  # by the language of the person's app (None: anyone else)
        self.language = language  # the alliance's: for a room the bot has just joined
        self.finished = asyncio.Event()
        self.username = ""
        self._on_incoming: IncomingHandler = not_started
        self._app: _App | None = None
        self._reachability = Reachability()
        self._private_chats: dict[str, str] = {}  # user id → private chat id
        self._loose_files: dict[tuple[str, str], tuple[float, AttachmentRef]] = {}

    # ── lifecycle ────────────────────────────────────────────────────────────────────────────

    @property
    def exclusive(self) -> bool:
        """Telegram lets one process poll a token; webhooks reach whichever process they are sent to."""
        return self.settings.mode == "polling"

    async def start(self, on_incoming: IncomingHandler) -> None:
        self._on_incoming = on_incoming
        bot = TolerantBot(
            self.settings.token,
            base_url=self.settings.api_url,
            base_file_url=self.settings.file_url,
            # The limiter only paces; RetryAfter is waited out in one place, _call.
            rate_limiter=(
                TelegramPacing(self.settings.messages_per_second, self.settings.group_messages_per_minute)
                if self.settings.rate_limiter
                else None
            ),
            # Two connections: stopping cancels a long poll whose connection stays busy, and the
            # Updater's last getUpdates (confirming what was handled) must not wait behind it.
            get_updates_request=HTTPXRequest(connection_pool_size=2),
        )
        app = ApplicationBuilder().bot(bot).build()
        bot.confirm_only_after(app.update_queue.join, self._reachability)
        app.add_handler(ChatMemberHandler(self._on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_handler(CallbackQueryHandler(self._on_button))
        app.add_handler(MessageHandler(filters.TEXT | filters.Document.ALL | filters.CAPTION, self._on_message))
        app.add_error_handler(self._on_error)
        try:
            await app.initialize()  # getMe: also proves the token
        except InvalidToken:
            raise TransportUnavailable("telegram: the bot token was rejected (ask @BotFather for it again)") from None
        except NetworkError as error:
            raise TransportUnavailable(f"telegram: cannot reach {self.settings.api_url} ({error})") from None
        self.username = bot.username or ""
        self._app = app
        try:
            for code, menu in self.menus.items():
                commands = [BotCommand(name, text[:256]) for name, text in menu]
                await self._call(bot.set_my_commands, commands, language_code=code)
            await app.start()
            await self._listen(app)
        except BaseException:
            await self.stop()
            raise
        log.info("telegram: @%s is listening (%s)", self.username, self.settings.mode)
        CONNECTED.labels(PLATFORM).set(1)

    async def _listen(self, app: _App) -> None:
        updates = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
        updater = app.updater
        if updater is None:
            raise TransportUnavailable("telegram: the application was built without an updater")
        if self.settings.mode == "webhook":
            await updater.start_webhook(
                listen=self.settings.listen,
                port=self.settings.port,
                url_path=urlsplit(self.settings.webhook_url).path.lstrip("/"),
                webhook_url=self.settings.webhook_url,
                secret_token=self.settings.secret_token,
                allowed_updates=updates,
            )
        else:
            await updater.start_polling(
                timeout=self.settings.poll_timeout,
                allowed_updates=updates,
                bootstrap_retries=-1,
                error_callback=self._reachability.failed,
            )

    @property
    def _bot(self) -> ExtBot[None]:
        if self._app is None:
            raise TransportUnavailable("telegram: not started")
        return self._app.bot

    async def stop(self) -> None:
        CONNECTED.labels(PLATFORM).set(0)
        if self._app is None:
            return
        if self._app.updater is not None and self._app.updater.running:
            await self._app.updater.stop()
        if self._app.running:
            await self._app.stop()
        await self._app.shutdown()

    # ── incoming ─────────────────────────────────────────────────────────────────────────────

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        user = message.from_user if message else None
        if message is None or user is None or user.is_bot:
            return
        chat_id, user_id = _room_of(message), str(user.id)
        private = message.chat.type == ChatType.PRIVATE
        opened = private and (await self._remember_private_chat(user_id, chat_id) or _is_start(message.text))
        attachments: tuple[AttachmentRef, ...] = ()
        if message.document:
            document = message.document
            attachments = (
                AttachmentRef(
                    PLATFORM,
                    document.file_id,
                    document.file_name or "document",
                    document.mime_type or "application/octet-stream",
                    document.file_size,
                ),
            )
        text = message.text or message.caption or ""
        if attachments and not text.startswith(("/", "!")):
            # A file on its own goes with the sender's next command in this chat.
            self._loose_files[(chat_id, user_id)] = (asyncio.get_running_loop().time(), attachments[0])
            return
        addressed = self._addressed_text(text, private)
        if addressed is None:
            return
        if not attachments:
            attachments = self._take_loose_file(chat_id, user_id)
        incoming = Incoming(
            platform=PLATFORM,
            room_id=chat_id,
            sender_id=user_id,
            sender_name=user.full_name,
            text=addressed,
            event_id=f"{chat_id}:{message.message_id}",
            is_direct=private,
            attachments=attachments,
            opens_private_chat=opened,
            language=user.language_code,
        )
        reply = await self._on_incoming(incoming)
        if reply is not None:
            await self.send(incoming.room, reply)

    def _addressed_text(self, text: str, private: bool) -> str | None:
        """The text as the router should read it, or None when it is for another bot.

        In a private chat, /start (Telegram's first message) shows the help, and a deep link's
        payload ("/start link_AB12") becomes the command it encodes ("/link AB12").
        """
        head = text.split(maxsplit=1)[0] if text.strip() else ""
        if "@" in head and head.startswith(("/", "!")):
            addressee = head.split("@", 1)[1]
            if addressee.lower() != self.username.lower():
                return None
        if private and head.split("@")[0].lower() == "/start":
            payload = text.split(maxsplit=1)[1].strip() if len(text.split(maxsplit=1)) > 1 else ""
            return "/" + " ".join(payload.split("_")) if payload else "/help"
        return text

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        message = query.message
        command = await self._command_for(query.data or "")
        if command is None or message is None:
            stale = language(query.from_user.language_code, self.language.code)._(
                "This button no longer works; please send the command."
            )
            await self._call(query.answer, stale)
            return
        chat_id = _room_of(message)
        incoming = Incoming(
            platform=PLATFORM,
            room_id=chat_id,
            sender_id=str(query.from_user.id),
            sender_name=query.from_user.full_name,
            text=command,
            event_id=f"callback:{query.id}",
            is_direct=message.chat.type == ChatType.PRIVATE,
            answered_privately=True,
            language=query.from_user.language_code,
        )
        reply = await self._on_incoming(incoming)
        toast = reply.text if reply else ""
        if reply is not None and reply.private and len(toast) > TOAST_LIMIT:
            toast = toast[: TOAST_LIMIT - 1] + "…"  # a private answer never goes to the chat
        await self._call(query.answer, toast[:TOAST_LIMIT], show_alert=len(toast) > 60)
        if reply is not None and not reply.private and (len(toast) > TOAST_LIMIT or reply.file or reply.buttons):
            await self.send(incoming.room, reply)  # too much for a toast: say it in the chat

    async def _on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None or change.chat.type == ChatType.PRIVATE:
            return
        joined = change.new_chat_member.status in _PRESENT
        was_in = change.old_chat_member.status in _PRESENT
        if joined and not was_in:
            log.info("telegram: added to %s (%s)", change.chat.title, change.chat.id)
            room = RoomRef(PLATFORM, str(change.chat.id))
            await self.send(room, Reply(greeting(room, self.language, topics=bool(change.chat.is_forum))))
        elif was_in and not joined:
            log.info("telegram: removed from %s (%s)", change.chat.title, change.chat.id)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(context.error, NetworkError) and not isinstance(context.error, BadRequest):  # away: no bug
            log.error("telegram: an answer could not be sent, the Bot API is out of reach (%s)", context.error)
            return
        log.error("telegram: handling an update failed: %r", context.error, exc_info=context.error)

    async def _remember_private_chat(self, user_id: str, chat_id: str) -> bool:
        """Whether this private chat is new to the bot."""
        if self._private_chats.get(user_id) == chat_id:
            return False
        self._private_chats[user_id] = chat_id
        await self.memory.put(private_chat_key(user_id), chat_id)
        return True

    def _take_loose_file(self, chat_id: str, user_id: str) -> tuple[AttachmentRef, ...]:
        kept = self._loose_files.pop((chat_id, user_id), None)
        if kept is None:
            return ()
        at, attachment = kept
        return (attachment,) if asyncio.get_running_loop().time() - at < UNATTACHED_FILE_SECONDS else ()

    # ── buttons ──────────────────────────────────────────────────────────────────────────────

    async def _callback_data(self, button: Button) -> str:
        """The command itself when it fits Telegram's 64 bytes, else a stored short key."""
        if len(button.command.encode()) <= CALLBACK_LIMIT:
            return button.command
        key = "k:" + hashlib.sha256(button.command.encode()).hexdigest()[:24]
        await self.memory.put(f"button:{key}", button.command)
        return key

    async def _command_for(self, data: str) -> str | None:
        if data.startswith("k:"):
            return await self.memory.get(f"button:{data}")
        return data or None

    async def _keyboard(self, buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
        if not buttons:
            return None
        row = [
            InlineKeyboardButton(b.label, url=b.command)  # a link: opens it, sends no command
            if b.command.startswith("https://")
            else InlineKeyboardButton(b.label, callback_data=await self._callback_data(b))
            for b in buttons
        ]
        rows = [row[i : i + 3] for i in range(0, len(row), 3)]
        return InlineKeyboardMarkup(rows)

    # ── outgoing ─────────────────────────────────────────────────────────────────────────────

    async def send(self, room: RoomRef, reply: Reply) -> MessageRef:
        try:
            return await self._send(room, reply)
        except (BadRequest, Forbidden) as error:
            raise Undeliverable(f"Telegram refused it: {error.message}") from None

    async def _send(self, room: RoomRef, reply: Reply) -> MessageRef:
        bot = self._bot
        if reply.withdraw and reply.reply_to:
            reply = await self._withdraw(room, reply)
        reply_parameters = None
        if reply.reply_to and reply.reply_to.startswith(f"{room.room_id}:"):
            quoted = int(reply.reply_to.rsplit(":", 1)[1])
            reply_parameters = ReplyParameters(quoted, allow_sending_without_reply=True)
        rendered = _rendered(reply)
        pieces = [rendered] if len(rendered["text"]) <= TEXT_LIMIT else _plain_pieces(reply.text)
        chat, topic = _address(room.room_id)
        for number, piece in enumerate(pieces, start=1):
            last = number == len(pieces)
            sent = await self._call(
                bot.send_message,
                chat,
                **piece,
                message_thread_id=topic,
                reply_parameters=reply_parameters if number == 1 else None,
                reply_markup=await self._keyboard(reply.buttons) if last else None,  # edits find them last
            )
        if reply.file is not None:
            await self._call(
                bot.send_document,
                chat,
                InputFile(reply.file.content, filename=reply.file.name),
                message_thread_id=topic,
            )
        return MessageRef(room, str(sent.message_id))

    async def _withdraw(self, room: RoomRef, reply: Reply) -> Reply:
        """Delete the message the reply answers (a bot may, as an admin of the group)."""
        assert reply.reply_to is not None
        message_id = int(reply.reply_to.rsplit(":", 1)[1])
        try:
            await self._call(self._bot.delete_message, _address(room.room_id)[0], message_id)
        except (BadRequest, Forbidden) as refused:
            log.info("telegram: could not delete message %s in %s: %s", message_id, room.room_id, refused.message)
            return replace(
                reply,
                text=f"{reply.text}\n(I could not remove that message: make me an admin who may delete messages "
                "here, and send such commands to me privately.)",
            )
        return replace(reply, reply_to=None)  # nothing left to quote

    async def edit(self, ref: MessageRef, reply: Reply) -> None:
        try:
            await self._call(
                self._bot.edit_message_text,
                **_rendered(reply),
                chat_id=_address(ref.room.room_id)[0],
                message_id=int(ref.message_id),
                reply_markup=await self._keyboard(reply.buttons),  # keep the keyboard
            )
        except BadRequest as error:
            if "not modified" not in error.message:
                raise

    async def pin(self, ref: MessageRef) -> None:
        """Pin quietly (no extra notification); in groups the bot needs the right to pin."""
        await self._call(
            self._bot.pin_chat_message,
            _address(ref.room.room_id)[0],
            int(ref.message_id),
            disable_notification=True,
        )

    async def send_direct(self, user: UserRef, reply: Reply) -> MessageRef:
        chat_id = self._private_chats.get(user.user_id) or await self.memory.get(private_chat_key(user.user_id))
        if chat_id is None:
            raise DirectChatUnavailable(
                f"Telegram user {user.user_id} has not started a private chat with the bot yet",
                invitation=lambda name, lang: self._invitation(user, name, lang),
            )
        try:
            return await self._send(RoomRef(PLATFORM, chat_id), reply)
        except Forbidden as error:
            raise DirectChatUnavailable(
                f"Telegram user {user.user_id} blocked the bot ({error.message})",
                invitation=lambda name, lang: self._invitation(user, name, lang),
            ) from None
        except BadRequest as error:
            raise Undeliverable(f"Telegram refused it: {error.message}") from None

    def _invitation(self, user: UserRef, name: str, lang: Language) -> Reply:
        """A mention (which notifies them) with a button that opens the private chat: Telegram
        lets a bot write only to people who started it, and pressing Start is all it takes."""
        wording = lang._(
            "I have a private message for you. Telegram lets me write to you only once you have "
            "opened a chat with me: press the button (then Start), and it arrives at once."
        )
        return Reply(
            f"{name}: {wording}",
            html=f'<a href="tg://user?id={int(user.user_id)}">{html.escape(name)}</a>: {html.escape(wording)}',
            buttons=(Button(lang._("Open a private chat"), f"https://t.me/{self.username}?start=help"),),
        )

    async def fetch(self, attachment: AttachmentRef, limit: int) -> bytes:
        file = await self._call(self._bot.get_file, attachment.file_id)
        if file.file_path is None:
            raise Undeliverable(f"telegram: {attachment.name} cannot be downloaded")
        async with httpx.AsyncClient(timeout=60) as client, client.stream("GET", file.file_path) as answer:
            answer.raise_for_status()
            return await at_most(answer.aiter_bytes(), limit)

    async def _call(self, method: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """Call the Bot API, waiting out flood control and retrying failed connections.

        A request that timed out is not repeated when it may have created a message (Telegram
        has no idempotency key, so a retry could post twice); connection failures are.
        """
        delay = 1.0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await method(*args, **kwargs)
            except RetryAfter as error:
                wait = _seconds(error)
                log.info("telegram: flood control on %s; waiting %.0fs", method.__name__, wait)
                await asyncio.sleep(wait)
            except TimedOut:
                if method.__name__.startswith("send") or attempt == MAX_ATTEMPTS:
                    raise
                await asyncio.sleep(delay)
                delay *= 2
            except NetworkError as error:
                if isinstance(error, (BadRequest, Forbidden)) or attempt == MAX_ATTEMPTS:
                    raise
                log.warning("telegram: %s failed (%s); retrying in %.0fs", method.__name__, error, delay)
                await asyncio.sleep(delay)
                delay *= 2
        raise TimedOut(f"{method.__name__} kept hitting flood control")


def _is_start(text: str | None) -> bool:
    """Telegram's Start button (also after unblocking the bot) sends /start."""
    return (text or "").split("@")[0].split(maxsplit=1)[:1] == ["/start"]


def _room_of(message: Any) -> str:
    """A forum's topic is a room of its own, `<chat id>/<topic id>`, so each topic can serve its
    own group. The General topic (and any chat without topics) is the chat itself."""
    chat = str(message.chat.id)
    topic = getattr(message, "message_thread_id", None)
    if getattr(message, "is_topic_message", False) and topic:
        return f"{chat}/{topic}"
    return chat


def _address(room_id: str) -> tuple[int, int | None]:
    """Chat id and topic for a send: no topic for the chat itself, as the General topic requires."""
    chat, _, topic = room_id.partition("/")
    return int(chat), int(topic) if topic else None


def _seconds(error: RetryAfter) -> float:
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def _plain_pieces(text: str) -> list[dict[str, Any]]:
    """A text over Telegram's limit, as plain messages cut at line ends (formatting is dropped:
    entities would have to be split with their offsets)."""
    return [{"text": piece} for piece in split_text(text, TEXT_LIMIT)]


def _rendered(reply: Reply) -> dict[str, Any]:
    """The text and its formatting: Telegram's own HTML when the reply keeps to the tags it
    knows, else the HTML turned into text with entities (lists, headings, paragraphs)."""
    if not reply.html:
        return {"text": reply.text}
    if all(tag.lower() in TELEGRAM_TAGS for tag in _TAG.findall(reply.html)):
        return {"text": reply.html, "parse_mode": ParseMode.HTML}
    converted = transform_html(reply.html)
    # sulguk gives the entities as Bot API JSON; de_json reads nested users the way PTB does.
    entities = [MessageEntity.de_json(dict(entity), None) for entity in converted.entities]
    return {"text": converted.text.rstrip(), "entities": entities}
