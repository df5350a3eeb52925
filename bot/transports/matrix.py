"""Matrix, through matrix-nio: a well-behaved bot account, in plain and end-to-end encrypted rooms.

The sync token is stored after each batch of events has been handled, so a restart resumes
exactly where the bot stopped: nothing replayed (the router's dedup covers a crash mid-batch),
nothing missed. Buttons become reactions that the bot places under its own message; the
message carries the emoji → command map in its content, so presses still work after a restart.

With encryption on, nio keeps the device's keys in a store sealed with the store key; the bot
shares room keys with every device of a room's members without asking for verification (who
may act is decided by wgbot's own identity registry, not by device trust), and its own device is
cross-signed by its account (`matrix_identity`), which Element requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    BadEvent,
    DirectRoomsResponse,
    EncryptionError,
    ErrorResponse,
    Event,
    InviteMemberEvent,
    LocalProtocolError,
    LoginResponse,
    MegolmEvent,
    ReactionEvent,
    RedactionEvent,
    RoomCreateResponse,
    RoomEncryptedFile,
    RoomEncryptedImage,
    RoomGetEventResponse,
    RoomGetStateEventResponse,
    RoomMessageFile,
    RoomMessageImage,
    RoomMessagesResponse,
    RoomMessageText,
    RoomRedactError,
    RoomSendResponse,
    SyncError,
    SyncResponse,
    UnknownBadEvent,
    UploadResponse,
    WhoamiResponse,
)
from nio.crypto import decrypt_attachment

from bot.config import MatrixSettings
from bot.i18n import ENGLISH, Language, language
from bot.metrics import CONNECTED, SYNC_ERRORS
from bot.tasks import end
from bot.transports.base import (
    AttachmentRef,
    Button,
    Incoming,
    IncomingHandler,
    Memory,
    MessageRef,
    OutgoingFile,
    Reply,
    RoomRef,
    TransportUnavailable,
    UserRef,
    at_most,
    greeting,
    not_started,
    split_text,
)
from bot.transports.matrix_identity import CrossSigning, IdentityError
from bot.transports.matrix_keys import WrongRecoveryKey
from storage.rules.text import N_

log = logging.getLogger(__name__)
TEXT_LIMIT = 16_000  # characters a message: well inside Matrix's 64 KiB event, however it encodes
K = TypeVar("K")
V = TypeVar("V")

PLATFORM = "matrix"
BUTTONS_KEY = "org.wgbot.buttons"  # emoji → command, in the content of the bot's own message
NAMED_EMOJI = {"yes": "👍", "no": "👎", "abstain": "🤷", "maybe": "🤔"}
NUMBERED_EMOJI = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟"]
MAX_GAP_PAGES = 100  # pages of missed events fetched to close one gap (100 events a page)
MAX_NETWORK_RETRIES = 8  # with nio's doubling backoff, about two minutes of trying
ENCRYPTED_NOTICE = N_(
    "This room is end-to-end encrypted, and this wgbot runs with encryption turned off by its operator. "
    "Please invite it to an unencrypted room, or ask the operator to turn encryption on."
)
UNDECRYPTABLE_ANSWER = N_(
    "I could not decrypt that message: its keys have not reached my device (I have asked for them). "
    "Please send it again."
)
UNATTACHED_FILE_MINUTES = 10
PINNED = "m.room.pinned_events"
SPACE_EVERY = 300.0  # seconds between two looks for groups without a room in the Matrix Space
KEY_WAIT = 10.0  # seconds a message waits for its room key, which often comes a sync after it
REPLIES_AT_ONCE = 8  # replies of one sync batch in flight together, within the homeserver's rate limit
ROOM_KNOWN_WAIT = 10.0  # seconds a send waits for the sync to bring a room the bot just joined
REACH_WAIT = 10.0  # seconds the first request at start may take: an address that does not answer is said at once
WARN_EVERY = 60.0  # seconds between two warnings of a sync that keeps failing (the health check says it meanwhile)
# Seconds past its long poll after which a sync counts as a lost connection, whatever nio's own
# retries of it are doing (they would take minutes to give up).
SYNC_GRACE = 15.0
STOP_WAIT = 5.0  # seconds a stop waits for the batch in hand (within docker stop's 10 s); a cut one comes again
ENCRYPTION_STATE = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


class MatrixError(Exception):
    """The homeserver refused something for good (not a rate limit or a network blip)."""


class MatrixUnavailable(MatrixError, TransportUnavailable):
    """The bot cannot sign in as configured."""


class MatrixTransport:
    platform = PLATFORM
    exclusive = True  # one sync per device: a second process stands by until this one goes

    def __init__(
        self,
        settings: MatrixSettings,
        memory: Memory,
        may_invite: Callable[[str], Awaitable[bool]],
        language: Language = ENGLISH,
        keep_space: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self.settings = settings
        self.language = language  # the alliance's: Matrix says nothing of its users' languages
        self.memory = memory
        self.may_invite = may_invite
        self.keep_space = keep_space  # given the bot's token, gives new groups their rooms in the Space
        self.store_path = Path(settings.store_path)
        if settings.encryption:
            self.store_path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.client = _Client(
            self._unreachable,
            settings.homeserver,
            settings.user_id,
            store_path=str(self.store_path),
            config=AsyncClientConfig(
                encryption_enabled=settings.encryption,
                pickle_key=settings.store_key,
                store_sync_tokens=False,
                request_timeout=settings.sync_timeout_ms / 1000 + 30,
                max_limit_exceeded=None,  # always wait out a rate limit, as the server asks
                max_timeouts=MAX_NETWORK_RETRIES,  # then give up on a send; sync starts over
                backoff_factor=0.5,
            ),
        )
        self.finished = asyncio.Event()
        self._on_incoming: IncomingHandler = not_started
        self._task: asyncio.Task[None] | None = None
        self._direct_rooms: dict[str, str] = {}  # user id → DM room id
        self._direct_lock = asyncio.Lock()
        self._senders: _Recent[str, str] = _Recent(2000)  # event id → sender, for mentions
        self._buttons: _Recent[str, dict[str, str]] = _Recent(2000)  # message id → emoji map
        self._reactions: _Recent[str, tuple[str, str]] = _Recent(10000)  # reaction → (emoji, command)
        self._quote_instead: _Recent[str, str] = _Recent(2000)  # reaction → the message it is on
        self._threads: _Recent[str, str] = _Recent(2000)  # event in a thread → the thread's root
        self._loose_files: dict[tuple[str, str], tuple[float, AttachmentRef]] = {}
        self._file_keys: _Recent[str, dict[str, Any]] = _Recent(2000)  # mxc → how to decrypt it
        self._warned_encrypted: set[str] = set()
        self.undecryptable = 0  # events whose keys never came, since start
        self.key_wait = KEY_WAIT
        self._waiting_keys: dict[str, tuple[str, MegolmEvent, float]] = {}  # event → (room, event, since)
        self._handling = False  # between receiving a batch and storing its sync token
        self._lost = False  # a request could not reach the homeserver since the last sync that did
        # Replies of the batch in hand, sent while the next commands are handled; the last one
        # to each sender in each room, so their replies keep the order of their commands.
        self._replies: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._reply_slots = asyncio.Semaphore(REPLIES_AT_ONCE)
        self._synced = asyncio.Event()  # set after each sync's batch
        self._greetings: set[asyncio.Task[None]] = set()
        self._key_timer: asyncio.Task[None] | None = None  # gives up waiting for keys on time, also in a quiet room
        self._batch = asyncio.Lock()  # a sync's batch, or the key timer's retry: one at a time
        self._stopping = False

    # ── lifecycle ────────────────────────────────────────────────────────────────────────────

    async def start(self, on_incoming: IncomingHandler) -> None:
        self._on_incoming = on_incoming
        await self._reachable()
        await self._log_in()
        if self.settings.encryption:
            await self._keep_keys()
            await self._cross_sign()
            await self._reload_waiting_keys()
        await self._load_direct_rooms()
        since = await self.memory.get("next_batch")
        if since is None:
            # First start: begin from now; the history before the bot arrived is not for it.
            first = await self._sync(since=None, wait_ms=0)
            await self._handle_invites(first)
            since = first.next_batch
            await self.memory.put("next_batch", since)
        else:
            # A restart: every room's whole state (who is in it, whether it is encrypted), which
            # sending needs, with what came while the bot was away.
            answer = await self._sync(since, wait_ms=0, full_state=True)
            since = await self._handle_batch(answer, since)
        CONNECTED.labels(PLATFORM).set(1)
        self._task = asyncio.create_task(self._sync_forever(since), name="matrix-sync")
        self._task.add_done_callback(self._sync_ended)

    def _sync_ended(self, task: asyncio.Task[None]) -> None:
        """A sync loop that died of something unforeseen stops the bot (its supervisor starts it
        again) rather than leaving it up and deaf."""
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("matrix: the sync stopped: %r", error, exc_info=error)
            CONNECTED.labels(PLATFORM).set(0)
            self.finished.set()

    def _unreachable(self) -> None:
        """nio could not reach the homeserver and retries on its own, for minutes: the health
        check says so at once, whichever request it was."""
        CONNECTED.labels(PLATFORM).set(0)
        self._lost = True

    async def stop(self) -> None:
        """Finish the batch in hand (never half-handle a command) while the homeserver answers,
        then hang up. A batch cut short is not marked done, so it is handled again at the next
        start, where what it already did is skipped."""
        self._stopping = True
        CONNECTED.labels(PLATFORM).set(0)
        if self._task is not None and not self._task.done():
            if self._handling:
                await asyncio.wait([self._task], timeout=STOP_WAIT)
            await end(self._task)
        for greet in list(self._greetings):
            await end(greet)
        if self._key_timer is not None:
            await end(self._key_timer)
        await self.client.close()

    async def _reachable(self) -> None:
        """One plain request before nio's, which retry a connection error for minutes: a wrong
        or unreachable homeserver is one line within seconds (a homeserver lost later is
        retried, see _sync_forever)."""
        url = f"{self.settings.homeserver}/_matrix/client/versions"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REACH_WAIT)) as http,
                http.get(url) as answer,
            ):
                body: object = await answer.json(content_type=None) if answer.status == 200 else None
        except TimeoutError:
            raise MatrixUnavailable(
                f"matrix: {self.settings.homeserver} did not answer within {REACH_WAIT:.0f} s"
            ) from None
        except (aiohttp.ClientError, OSError, ValueError) as error:
            raise MatrixUnavailable(f"matrix: cannot reach {self.settings.homeserver} ({error})") from None
        if not (isinstance(body, dict) and "versions" in body):
            raise MatrixUnavailable(
                f"matrix: {self.settings.homeserver} is no Matrix homeserver "
                f"(HTTP {answer.status} at /_matrix/client/versions); check [matrix] homeserver"
            )

    async def _log_in(self) -> None:
        token = self.settings.access_token or await self.memory.get_secret("access_token")
        if token:
            self.client.access_token = token
            self.client.user_id = self.settings.user_id
            whoami = await self.client.whoami()
            if isinstance(whoami, WhoamiResponse):
                device = whoami.device_id  # None: a token that is no device's (an appservice's)
                if device is not None and (self._has_store(device) or not self.settings.password):
                    self.client.restore_login(whoami.user_id, device, token)
                    log.info("matrix: signed in as %s (device %s)", whoami.user_id, device)
                    return
                if device is None and not self.settings.password:
                    raise MatrixUnavailable(
                        "matrix: the access token is no device's; give a device's token or a password"
                    )
                # The device's keys are gone with its store: a new device, not a device whose
                # keys change under the members' feet.
                log.warning("matrix: no crypto store for device %s in %s; logging in anew", device, self.store_path)
                self.client.device_id = None  # or nio would log in to that very device again
            elif self.settings.access_token or not self.settings.password:
                raise MatrixUnavailable(f"matrix: the homeserver rejected the access token ({whoami.message})")
        try:
            login = await self.client.login(self.settings.password, device_name=self.settings.device_name)
        except (aiohttp.ClientError, OSError) as error:
            raise MatrixUnavailable(f"matrix: cannot reach {self.settings.homeserver} ({error})") from None
        if not isinstance(login, LoginResponse):
            raise MatrixUnavailable(f"matrix: could not log in as {self.settings.user_id} ({login.message})")
        await self.memory.put_secret("access_token", login.access_token)
        log.info("matrix: logged in as %s, new device %s", login.user_id, login.device_id)

    async def set_up_identity(self, recovery_key: str = "", reset: bool = False) -> str | None:
        """`wgbot matrix cross-sign`: sign in, then make sure the device is cross-signed, taking
        the keys back with the recovery key or replacing them; a new recovery key's text."""
        try:
            await self._log_in()
            await self._keep_keys()
            signing = self.cross_signing()
            if recovery_key:
                await signing.recover(recovery_key)
                return None
            return await signing.reset() if reset else await signing.ensure()
        except (IdentityError, WrongRecoveryKey) as error:
            raise MatrixUnavailable(str(error)) from None
        finally:
            await self.client.close()

    def _has_store(self, device_id: str) -> bool:
        return not self.settings.encryption or (self.store_path / f"{self.settings.user_id}_{device_id}.db").exists()

    def cross_signing(self) -> CrossSigning:
        return CrossSigning(self.client, self.store_path, self.settings.store_key, self.settings.password)

    async def _cross_sign(self) -> None:
        """The device signed by the account's cross-signing keys (made on first start)."""
        try:
            recovery = await self.cross_signing().ensure()
        except IdentityError as error:
            raise MatrixUnavailable(str(error)) from None
        if recovery is not None:
            path = self.cross_signing().write_recovery_key(recovery)
            log.warning(
                "matrix: new cross-signing keys; their recovery key is in %s: keep it safe, then delete the file", path
            )

    async def while_leading(self) -> None:
        """Every few minutes, the alliance's Space gets a room for each group made since (by a
        /wg propose vote), once an operator has made the Space (`wgbot matrix setup`)."""
        if self.keep_space is None:
            return
        while True:
            await asyncio.sleep(SPACE_EVERY)
            try:
                await self.keep_space(self.client.access_token)
            except Exception as error:  # the homeserver or the database away: the next round tries again
                log.warning("matrix: could not bring the Space up to date: %r", error)

    async def _keep_keys(self) -> None:
        """What an encrypting client owes the homeserver after each sync: queued to-device
        messages (room keys), its own one-time keys, and the keys of members' new devices."""
        await self.client.send_to_device_messages()
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            # nio hands them out as dict[str, list[str]] and takes them as dict[str, Iterable[str]].
            wanted: dict[str, Iterable[str]] = dict(self.client.get_users_for_key_claiming())
            await self.client.keys_claim(wanted)

    async def _sync(self, since: str | None, wait_ms: int, full_state: bool = False) -> SyncResponse:
        answer = await self.client.sync(
            timeout=wait_ms, since=since, sync_filter=self._sync_filter, full_state=full_state
        )
        if isinstance(answer, SyncError):
            raise _SyncFailed(answer)
        return answer

    async def _sync_forever(self, since: str) -> None:
        backoff = 1.0
        warned = -WARN_EVERY  # when the last warning was said (the loop's clock)
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with asyncio.timeout(self.settings.sync_timeout_ms / 1000 + SYNC_GRACE):
                    answer = await self._sync(since, self.settings.sync_timeout_ms)
                self._reached()
                # A request of the batch that cannot reach the homeserver either: its sync token
                # is not stored, so the same batch comes again (what was done is skipped).
                since = await self._handle_batch(answer, since)
            except (_SyncFailed, TimeoutError, aiohttp.ClientError, OSError) as error:
                SYNC_ERRORS.labels(PLATFORM).inc()
                self._unreachable()
                if isinstance(error, _SyncFailed) and error.answer.status_code in ("M_UNKNOWN_TOKEN", "M_FORBIDDEN"):
                    log.error("matrix: the homeserver signed the bot out (%s)", error.answer.message)
                    self.finished.set()
                    return
                why = error.answer.message if isinstance(error, _SyncFailed) else repr(error)
                quiet = loop.time() - warned < WARN_EVERY  # /healthz says it meanwhile
                log.log(logging.DEBUG if quiet else logging.WARNING, "matrix: sync failed (%s); retrying", why)
                warned = warned if quiet else loop.time()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            backoff = 1.0
            if self._stopping:
                return

    def _reached(self) -> None:
        if self._lost:
            log.info("matrix: connected again")
            self._lost = False
        CONNECTED.labels(PLATFORM).set(1)

    async def _handle_batch(self, answer: SyncResponse, since: str) -> str:
        """Handle one sync's news, then store its token: the next batch to ask for."""
        async with self._batch:
            return await self._handle_batch_in_turn(answer, since)

    async def _handle_batch_in_turn(self, answer: SyncResponse, since: str) -> str:
        self._handling = True
        try:
            if self.settings.encryption:
                await self._keep_keys()
                await self._retry_waiting_keys()  # this sync may have brought their keys
            await self._handle_invites(answer)
            try:
                await self._handle_timeline(answer, since)
            finally:
                await self._replies_sent()
            await self.memory.put("next_batch", answer.next_batch)
            return str(answer.next_batch)
        finally:
            self._handling = False
            self._synced.set()

    # ── incoming ─────────────────────────────────────────────────────────────────────────────

    async def _handle_invites(self, answer: SyncResponse) -> None:
        for room_id, info in answer.rooms.invite.items():
            try:
                await self._on_invite(room_id, info.invite_state)
            except Exception:
                log.exception("matrix: could not handle the invite to %s", room_id)

    async def _on_invite(self, room_id: str, state: Sequence[object]) -> None:
        """`state` is what nio read of the invite's state (InviteEvent, or BadEvent where it could not)."""
        own = next((e for e in state if isinstance(e, InviteMemberEvent) and e.state_key == self.client.user_id), None)
        inviter = own.sender if own else ""
        is_direct = bool(own and own.content.get("is_direct"))
        if not (is_direct or await self.may_invite(inviter)):
            log.info("matrix: declined an invite to %s from someone not allowed to bring the bot in", room_id)
            await self.client.room_leave(room_id)
            return
        await self.client.join(room_id)
        encryption = await self.client.room_get_state_event(room_id, "m.room.encryption")
        if isinstance(encryption, RoomGetStateEventResponse) and not self.settings.encryption:
            await self._send_content(room_id, _notice(self.language._(ENCRYPTED_NOTICE)))
            await self.client.room_leave(room_id)
            log.info("matrix: left encrypted room %s after saying why", room_id)
            return
        if is_direct:
            self._direct_rooms.setdefault(inviter, room_id)
        else:
            greet = asyncio.create_task(self._greet(room_id), name="matrix-greeting")
            self._greetings.add(greet)
            greet.add_done_callback(self._greetings.discard)
        log.info("matrix: joined %s", "a private chat" if is_direct else room_id)

    @property
    def _sync_filter(self) -> dict[str, Any]:
        return {
            "presence": {"types": []},
            "account_data": {"types": ["m.direct"]},
            "room": {"timeline": {"limit": self.settings.sync_timeline_limit}, "ephemeral": {"types": []}},
        }

    async def _handle_timeline(self, answer: SyncResponse, since: str) -> None:
        for room_id, info in answer.rooms.join.items():
            events = list(info.timeline.events)
            if info.timeline.limited and info.timeline.prev_batch:
                # More came than a sync brings: the homeserver sent the newest and left a gap.
                events = await self._missed(room_id, info.timeline.prev_batch, since) + events
            for event in events:
                if event.sender == self.client.user_id:
                    continue
                try:
                    await self._on_event(room_id, event)
                except Exception:  # one odd event must never stop the others
                    log.exception("matrix: could not handle event %s in %s", event.event_id, room_id)

    async def _missed(self, room_id: str, before: str, since: str) -> list[Any]:
        """The events of a room between the last sync and a limited timeline, oldest first, and
        never from before the bot joined (a room's history is not for it). Events already
        handled may come again: their dedup mark makes that harmless."""
        missed: list[Any] = []
        token = before
        for _ in range(MAX_GAP_PAGES):
            page = await self.client.room_messages(room_id, start=token, end=since, limit=100)
            if not isinstance(page, RoomMessagesResponse):
                log.error("matrix: could not fetch the events missed in %s (%s)", room_id, page.message)
                return missed
            for newest_first, event in enumerate(page.chunk):
                if self._is_own_join(event):
                    return list(reversed(page.chunk[:newest_first])) + missed
            missed = list(reversed(page.chunk)) + missed
            if not page.chunk or not page.end or page.end == token:
                return missed
            token = page.end
        log.error("matrix: more than %d events were missed in %s; the oldest are not handled", len(missed), room_id)
        return missed

    def _is_own_join(self, event: Any) -> bool:
        return bool(
            getattr(event, "state_key", None) == self.client.user_id and getattr(event, "membership", None) == "join"
        )

    async def _on_event(self, room_id: str, event: Any) -> None:
        if isinstance(event, RoomMessageText):
            await self._deliver(room_id, event, _without_reply_fallback(event.body))
        elif isinstance(event, (RoomMessageFile, RoomMessageImage, RoomEncryptedFile, RoomEncryptedImage)):
            await self._on_file(room_id, event)
        elif isinstance(event, ReactionEvent):
            await self._on_reaction(room_id, event)
        elif isinstance(event, RedactionEvent):
            await self._on_redaction(room_id, event)
        elif isinstance(event, MegolmEvent) and self.settings.encryption:
            await self._wait_for_key(room_id, event)
        elif isinstance(event, MegolmEvent) and room_id not in self._warned_encrypted:
            self._warned_encrypted.add(room_id)
            await self._send_content(room_id, _notice(self.language._(ENCRYPTED_NOTICE)))

    async def _wait_for_key(self, room_id: str, event: MegolmEvent) -> None:
        """A message whose room key has not come yet: the key is asked for, and the message is
        tried again after each sync until `key_wait` has passed (also across a restart)."""
        with contextlib.suppress(LocalProtocolError):  # asked already
            await self.client.request_room_key(event)
        self._waiting_keys[event.event_id] = (room_id, event, asyncio.get_running_loop().time())
        await self._remember_waiting_keys()
        self._wait_no_longer_than_key_wait()

    def _wait_no_longer_than_key_wait(self) -> None:
        """A sync in a quiet room waits up to `sync_timeout_ms` (30 s) for news; a message whose
        keys never come is answered when `key_wait` has passed, not at the next sync."""
        if self._key_timer is None or self._key_timer.done():
            self._key_timer = asyncio.create_task(self._retry_when_due(), name="matrix-key-wait")

    async def _retry_when_due(self) -> None:
        while self._waiting_keys and not self._stopping:
            oldest = min(since for _, _, since in self._waiting_keys.values())
            await asyncio.sleep(max(0.0, oldest + self.key_wait - asyncio.get_running_loop().time()) + 0.05)
            async with self._batch:  # never beside a batch: one handling of each event, in order
                await self._retry_waiting_keys()
                await self._replies_sent()

    async def _retry_waiting_keys(self) -> None:
        now = asyncio.get_running_loop().time()
        for event_id, (room_id, event, since) in list(self._waiting_keys.items()):
            decrypted: Any = None
            with contextlib.suppress(EncryptionError):
                decrypted = self.client.decrypt_event(event)
            if decrypted is None or isinstance(decrypted, MegolmEvent | BadEvent | UnknownBadEvent):
                if now - since < self.key_wait:
                    continue
                del self._waiting_keys[event_id]
                await self._undecryptable(room_id, event)
                continue
            del self._waiting_keys[event_id]
            log.info("matrix: the key of %s came; handling it now", event_id)
            try:
                await self._on_event(room_id, decrypted)
            except Exception:
                log.exception("matrix: could not handle event %s in %s", event_id, room_id)
        await self._remember_waiting_keys()

    async def _remember_waiting_keys(self) -> None:
        waiting = sorted([room_id, event_id] for event_id, (room_id, _, _) in self._waiting_keys.items())
        await self.memory.put("waiting_keys", json.dumps(waiting))

    async def _reload_waiting_keys(self) -> None:
        """After a restart: the messages that were still waiting for their keys wait again."""
        for room_id, event_id in json.loads(await self.memory.get("waiting_keys") or "[]"):
            answer = await self.client.room_get_event(room_id, event_id)
            if isinstance(answer, RoomGetEventResponse) and isinstance(answer.event, MegolmEvent):
                answer.event.room_id = room_id
                self._waiting_keys[event_id] = (room_id, answer.event, asyncio.get_running_loop().time())
        if self._waiting_keys:
            self._wait_no_longer_than_key_wait()

    async def _undecryptable(self, room_id: str, event: MegolmEvent) -> None:
        """Never dropped in silence: the keys were asked for, and the sender is asked to resend."""
        self.undecryptable += 1
        log.warning(
            "matrix: could not decrypt %s in %s (session %s; %d since start)",
            event.event_id,
            room_id,
            event.session_id,
            self.undecryptable,
        )
        self._senders[event.event_id] = event.sender
        await self.send(
            RoomRef(PLATFORM, room_id), Reply(self.language._(UNDECRYPTABLE_ANSWER), reply_to=event.event_id)
        )

    async def _deliver(self, room_id: str, event: Any, text: str, attachments: tuple[AttachmentRef, ...] = ()) -> None:
        self._senders[event.event_id] = event.sender
        relation = event.source.get("content", {}).get("m.relates_to") or {}
        if relation.get("rel_type") == "m.thread" and relation.get("event_id"):
            self._threads[event.event_id] = relation["event_id"]  # answered in that thread
        if not attachments:
            attachments = self._take_loose_file(room_id, event.sender)
        room = self.client.rooms.get(room_id)
        reply = await self._on_incoming(
            Incoming(
                platform=PLATFORM,
                room_id=room_id,
                sender_id=event.sender,
                sender_name=room.user_name(event.sender) or event.sender if room else event.sender,
                text=text,
                event_id=event.event_id,
                is_direct=self._is_direct(room_id),
                attachments=attachments,
            )
        )
        if reply is not None:
            self._reply(room_id, event.sender, reply)

    def _reply(self, room_id: str, sender: str, reply: Reply) -> None:
        """Send a command's reply while the batch's next commands are handled: a burst of a
        hundred votes does not wait for a hundred sends one after the other."""
        before = self._replies.get((room_id, sender))

        async def send() -> None:
            if before is not None:
                await asyncio.shield(before)
            async with self._reply_slots:
                try:
                    await self.send(RoomRef(PLATFORM, room_id), reply)
                except Exception:  # as when it was sent in line: logged, and the batch goes on
                    log.exception("matrix: could not send the reply to %s in %s", reply.reply_to, room_id)

        self._replies[(room_id, sender)] = asyncio.create_task(send(), name=f"matrix-reply-{reply.reply_to}")

    async def _replies_sent(self) -> None:
        """Every reply of the batch is sent (or failed) before its sync token is stored."""
        replies, self._replies = list(self._replies.values()), {}
        if replies:
            await asyncio.wait(replies)

    async def _on_file(self, room_id: str, event: Any) -> None:
        content = event.source.get("content", {})
        info = content.get("info") or {}
        name = content.get("filename") or event.body
        if isinstance(event, (RoomEncryptedFile, RoomEncryptedImage)):
            self._file_keys[event.url] = {"key": event.key["k"], "hash": event.hashes["sha256"], "iv": event.iv}
        attachment = AttachmentRef(
            PLATFORM, event.url, name, info.get("mimetype", "application/octet-stream"), info.get("size")
        )
        caption = event.body if content.get("filename") and event.body != content["filename"] else ""
        if caption:
            await self._deliver(room_id, event, caption, (attachment,))
        else:
            # A file on its own goes with the sender's next command in this room.
            loop_time = asyncio.get_running_loop().time()
            self._loose_files[(room_id, event.sender)] = (loop_time, attachment)

    def _take_loose_file(self, room_id: str, sender: str) -> tuple[AttachmentRef, ...]:
        kept = self._loose_files.pop((room_id, sender), None)
        if kept is None:
            return ()
        at, attachment = kept
        fresh = asyncio.get_running_loop().time() - at < UNATTACHED_FILE_MINUTES * 60
        return (attachment,) if fresh else ()

    async def _on_reaction(self, room_id: str, event: ReactionEvent) -> None:
        choices = await self._choices_of(room_id, event.reacts_to)
        command = choices.get(event.key) if choices else None
        if command is None:
            return  # an ordinary reaction, not a button press
        self._reactions[event.event_id] = (event.key, command)
        self._quote_instead[event.event_id] = event.reacts_to  # answer under the buttons
        await self._deliver(room_id, event, command)

    async def _choices_of(self, room_id: str, message_id: str) -> dict[str, str] | None:
        if message_id in self._buttons:
            return self._buttons[message_id]
        answer = await self.client.room_get_event(room_id, message_id)
        if not isinstance(answer, RoomGetEventResponse):
            return None
        event: Event | BadEvent | UnknownBadEvent = answer.event
        if isinstance(event, MegolmEvent) and self.client.olm is not None:
            event.room_id = room_id
            with contextlib.suppress(EncryptionError):  # the bot's own message: it holds that room key
                event = self.client.decrypt_event(event)
        source = {**event.source, "sender": answer.event.sender}
        if source.get("sender") != self.client.user_id:
            self._buttons[message_id] = {}
            return None  # only the bot's own messages define buttons
        choices = source.get("content", {}).get(BUTTONS_KEY) or {}
        self._buttons[message_id] = choices  # also "none", so plain reactions cost one look
        return choices

    async def _on_redaction(self, room_id: str, event: RedactionEvent) -> None:
        pressed = self._reactions.get(event.redacts)
        if pressed is None:
            return
        emoji, command = pressed
        await self.send(
            RoomRef(PLATFORM, room_id),
            Reply(
                self.language._(
                    "Taking back a reaction changes nothing: {emoji} ({command}) still stands. "
                    "To change it, react with another option or send the command.",
                    emoji=emoji,
                    command=command,
                ),
                reply_to=event.event_id,
            ),
        )

    # ── outgoing ─────────────────────────────────────────────────────────────────────────────

    async def send(self, room: RoomRef, reply: Reply) -> MessageRef:
        """Send a reply: its pieces, the message with its buttons' reactions, its file. With a
        key, every event's transaction id derives from it, so sending it again after a crash
        gives back the same events (the homeserver deduplicates) and places what was missing."""
        if reply.withdraw and reply.reply_to:
            reply = await self._withdraw(room, reply)
        reply = _private_choice(reply, self.language)
        key = reply.key or uuid.uuid4().hex
        if len(reply.text) > TEXT_LIMIT:  # an event is at most 64 KiB: plain text, in pieces
            *first, last = split_text(reply.text, TEXT_LIMIT)
            for number, piece in enumerate(first, start=1):
                content = self._message_content(replace(reply, text=piece, html=None))
                await self._send_content(room.room_id, content, tx_id=f"{key}-part{number}")
                reply = replace(reply, reply_to=None)
            reply = replace(reply, text=last, html=None)
        content = self._message_content(reply)
        choices = _choices(reply.buttons)
        if choices:
            content[BUTTONS_KEY] = choices
            legend = " · ".join(f"{emoji} {b.label}" for emoji, b in zip(choices, reply.buttons, strict=True))
            said = language(reply.language, self.language.code)._(
                "React with {legend} — or send the command, e.g. {command}",
                legend=legend,
                command=reply.buttons[0].command,
            )
            content["body"] += f"\n\n{said}"
        message_id = await self._send_content(room.room_id, content, tx_id=key)
        if choices:
            self._buttons[message_id] = choices
            for number, emoji in enumerate(choices, start=1):
                await self._send_content(
                    room.room_id,
                    {"m.relates_to": {"rel_type": "m.annotation", "event_id": message_id, "key": emoji}},
                    event_type="m.reaction",
                    tx_id=f"{key}-reaction{number}",
                )
        if reply.file is not None:
            await self._send_file(room.room_id, reply.file, tx_id=f"{key}-file")
        return MessageRef(room, message_id)

    async def _withdraw(self, room: RoomRef, reply: Reply) -> Reply:
        """Redact the message the reply answers (the bot needs the power to redact others')."""
        assert reply.reply_to is not None
        answer = await self.client.room_redact(room.room_id, reply.reply_to, reason="a secret ballot")
        if isinstance(answer, RoomRedactError):
            log.info("matrix: could not redact %s in %s: %s", reply.reply_to, room.room_id, answer.message)
            return replace(
                reply,
                text=f"{reply.text}\n(I could not remove that message: give me the power to remove messages "
                "here, and send such commands to me privately.)",
            )
        return replace(reply, reply_to=None)  # nothing left to quote

    async def edit(self, ref: MessageRef, reply: Reply) -> None:
        new = self._message_content(_private_choice(reply, self.language))
        new.pop("m.relates_to", None)
        new.pop("m.mentions", None)
        content = {
            **new,
            "body": f"* {new['body']}",
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": ref.message_id},
        }
        await self._send_content(ref.room.room_id, content)

    async def pin(self, ref: MessageRef) -> None:
        """Add the message to the room's pinned events (needs the power to change that state)."""
        room_id = ref.room.room_id
        current = await self.client.room_get_state_event(room_id, PINNED)
        pinned = list(current.content.get("pinned", [])) if isinstance(current, RoomGetStateEventResponse) else []
        if ref.message_id in pinned:
            return
        answer = await self.client.room_put_state(room_id, PINNED, {"pinned": [*pinned, ref.message_id]})
        if isinstance(answer, ErrorResponse):
            raise MatrixError(f"could not pin in {room_id}: {answer.message}")

    async def send_direct(self, user: UserRef, reply: Reply) -> MessageRef:
        room_id = await self._direct_room(user.user_id)
        return await self.send(RoomRef(PLATFORM, room_id), reply)

    async def fetch(self, attachment: AttachmentRef, limit: int) -> bytes:
        """The file's bytes (decrypted, for a file from an encrypted room: AES-CTR keeps its size)."""
        server, _, media = attachment.file_id.removeprefix("mxc://").partition("/")
        url = f"{self.settings.homeserver.rstrip('/')}/_matrix/client/v1/media/download/{server}/{media}"
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as answer:
            if answer.status != 200:
                raise MatrixError(f"could not download {attachment.name}: HTTP {answer.status}")
            data = await at_most(answer.content.iter_chunked(65536), limit)
        keys = self._file_keys.get(attachment.file_id)
        if keys is None:
            return data
        try:
            return bytes(decrypt_attachment(data, keys["key"], keys["hash"], keys["iv"]))
        except Exception as error:  # nio raises EncryptionError for a hash mismatch, others for bad keys
            raise MatrixError(f"could not decrypt {attachment.name}: {error}") from None

    def _message_content(self, reply: Reply) -> dict[str, Any]:
        content: dict[str, Any] = {"msgtype": "m.notice", "body": reply.text}
        if reply.html:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = reply.html
        if reply.reply_to:
            quoted = self._quote_instead.get(reply.reply_to, reply.reply_to)
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": quoted}}
            thread = self._threads.get(reply.reply_to)
            if thread is not None:  # a command in a thread is answered in it, quoting the command
                content["m.relates_to"] |= {"rel_type": "m.thread", "event_id": thread, "is_falling_back": False}
            sender = self._senders.get(reply.reply_to)
            content["m.mentions"] = {"user_ids": [sender]} if sender else {}
        return content

    async def _send_file(self, room_id: str, file: OutgoingFile, tx_id: str) -> None:
        """Upload and post a file; in an encrypted room, encrypted, with its keys in the event."""
        room = self.client.rooms.get(room_id)
        encrypt = bool(self.settings.encryption and room is not None and room.encrypted)
        uploaded, keys = await self.client.upload(
            lambda *_: file.content,
            content_type="application/octet-stream" if encrypt else file.media_type,
            filename=file.name,
            encrypt=encrypt,
            filesize=len(file.content),
        )
        if not isinstance(uploaded, UploadResponse):
            raise MatrixError(f"could not upload {file.name}: {uploaded.message}")
        content: dict[str, Any] = {
            "msgtype": "m.file",
            "body": file.name,
            "filename": file.name,
            "info": {"mimetype": file.media_type, "size": len(file.content)},
        }
        if encrypt:
            content["file"] = {"url": uploaded.content_uri, **(keys or {})}
        else:
            content["url"] = uploaded.content_uri
        await self._send_content(room_id, content, tx_id=tx_id)

    async def _send_content(
        self, room_id: str, content: dict[str, Any], event_type: str = "m.room.message", tx_id: str | None = None
    ) -> str:
        """Send one event. nio waits out rate limits (M_LIMIT_EXCEEDED's retry_after_ms) and
        retries network failures with backoff, re-sending under the same transaction id, so the
        homeserver keeps one event even when an attempt succeeded but its answer was lost."""
        if self.client.olm is not None:
            await self._known(room_id)
        answer = await self.client.room_send(
            room_id, event_type, content, tx_id=tx_id or uuid.uuid4().hex, ignore_unverified_devices=True
        )
        if not isinstance(answer, RoomSendResponse):
            raise MatrixError(f"could not send to {room_id}: {answer.message}")
        return answer.event_id

    async def _greet(self, room_id: str) -> None:
        """Say what the bot is and how to bind the room, once the sync has brought the join
        (which happens after the batch that brought the invite, hence not in that batch)."""
        try:
            await self._send_content(room_id, _notice(greeting(RoomRef(PLATFORM, room_id), self.language)))
        except Exception as error:
            log.warning("matrix: could not greet %s: %r", room_id, error)

    async def _known(self, room_id: str) -> None:
        """An encrypting client must know a room's state before it sends there: a room joined a
        moment ago is known once the sync in flight brings the join, which it does at once."""
        async with asyncio.timeout(ROOM_KNOWN_WAIT):
            while room_id not in self.client.rooms:
                self._synced.clear()
                await self._synced.wait()

    # ── private chats ────────────────────────────────────────────────────────────────────────

    async def _load_direct_rooms(self) -> None:
        answer = await self.client.list_direct_rooms()
        if isinstance(answer, DirectRoomsResponse):
            for user_id, room_ids in answer.rooms.items():
                if room_ids:
                    self._direct_rooms[user_id] = room_ids[-1]

    def _is_direct(self, room_id: str) -> bool:
        if room_id in self._direct_rooms.values():
            return True
        room = self.client.rooms.get(room_id)
        return room is not None and room.member_count == 2 and not room.name

    async def _direct_room(self, user_id: str) -> str:
        """The private chat with `user_id`, created once and then reused (also after restarts)."""
        async with self._direct_lock:
            if user_id in self._direct_rooms:
                return self._direct_rooms[user_id]
            created = await self.client.room_create(
                is_direct=True,
                invite=[user_id],
                # As Element makes a private chat: encrypted, when the bot can read it.
                initial_state=[ENCRYPTION_STATE] if self.settings.encryption else [],
            )
            if not isinstance(created, RoomCreateResponse):
                raise MatrixError(f"could not open a private chat with {user_id}: {created.message}")
            self._direct_rooms[user_id] = created.room_id
            await self._save_direct_rooms()
            await self._ready_to_encrypt_for(created.room_id, user_id)
            return created.room_id

    async def _ready_to_encrypt_for(self, room_id: str, user_id: str) -> None:
        """Before the first message in a private chat just opened: the invitation is known to
        this client and so are the invitee's devices, so the room key goes to them too and they
        can read it once they accept (not only what the bot says after that)."""
        olm = self.client.olm
        if olm is None:
            return  # nothing is encrypted
        async with asyncio.timeout(ROOM_KNOWN_WAIT):
            while user_id not in getattr(self.client.rooms.get(room_id), "users", {}):
                self._synced.clear()
                await self._synced.wait()
        if not list(self.client.device_store.active_user_devices(user_id)):
            olm.users_for_key_query.add(user_id)
            await self.client.keys_query()

    async def _save_direct_rooms(self) -> None:
        """Record the private chats in m.direct, where every Matrix client looks for them."""
        path = Api._build_path(
            ["user", self.client.user_id, "account_data", "m.direct"],
            {"access_token": self.client.access_token},
        )
        body = json.dumps({user: [room] for user, room in self._direct_rooms.items()})
        response = await self.client.send("PUT", path, body, headers={"Content-Type": "application/json"})
        if response.status != 200:
            log.warning("matrix: could not record private chats (HTTP %s)", response.status)


