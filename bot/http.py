"""Seen from outside: `/healthz`, `/readyz` and `/metrics` over HTTP, for a container runtime,
a load balancer or Prometheus (`[http] listen`, off by default), and the areas' read-only pages
(`[http] pages`, off by default).

/healthz is OK when the database answers and every configured chat platform is connected (a
restart would help otherwise); /readyz is OK once the bot has started and until it stops (send
it work, or not); /metrics is Prometheus's text format (bot/metrics.py).

A page is served as its area answers it, with headers that keep it inert: no script may run, no
other site may frame it, and no address (which may carry a secret) is sent on as a referrer.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from html import escape
from urllib.parse import urlencode

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from bot.areas import Page, PageAnswer, PageRequest, Services
from bot.config import HttpSettings
from bot.i18n import Language, for_page
from bot.metrics import CONNECTED, OUTBOX, REGISTRY
from storage import notices
from storage.db import Database
from storage.errors import Misread, Refused

log = logging.getLogger(__name__)
DATABASE_TIMEOUT = 2.0  # seconds a health check waits for the database


# Served with every page: nothing runs, nothing frames it, no address leaves as a referrer.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class HttpServer:
    def __init__(
        self,
        settings: HttpSettings,
        db: Database,
        expected: Callable[[], list[str]],
        ready: Callable[[], bool],
        pages: Sequence[Page] = (),
        services: Services | None = None,
    ) -> None:
        self.settings = settings
        self.host, _, port = settings.listen.rpartition(":")
        self.port = int(port)
        self.db = db
        self.expected = expected  # the platforms this process must be connected to, now
        self.ready = ready
        self.pages = pages if settings.pages != "off" and services is not None else ()
        self.services = services
        self._runner: web.AppRunner | None = None

    @property
    def serving(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        """Serve on the configured port; an OSError (the port in use, an address not this
        machine's) leaves nothing half-open."""
        app = web.Application()
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/readyz", self._readiness)
        app.router.add_get("/metrics", self._metrics)
        for page in self.pages:
            app.router.add_get(page.path, self._serving(page))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        served = f" and {len(self.pages)} pages ({self.settings.pages})" if self.pages else ""
        log.info("http: /healthz, /readyz, /metrics%s on %s:%s", served, self.host, self.port)

    def _serving(self, page: Page) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def serve(request: web.Request) -> web.Response:
            assert self.services is not None
            token, chosen = request.query.get("token", ""), request.query.get("lang")
            lang = for_page(chosen, request.headers.get("Accept-Language"), self.services.settings.alliance.language)
            if page.site and self.settings.pages == "token" and not _same(token, self.settings.pages_token):
                return _page(PageAnswer(_problem(lang._("This page needs the link with its token."), lang), status=403))

            def link(path: str, **query: str) -> str:
                if self.settings.pages == "token":
                    query = {**query, "token": token}
                if chosen == lang.code:  # a language the reader picked stays picked
                    query = {**query, "lang": lang.code}
                return f"{path}?{urlencode(query)}" if query else path

            asked = PageRequest(dict(request.match_info), dict(request.query), link, lang)
            if not all(map(_text, [*asked.params.values(), *asked.query.values()])):
                unreadable = lang._(
                    "This address holds characters that are not text (a NUL, or bytes that are not UTF-8)."
                )
                return _page(PageAnswer(_problem(unreadable, lang), status=400))
            try:
                return _page(await page.answer(asked, self.services))
            except Misread as wrong:  # a value written wrong: the request's fault
                return _page(PageAnswer(_problem(lang.say(wrong.words), lang), status=400))
            except Refused as refusal:  # what it asks for is not there
                return _page(PageAnswer(_problem(lang.say(refusal.words), lang), status=404))
            except Exception:
                log.exception("http: the page %s failed", request.path)
                went_wrong = lang._("Something went wrong; the operator can see what.")
                return _page(PageAnswer(_problem(went_wrong, lang), status=500))

        return serve

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, request: web.Request) -> web.Response:
        problems = {}
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT), self.db.transaction() as session:
                await session.execute(text("SELECT 1"))
        except Exception as error:
            problems["database"] = f"does not answer ({type(error).__name__})"
        for platform in self.expected():
            if REGISTRY.get_sample_value("wgbot_platform_connected", {"platform": platform}) != 1:
                problems[platform] = "not connected"
        if problems:
            return web.json_response({"status": "unhealthy", "problems": problems}, status=503)
        return web.json_response({"status": "ok"})

    async def _readiness(self, request: web.Request) -> web.Response:
        if self.ready():
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready"}, status=503)

    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT), self.db.transaction() as session:
                counted = await notices.backlog(session)
            OUTBOX.clear()
            for platform, status, count in counted:
                OUTBOX.labels(platform, status.value).set(count)
        except Exception as error:  # the rest of the figures still help while the database is away
            log.warning("http: could not count the outbox for /metrics: %r", error)
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _text(value: str) -> bool:
    """Whether a part of the address is text the database can hold: no NUL, no bytes that were
    not UTF-8 (which reach Python as lone surrogates)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _same(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _page(answer: PageAnswer) -> web.Response:
    body = answer.body.encode() if isinstance(answer.body, str) else answer.body
    return web.Response(body=body, status=answer.status, headers={"Content-Type": answer.content_type, **PAGE_HEADERS})


def _problem(text: str, lang: Language) -> str:
    return (
        f'<!doctype html><html lang="{lang.code}"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>wgbot</title><p>{escape(text)}</p></html>"
    )


def connected_gauge_reset(platforms: Iterable[str]) -> None:
    """Configured platforms start as not connected, so /healthz fails until they connect."""
    for platform in platforms:
        CONNECTED.labels(platform).set(0)
