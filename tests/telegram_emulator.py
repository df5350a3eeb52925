"""A Bot API server for the tests: the real python-telegram-bot talks to it over HTTP.

It serves `/bot<token>/<method>` and `/file/bot<token>/<path>` as Telegram does, with the
objects PTB 22 (Bot API 10) requires, and enforces what Telegram enforces that a bot can trip
over: 64-byte callback data, 4096-character texts, 200-character toasts, "message is not
modified", private chats only with people who started the bot, getUpdates refused while a
webhook is set, and editing without a keyboard dropping the keyboard.

The test side acts as people directly in Python (`say`, `press`, `upload`, `set_member`) and
reads what the bot did (`messages`, `toasts`, `commands`), and can make Telegram push back
(`limit_next` answers 429 with retry_after; `deliver_raw` sends an update PTB cannot read).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

BOT_ID = 7000000001


@dataclass
class User:
    id: int
    first_name: str
    username: str | None = None
    is_bot: bool = False
    language_code: str | None = None  # what the person's Telegram app is set to

    def to_api(self) -> dict:
        data = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass
class Chat:
    id: int
    type: str  # "private", "group", "supergroup"
    title: str | None = None
    members: set[int] = field(default_factory=set)
    is_forum: bool = False  # a supergroup with topics
    topics: dict[int, str] = field(default_factory=dict)  # topic (message_thread_id) → name

    def to_api(self, users: dict[int, User]) -> dict:
        if self.type == "private":
            user = users[self.id]
            return {"id": self.id, "type": "private", "first_name": user.first_name}
        return {"id": self.id, "type": self.type, "title": self.title} | ({"is_forum": True} if self.is_forum else {})


@dataclass
class SentMessage:
    """A message in a chat, as the emulator keeps it (edits overwrite text and keyboard)."""

    message_id: int
    chat_id: int
    sender: int
    text: str | None
    date: int
    keyboard: list | None = None
    reply_to: int | None = None
    document: dict | None = None
    caption: str | None = None
    parse_mode: str | None = None
    entities: list | None = None
    edits: list[str] = field(default_factory=list)
    topic: int | None = None  # its forum topic; None in the General topic and in other chats

    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback data), or (label, url) for a button that opens a link."""
        return [(b["text"], b.get("callback_data") or b["url"]) for row in self.keyboard or [] for b in row]


class FloodControl:
    """Telegram's limits on a bot's messages, read strictly as sliding windows: at most 30 in any
    second overall and 20 in any minute to one group. A message over either is answered 429 with
    the seconds until it would fit."""

    COUNTED = frozenset({"sendMessage", "sendDocument", "editMessageText"})

    def __init__(self, per_second: int = 30, per_group_minute: int = 20) -> None:
        self.per_second, self.per_group_minute = per_second, per_group_minute
        self.overall: list[float] = []
        self.groups: dict[int, list[float]] = {}

    def admit(self, chat_id: int) -> int | None:
        now = time.monotonic()
        self.overall = [t for t in self.overall if now - t < 1]
        waits = [1 - (now - self.overall[0])] if len(self.overall) >= self.per_second else []
        if chat_id < 0:
            recent = self.groups[chat_id] = [t for t in self.groups.get(chat_id, []) if now - t < 60]
            if len(recent) >= self.per_group_minute:
                waits.append(60 - (now - recent[0]))
        if waits:
            return max(1, math.ceil(max(waits)))
        self.overall.append(now)
        if chat_id < 0:
            self.groups[chat_id].append(now)
        return None


class BotApiServer:
    """The HTTP side: routes each request to the bot whose token it carries."""

    def __init__(self) -> None:
        self.bots: dict[str, BotApiEmulator] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        # Telegram drops a long poll whose client hung up; so does this server.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _method(self, request: web.Request) -> web.Response:
        bot = self.bots.get(request.match_info["token"])
        if bot is None:
            return _error(ApiError(401, "Unauthorized"))
        return await bot._serve_method(request)

    async def _file(self, request: web.Request) -> web.Response:
        bot = self.bots.get(request.match_info["token"])
        return await bot._serve_file(request) if bot else web.Response(status=401)


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


