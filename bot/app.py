"""The running bot: storage, router and transports, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from bot import shutdown
from bot.areas import Area, Services, registry_of
from bot.changes import Change
from bot.commands import Registry
from bot.config import Settings
from bot.http import HttpServer, connected_gauge_reset
from bot.i18n import LANGUAGES, Language, language
from bot.leadership import Leadership
from bot.live import LiveMessages
from bot.postman import Postman
from bot.router import Router
from bot.scheduler import Scheduler
from bot.tasks import end
from bot.transports.base import AttachmentRef, Incoming, Leading, Operated, Reply, Transport, TransportUnavailable
from storage import announcements, notices, people, rooms
from storage.db import Database
from storage.transport_state import TransportMemory

if TYPE_CHECKING:
    from bot.transports.matrix import MatrixTransport

log = logging.getLogger(__name__)
RESYNC_EVERY = timedelta(minutes=1)
PLAN_AHEAD = timedelta(days=7)  # what the scheduler holds; the resync brings the rest in time
PORT_RETRY = 2.0  # seconds between a new leader's tries at the HTTP port its predecessor held


class App:
    """One process serving every configured platform from one database, with what the areas
    contribute (the composition root passes them: bot/ knows no area by name)."""

    def __init__(
        self, settings: Settings, db: Database, transports: Sequence[Transport], areas: Sequence[Area]
    ) -> None:
        self.settings = settings
        self.db = db
        self.transports = {t.platform: t for t in transports}
        self.postman = Postman(db, self.transports, settings.alliance.language)
        self.live = LiveMessages(
            db, self.transports, [topic for area in areas for topic in area.live], language=settings.alliance.language
        )
        services = Services(db, settings, changed=self.live.touch)
        self.services = services
        self.pages = [page for area in areas for page in area.pages]
        self.scheduler = Scheduler(
            [plan(services) for area in areas for plan in area.planners],
            after_change=self.postman.wake,
            # Another process may change what is due: `wgbot announce` at the shell, a second
            # wgbot on the same PostgreSQL database.
            resync_every=RESYNC_EVERY,
            horizon=PLAN_AHEAD,
        )
        self.leadership = Leadership(db, on_elected=self._lead, on_deposed=self._follow)
        self.router = Router(
            db, registry_of(areas), settings, fetch=self.fetch, on_change=self._follow_up, on_queued=self.postman.wake
        )
        self.console = next((t for t in transports if isinstance(t, Operated)), None)
        if self.console is not None:
            self.console.after_each_command = self._settle_if_leading
        self._stopping = asyncio.Event()
        self._leading_work: list[asyncio.Task[None]] = []  # the transports' own, while this process leads
        self._active: list[Transport] = []  # exclusive transports this process runs while it leads
        self._watchers: list[asyncio.Task[None]] = []
        self.ended_by: str | None = None  # the platform whose connection ended by itself, if one did
        self._fatal: TransportUnavailable | None = None
        self._http: HttpServer | None = None
        self._taking_port: asyncio.Task[None] | None = None
        # Every transport is listening (a standby: all but those it stands by for; see _lead).
        self.started = asyncio.Event()

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Serve until a signal arrives or a transport ends (the console at end of input). A
        signal stops it between commands (see bot/shutdown.py), also one that came before."""
        loop = asyncio.get_running_loop()
        before = {signum: signal.getsignal(signum) for signum in shutdown.SIGNALS}
        for signum in shutdown.SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, shutdown.note, signum)
        stop_listening = shutdown.listen(self.request_stop)
        started: list[Transport] = []
        if self.settings.http.listen and self.console is None:  # an operator's console serves no HTTP
            connected_gauge_reset(self.transports)
            self._http = HttpServer(
                self.settings.http,
                self.db,
                expected=self._connected_here,
                ready=lambda: self.started.is_set() and not self._stopping.is_set(),
                pages=self.pages,
                services=self.services,
            )
            await self._bind_http(say=True)  # answering (not ready) while the platforms connect
        try:
            # A stop is honoured while starting too (a homeserver being retried can take minutes).
            starting = asyncio.create_task(self._start(started), name="start")
            stop = asyncio.create_task(self._stopping.wait())
            await asyncio.wait([starting, stop], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not starting.done():
                log.info("stopping before every transport had started")
                await end(starting)
                return
            starting.result()
            if self.console is not None and not self.leadership.leading.is_set():
                self.console.tell_operator(
                    "Another wgbot process serves this database: this console neither schedules nor "
                    "delivers (your commands work; their notices go out from that process)."
                )
            self.started.set()
            waits = [asyncio.create_task(self._stopping.wait())]
            waits += [asyncio.create_task(t.finished.wait()) for t in started]  # exclusive ones: _stop_when_finished
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for wait in waits:
                wait.cancel()
            for transport in started:  # a console ends when its input does; a platform should not
                if transport.finished.is_set() and transport is not self.console:
                    self.ended_by = transport.platform
        finally:
            self.started.clear()
            await self.leadership.stop()
            await self.live.stop()
            for transport in reversed(started):
                try:
                    await transport.stop()
                except Exception:
                    log.exception("%s transport did not stop cleanly", transport.platform)
            stop_listening()
            for signum, handler in before.items():
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)
                    signal.signal(signum, handler)  # what the process had before (bot/shutdown's, in `wgbot`)
            if self._taking_port is not None:
                await end(self._taking_port)
                self._taking_port = None
            if self._http is not None:
                await self._http.stop()

    async def _start(self, started: list[Transport]) -> None:
        await self._rooms_for_this_process()
        for transport in self.transports.values():
            if _exclusive(transport):
                continue  # started by the process that leads (see _lead)
            started.append(transport)  # stopped on the way out, even if its start is cut short
            await transport.start(self.handle)
            log.info("%s transport started", transport.platform)
        await self.leadership.start()
        if self._fatal is not None:
            raise self._fatal

    def _connected_here(self) -> list[str]:
        """The platforms this process must be connected to: a standby does not receive on the
        platforms only one process may (it takes them over when the leader goes)."""
        leading = self.leadership.leading.is_set()
        return [p for p, t in self.transports.items() if p != "console" and (leading or not _exclusive(t))]

    async def handle(self, incoming: Incoming) -> Reply | None:
        """The router's answer. The postman is woken by the router when a command queued notices:
        a command that queued none costs no outbox query."""
        if incoming.opens_private_chat:
            async with self.db.transaction() as session:
                released = await notices.release_waiting(session, incoming.platform, incoming.sender_id)
            if released:
                self.postman.wake()
        return await self.router.handle(incoming)

    async def _rooms_for_this_process(self) -> None:
        """The console's rooms exist while the console is used, and never as delivery targets
        of a process that serves chat platforms without it."""
        async with self.db.transaction() as session:
            if self.console is not None:
                await rooms.bind_console(session)
                return
            if not self.transports:
                return  # serves nothing (a test's bare App): nothing to deliver, nothing to tidy
            for announcement_id in await rooms.unbind_console(session):
                await announcements.report_if_settled(session, announcement_id, self.postman.say)

    async def _settle_if_leading(self) -> None:
        """After a console command: deliver what it queued, if this process is the one that delivers."""
        if self.leadership.leading.is_set():
            await self.postman.settled()

    async def _lead(self) -> None:
        """This process now receives on the platforms only one process may (a Matrix sync, a
        Telegram poll), delivers and schedules: first whatever a previous run left undone
        (undelivered notices, deadlines and reminders that fell due while it was down)."""
        for transport in self.transports.values():
            if not _exclusive(transport):
                continue
            self._active.append(transport)  # stopped when this process steps down, even half-started
            try:
                await transport.start(self.handle)
            except TransportUnavailable as error:  # wrong credentials: no standby can do better
                self._fatal = error
                self.request_stop()
                return
            log.info("%s transport started", transport.platform)
            self._watchers.append(asyncio.create_task(self._stop_when_finished(transport)))
        self.postman.start()
        await self.scheduler.start()
        if self._http is not None and not self._http.serving and self._taking_port is None:
            self._taking_port = asyncio.create_task(self._take_port(), name="http port")
        for transport in self.transports.values():
            if isinstance(transport, Leading):
                work = asyncio.create_task(transport.while_leading(), name=f"{transport.platform} while leading")
                self._leading_work.append(work)

    async def _bind_http(self, *, say: bool) -> bool:
        """Serve HTTP if the port is free. Taken (a leading wgbot on this machine serves it, or
        something else does), it is one line: this process takes the port over when it leads."""
        assert self._http is not None
        try:
            await self._http.start()
        except OSError as error:
            if say:
                log.warning(
                    "http: cannot listen on %s (%s); this process serves there once it leads and the port is free",
                    self.settings.http.listen,
                    error.strerror or error,
                )
            return False
        return True

    async def _take_port(self) -> None:
        """While leading: the port a previous leader held comes free when its process ends."""
        while not await self._bind_http(say=False):  # noqa: ASYNC110 - nothing signals a port coming free
            await asyncio.sleep(PORT_RETRY)

    async def _follow(self) -> None:
        if self._taking_port is not None:  # the port is the new leader's to take
            await end(self._taking_port)
            self._taking_port = None
        for work in self._leading_work:
            await end(work)
        self._leading_work.clear()
        self.scheduler.stop()
        await self.postman.stop()
        for watcher in self._watchers:
            await end(watcher)
        self._watchers.clear()
        for transport in reversed(self._active):
            try:
                await transport.stop()
            except Exception:
                log.exception("%s transport did not stop cleanly", transport.platform)
        self._active.clear()

    async def _stop_when_finished(self, transport: Transport) -> None:
        """A platform that ends by itself (e.g. Matrix signed the bot out) ends the process, as
        a failure: its supervisor starts it again."""
        await transport.finished.wait()
        self.ended_by = transport.platform
        self.request_stop()

    async def _follow_up(self, changed: set[Change]) -> None:
        for change in changed:
            self.live.touch(change)
        if self.scheduler.running:
            await self.scheduler.sync(change for change in changed if self.scheduler.follows(change))

    async def fetch(self, attachment: AttachmentRef, limit: int) -> bytes:
        return await self.transports[attachment.platform].fetch(attachment, limit)