class _Client(AsyncClient):
    """nio's client, which also tells the transport each time a request could not reach the
    homeserver: nio then waits and tries again on its own, quietly, for minutes."""

    def __init__(self, on_unreachable: Callable[[], None], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_unreachable = on_unreachable

    async def get_timeout_retry_wait_time(self, got_timeouts: int) -> float:
        self._on_unreachable()
        return await super().get_timeout_retry_wait_time(got_timeouts)


class _SyncFailed(Exception):
    def __init__(self, answer: ErrorResponse) -> None:
        super().__init__(answer.message)
        self.answer = answer


class _Recent(OrderedDict[K, V]):
    """A dict that forgets its oldest entries beyond `size`."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


def _private_choice(reply: Reply, alliance: Language) -> Reply:
    """Reactions are public events: a choice that must stay private is made by command, in a
    private chat, and offered as text (in the language of the text it follows)."""
    if not (reply.private_buttons and reply.buttons):
        return reply
    said = language(reply.language, alliance.code)._(
        "In a private chat with me, send one of: {commands}", commands=" · ".join(b.command for b in reply.buttons)
    )
    return replace(reply, text=f"{reply.text}\n\n{said}", buttons=())


def _choices(buttons: tuple[Button, ...]) -> dict[str, str]:
    """Emoji for each button: 👍 👎 🤷 for yes/no/abstain (whatever the label's language: the
    command names the option), numbers otherwise."""
    named = [NAMED_EMOJI.get(b.command.split(" ", 2)[-1].lower(), "") for b in buttons]
    if all(named) and len(set(named)) == len(named):
        return {emoji: b.command for emoji, b in zip(named, buttons, strict=True)}
    return {emoji: b.command for emoji, b in zip(NUMBERED_EMOJI, buttons, strict=False)}  # votes have ≤ 10


def _notice(text: str) -> dict[str, Any]:
    return {"msgtype": "m.notice", "body": text}


def _without_reply_fallback(body: str) -> str:
    """A reply's body starts with "> " quoted lines of the message it answers; drop them."""
    if not body.startswith("> "):
        return body
    lines = body.split("\n")
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).lstrip("\n")