class BotApiEmulator:
    def __init__(self, username: str = "WgTestBot", bot_id: int = BOT_ID) -> None:
        self.token = f"{bot_id}:{secrets.token_urlsafe(24)}"
        self.bot = User(bot_id, username, username, is_bot=True)
        self.users: dict[int, User] = {bot_id: self.bot}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[int, list[SentMessage]] = {}
        self.started: set[int] = set()  # users who pressed Start in a private chat
        self.toasts: list[dict] = []
        self.commands: list[dict] = []
        self.commands_in: dict[str, list[dict]] = {}  # by language_code
        self.files: dict[str, tuple[bytes, str, str]] = {}  # file_id → (data, name, path)
        self.calls: list[str] = []  # every method the bot called, in order
        self.rate_limited: int = 0  # 429s answered
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._news = asyncio.Condition()
        self._limits: dict[str, list[int]] = {}
        self.flood_control: FloodControl | None = None  # Telegram's own limits, when turned on
        self.pinned: dict[int, list[int]] = {}  # chat id → pinned message ids
        self.pin_forbidden: set[int] = set()  # chats where the bot may not pin
        self.send_latency = 0.0  # seconds every send and callback answer takes, as over a slow link
        self.served = 0  # file bytes sent to the bot
        self.bot_admin_in: set[int] = set()  # groups where the bot is an admin who may delete messages
        self.deleted: dict[int, list[SentMessage]] = {}  # chat id → messages deleted, as they were
        self.failing: dict[int, list[ApiError]] = {}  # chat id → errors its next sends meet
        self._webhook: dict | None = None
        self.server: BotApiServer | None = None
        self.webhook_forward: str | None = None  # where the "reverse proxy" sends webhook posts
        self._http: ClientSession | None = None
        self.url = ""

    # ── serving ──────────────────────────────────────────────────────────────────────────────

    async def start(self, server: BotApiServer | None = None) -> None:
        """Serve this bot, on its own server or on a shared one (several bots, one Telegram)."""
        self._own_server = server is None
        self.server = server or BotApiServer()
        if self._own_server:
            await self.server.start()
        self.server.bots[self.token] = self
        self.url = self.server.url
        self._http = ClientSession()

    async def stop(self) -> None:
        if self._http:
            await self._http.close()
        if self._own_server:
            await self.server.stop()

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def bot_settings(self, **overrides: Any) -> dict[str, Any]:
        """wgbot's [telegram] settings for this emulator: short polls, and no pacing (tests of
        function; a test of Telegram's limits turns rate_limiter back on)."""
        return {
            "token": self.token,
            "api_url": self.base_url,
            "file_url": self.base_file_url,
            "poll_timeout": 5,
            "rate_limiter": False,
            **overrides,
        }

    async def _serve_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(method)
        handler = getattr(self, f"_api_{method}", None)
        if self.send_latency and method.startswith(("send", "answerCallbackQuery")):
            await asyncio.sleep(self.send_latency)
        try:
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            if self._limits.get(method):
                retry_after = self._limits[method].pop(0)
                self.rate_limited += 1
                raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
            counted = self.flood_control is not None and method in FloodControl.COUNTED
            if counted and (retry_after := self.flood_control.admit(int(params["chat_id"]))) is not None:
                self.rate_limited += 1
                raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
            result = await handler(params)
        except ApiError as error:
            return _error(error)
        return web.json_response({"ok": True, "result": result})

    async def _serve_file(self, request: web.Request) -> web.StreamResponse:
        """Files stream in 64 KiB pieces, as over a network; `served` counts what went out."""
        for data, _, path in self.files.values():
            if path == request.match_info["path"]:
                answer = web.StreamResponse(headers={"Content-Length": str(len(data))})
                await answer.prepare(request)
                try:
                    for start in range(0, len(data), 1 << 16):
                        await answer.write(data[start : start + (1 << 16)])
                        self.served += min(1 << 16, len(data) - start)
                except (ConnectionResetError, ConnectionError):
                    return answer  # the reader hung up: it had enough
                await answer.write_eof()
                return answer
        return web.Response(status=404)

    # ── the Bot API ──────────────────────────────────────────────────────────────────────────

    async def _api_getMe(self, params: dict) -> dict:
        return {
            **self.bot.to_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_deleteWebhook(self, params: dict) -> bool:
        self._webhook = None
        if _bool(params.get("drop_pending_updates")):
            self._updates.clear()
        return True

    async def _api_setWebhook(self, params: dict) -> bool:
        self._webhook = {"url": params["url"], "secret": params.get("secret_token")}
        asyncio.get_running_loop().create_task(self._push_pending())
        return True

    async def _api_getWebhookInfo(self, params: dict) -> dict:
        return {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _api_getUpdates(self, params: dict) -> list[dict]:
        if self._webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        async with self._news:
            while not self._updates and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(self._news.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
        return self._updates[:limit]

    async def _api_setMyCommands(self, params: dict) -> bool:
        commands = _json(params["commands"])
        for command in commands:
            name, description = command.get("command", ""), command.get("description", "")
            if not (1 <= len(name) <= 32 and name.replace("_", "").isalnum() and name == name.lower()):
                raise ApiError(400, f"Bad Request: BOT_COMMAND_INVALID ({name!r})")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: command description is invalid")
        if params.get("language_code"):
            self.commands_in[params["language_code"]] = commands
        else:
            self.commands = commands
        return True

    async def _api_createForumTopic(self, params: dict) -> dict:
        chat = self._chat_for_bot(int(params["chat_id"]))
        return {
            "message_thread_id": self.create_topic(chat.id, params["name"]),
            "name": params["name"],
            "icon_color": 7322096,
        }

    async def _api_sendMessage(self, params: dict) -> dict:
        chat = self._chat_for_bot(int(params["chat_id"]))
        if self.failing.get(chat.id):
            raise self.failing[chat.id].pop(0)
        text = params.get("text", "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        message = self._store(
            chat,
            self.bot.id,
            text=text,
            topic=_topic(chat, params),
            keyboard=_keyboard(params.get("reply_markup")),
            reply_to=_reply_to(params),
            parse_mode=params.get("parse_mode"),
            entities=_json(params["entities"]) if params.get("entities") else None,
        )
        return self._message_api(message)

    async def _api_pinChatMessage(self, params: dict) -> bool:
        chat = self._chat_for_bot(int(params["chat_id"]))
        if chat.id in self.pin_forbidden:
            raise ApiError(400, "Bad Request: not enough rights to manage pinned messages in the chat")
        message = self._find(chat.id, int(params["message_id"]))
        self.pinned.setdefault(chat.id, []).append(message.message_id)
        return True

    async def _api_sendDocument(self, params: dict) -> dict:
        chat = self._chat_for_bot(int(params["chat_id"]))
        upload = params.get("document")
        if not isinstance(upload, tuple):
            raise ApiError(400, "Bad Request: there is no document in the request")
        name, data, media_type = upload
        document = self._keep_file(data, name, media_type)
        message = self._store(
            chat,
            self.bot.id,
            document=document,
            caption=params.get("caption"),
            reply_to=_reply_to(params),
            topic=_topic(chat, params),
        )
        return self._message_api(message)

    async def _api_editMessageText(self, params: dict) -> dict:
        message = self._find(int(params["chat_id"]), int(params["message_id"]))
        keyboard = _keyboard(params.get("reply_markup"))  # absent: Telegram drops the keyboard
        if params.get("text") == message.text and keyboard == message.keyboard:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message.edits.append(message.text)
        message.text, message.keyboard = params["text"], keyboard
        message.parse_mode = params.get("parse_mode")
        return {**self._message_api(message), "edit_date": int(time.time())}

    async def _api_deleteMessage(self, params: dict) -> bool:
        """As Telegram: the bot deletes its own messages, and others' only as an admin with the right."""
        chat = self._chat_for_bot(int(params["chat_id"]))
        message = self._find(chat.id, int(params["message_id"]))
        if message.sender != self.bot.id and chat.type != "private" and chat.id not in self.bot_admin_in:
            raise ApiError(400, "Bad Request: message can't be deleted")
        self.messages[chat.id].remove(message)
        self.deleted.setdefault(chat.id, []).append(message)
        return True

    async def _api_answerCallbackQuery(self, params: dict) -> bool:
        text = params.get("text") or ""
        if len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.toasts.append({"id": params["callback_query_id"], "text": text, "alert": _bool(params.get("show_alert"))})
        await self._notify()
        return True

    async def _api_getFile(self, params: dict) -> dict:
        file_id = params["file_id"]
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        data, _, path = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data), "file_path": path}

    async def _api_leaveChat(self, params: dict) -> bool:
        chat = self._chat_for_bot(int(params["chat_id"]))
        chat.members.discard(self.bot.id)
        return True

    async def _api_close(self, params: dict) -> bool:
        return True

    # ── acting as people (the tests' side) ──────────────────────────────────────────────────

    def person(
        self, user_id: int, first_name: str, username: str | None = None, language_code: str | None = None
    ) -> User:
        self.users[user_id] = User(user_id, first_name, username, language_code=language_code)
        return self.users[user_id]

    def group(self, chat_id: int, title: str, *members: User, with_bot: bool = True) -> Chat:
        chat = Chat(chat_id, "supergroup", title, {m.id for m in members} | ({self.bot.id} if with_bot else set()))
        self.chats[chat_id] = chat
        return chat

    def forum(self, chat_id: int, title: str, *members: User) -> Chat:
        """A supergroup with topics; its General topic is the chat itself."""
        chat = self.group(chat_id, title, *members)
        chat.is_forum = True
        return chat

    def create_topic(self, chat_id: int, name: str) -> int:
        """A new topic: as in Telegram, its id is that of the service message that opens it."""
        chat = self.chats[chat_id]
        assert chat.is_forum, f"{chat.title} has no topics"
        topic = next(self._message_ids)  # the service message itself is not kept
        chat.topics[topic] = name
        return topic

    async def say(
        self, user: User, chat_id: int | None, text: str, reply_to: int | None = None, topic: int | None = None
    ) -> SentMessage:
        """`user` writes `text` in a group (in a forum's `topic`), or (chat_id None) in their
        private chat with the bot."""
        chat = self._chat_for_user(user, chat_id)
        if chat.type == "private" and text.startswith("/start"):
            self.started.add(user.id)
        assert topic is None or topic in chat.topics, f"no topic {topic} in {chat.title}"
        message = self._store(chat, user.id, text=text, reply_to=reply_to, topic=topic)
        await self._deliver({"message": self._message_api(message)})
        return message

    async def upload(
        self,
        user: User,
        chat_id: int | None,
        data: bytes,
        name: str,
        media_type: str,
        caption: str | None = None,
        advertised_size: int | None = None,
    ) -> SentMessage:
        """`user` sends a document; `advertised_size` is what its message claims (a lie, maybe)."""
        chat = self._chat_for_user(user, chat_id)
        document = self._keep_file(data, name, media_type)
        if advertised_size is not None:
            document["file_size"] = advertised_size
        message = self._store(chat, user.id, document=document, caption=caption)
        await self._deliver({"message": self._message_api(message)})
        return message

    async def press(self, user: User, message: SentMessage, label: str) -> str:
        """`user` presses the inline button `label` under `message`; returns the query id."""
        data = dict(message.buttons())[label]
        query_id = str(next(self._update_ids) * 1000 + 7)
        await self._deliver(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_api(),
                    "chat_instance": f"ci{message.chat_id}",
                    "message": self._message_api(message),
                    "data": data,
                }
            }
        )
        return query_id

    async def set_member(self, user: User, chat_id: int, status: str) -> None:
        """Change `user`'s membership ("member" or "left"); the bot itself included."""
        chat = self.chats[chat_id]
        old = "member" if user.id in chat.members else "left"
        (chat.members.add if status == "member" else chat.members.discard)(user.id)
        kind = "my_chat_member" if user.id == self.bot.id else "chat_member"
        actor = next((self.users[m] for m in chat.members if m != self.bot.id), user)
        await self._deliver(
            {
                kind: {
                    "chat": chat.to_api(self.users),
                    "from": actor.to_api(),
                    "date": int(time.time()),
                    "old_chat_member": {"status": old, "user": user.to_api()},
                    "new_chat_member": {"status": status, "user": user.to_api()},
                }
            }
        )

    async def redeliver(self, message: SentMessage) -> None:
        """Send a message's update again, as Telegram does when it was not confirmed."""
        await self._deliver({"message": self._message_api(message)})

    async def deliver_raw(self, update: dict) -> None:
        """Queue an update as given (e.g. one PTB cannot parse)."""
        await self._deliver(update)

    def limit_next(self, method: str, *retry_after: int) -> None:
        """Answer the next calls of `method` with 429 Too Many Requests, one per retry_after."""
        self._limits.setdefault(method, []).extend(retry_after)

    def bot_messages(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.messages.get(chat_id, []) if m.sender == self.bot.id]

    async def wait_for_bot(self, chat_id: int, count: int = 1, timeout: float = 10) -> list[SentMessage]:
        """Wait until the bot has sent at least `count` messages in the chat; return them all."""
        async with asyncio.timeout(timeout):
            async with self._news:
                while len(self.bot_messages(chat_id)) < count:
                    await self._news.wait()
        return self.bot_messages(chat_id)

    async def answer_to(self, message: SentMessage, timeout: float = 10) -> SentMessage:
        """The bot's message quoting `message`."""
        async with asyncio.timeout(timeout):
            async with self._news:
                while True:
                    for sent in self.bot_messages(message.chat_id):
                        if sent.reply_to == message.message_id:
                            return sent
                    await self._news.wait()

    async def wait_for_toast(self, query_id: str, timeout: float = 10) -> dict:
        async with asyncio.timeout(timeout):
            async with self._news:
                while not any(t["id"] == query_id for t in self.toasts):
                    await self._news.wait()
        return next(t for t in self.toasts if t["id"] == query_id)

    # ── internals ────────────────────────────────────────────────────────────────────────────

    async def _deliver(self, content: dict) -> None:
        update = {"update_id": next(self._update_ids), **content}
        async with self._news:
            self._updates.append(update)
            self._news.notify_all()
        if self._webhook:
            await self._push_pending()

    async def _push_pending(self) -> None:
        """Webhook mode: POST each pending update to the bot, as Telegram does."""
        while self._webhook and self._updates:
            update = self._updates[0]
            headers = {"Content-Type": "application/json"}
            if self._webhook["secret"]:
                headers["X-Telegram-Bot-Api-Secret-Token"] = self._webhook["secret"]
            url = self._webhook["url"]
            if self.webhook_forward:
                url = self.webhook_forward + "/" + url.split("/", 3)[3]
            async with self._http.post(url, data=json.dumps(update), headers=headers) as r:
                if r.status != 200:
                    return
            self._updates.pop(0)

    def _chat_for_user(self, user: User, chat_id: int | None) -> Chat:
        if chat_id is None:
            return self.chats.setdefault(user.id, Chat(user.id, "private", members={user.id, self.bot.id}))
        chat = self.chats[chat_id]
        assert user.id in chat.members, f"{user.first_name} is not in {chat.title}"
        return chat

    def _chat_for_bot(self, chat_id: int) -> Chat:
        chat = self.chats.get(chat_id)
        if chat is None and chat_id in self.users and chat_id not in self.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if self.bot.id not in chat.members:
            raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
        if chat.type == "private" and chat.id not in self.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _store(self, chat: Chat, sender: int, **fields: Any) -> SentMessage:
        message = SentMessage(
            next(self._message_ids), chat.id, sender, fields.pop("text", None), int(time.time()), **fields
        )
        self.messages.setdefault(chat.id, []).append(message)
        asyncio.get_running_loop().create_task(self._notify())
        return message

    async def _notify(self) -> None:
        async with self._news:
            self._news.notify_all()

    def _find(self, chat_id: int, message_id: int) -> SentMessage:
        for message in self.messages.get(chat_id, []):
            if message.message_id == message_id:
                return message
        raise ApiError(400, "Bad Request: message to edit not found")

    def _keep_file(self, data: bytes, name: str, media_type: str) -> dict:
        file_id = f"BQAC{next(self._file_ids):06d}"
        self.files[file_id] = (data, name, f"documents/file_{file_id}{_suffix(name)}")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": name,
            "mime_type": media_type,
            "file_size": len(data),
        }

    def _message_api(self, message: SentMessage) -> dict:
        chat = self.chats[message.chat_id]
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": chat.to_api(self.users),
            "from": self.users[message.sender].to_api(),
        }
        if message.text is not None:
            data["text"] = message.text
            if message.text.startswith("/"):
                command = message.text.split()[0]
                data["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if message.document:
            data["document"] = message.document
        if message.caption:
            data["caption"] = message.caption
        if message.keyboard:
            data["reply_markup"] = {"inline_keyboard": message.keyboard}
        if message.topic is not None:
            data["message_thread_id"] = message.topic
            data["is_topic_message"] = True
        if message.reply_to:
            original = self._find(message.chat_id, message.reply_to)
            data["reply_to_message"] = {k: v for k, v in self._message_api(original).items() if k != "reply_to_message"}
        return data


async def _params(request: web.Request) -> dict:
    if request.content_type == "application/json":
        return await request.json()
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST":
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params[key] = (value.filename, value.file.read(), value.content_type)
            else:
                params[key] = value
    return params


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _bool(value: Any) -> bool:
    return value in (True, "true", "True", "1")


def _keyboard(markup: Any) -> list | None:
    if not markup:
        return None
    rows = _json(markup).get("inline_keyboard")
    for row in rows or []:
        for button in row:
            if len(button.get("callback_data", "").encode()) > 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return rows


def _topic(chat: Chat, params: dict) -> int | None:
    """The topic a send names, checked as Telegram does: only a forum's existing topics, and never
    the General topic (whose messages carry no message_thread_id)."""
    if params.get("message_thread_id") in (None, ""):
        return None
    topic = int(params["message_thread_id"])
    if not chat.is_forum or topic not in chat.topics:
        raise ApiError(400, "Bad Request: message thread not found")
    return topic


def _reply_to(params: dict) -> int | None:
    if params.get("reply_parameters"):
        return int(_json(params["reply_parameters"])["message_id"])
    if params.get("reply_to_message_id"):
        return int(params["reply_to_message_id"])
    return None


def _suffix(name: str) -> str:
    return name[name.rfind(".") :] if "." in name else ""


def _error(error: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
    if error.parameters:
        body["parameters"] = error.parameters
    return web.json_response(body, status=error.code)