def _exclusive(transport: Transport) -> bool:
    """Only one process at a time may receive on it (one Matrix sync, one Telegram poller)."""
    return bool(getattr(transport, "exclusive", False))


def chat_transports(settings: Settings, db: Database, registry: Registry) -> list[Transport]:
    """The chat platforms the configuration turns on (none means the console)."""
    transports: list[Transport] = []
    if settings.telegram is not None:
        from bot.transports.telegram import TelegramTransport

        # The menu in the alliance's language, and in each shipped one for apps set to it.
        menus: dict[str | None, list[tuple[str, str]]] = {None: registry.menu(language(settings.alliance.language))}
        menus |= {code: registry.menu(Language(code)) for code in LANGUAGES}
        transports.append(
            TelegramTransport(
                settings.telegram, TransportMemory(db, "telegram"), menus, language(settings.alliance.language)
            )
        )
    if settings.matrix is not None:
        transports.append(matrix_transport(settings, db))
    return transports


def matrix_transport(settings: Settings, db: Database) -> MatrixTransport:
    """Imported only when Matrix is configured (nio and its crypto are heavy to load)."""
    from bot.transports.matrix import MatrixTransport
    from bot.transports.matrix_setup import furnish

    assert settings.matrix is not None
    return MatrixTransport(
        settings.matrix,
        TransportMemory(db, "matrix", settings.matrix.store_key),
        may_invite=lambda user_id: _may_invite(db, settings, "matrix", user_id),
        language=language(settings.alliance.language),
        # Once an operator has made the alliance's Space, a group made since gets its room there.
        keep_space=lambda token: furnish(db, settings, token, create_space=False, actor="wgbot"),
    )


async def _may_invite(db: Database, settings: Settings, platform: str, user_id: str) -> bool:
    """The secretariat (and the configured allow-list) may bring the bot into rooms."""
    if settings.matrix and user_id in settings.matrix.allowed_inviters:
        return True
    async with db.transaction() as session:
        actor = await people.identify(session, platform, user_id, user_id)
    return actor.is_secretariat
