"""Seen from outside: `/healthz`, `/readyz` and `/metrics` over HTTP, for a container runtime,
a load balancer or Prometheus (`[http] listen`, off by default).

/healthz is OK when the database answers and every configured chat platform is connected (a
restart would help otherwise); /readyz is OK once the bot has started and until it stops (send
it work, or not); /metrics is Prometheus's text format (bot/metrics.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from bot.metrics import CONNECTED, OUTBOX, REGISTRY
from storage import notices
from storage.db import Database

log = logging.getLogger(__name__)
DATABASE_TIMEOUT = 2.0  # seconds a health check waits for the database


class HealthServer:
    def __init__(self, listen: str, db: Database, expected: Callable[[], list[str]], ready: Callable[[], bool]) -> None:
        self.host, _, port = listen.rpartition(":")
        self.port = int(port)
        self.db = db
        self.expected = expected  # the platforms this process must be connected to, now
        self.ready = ready
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/readyz", self._readiness)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("http: /healthz, /readyz and /metrics on %s:%s", self.host, self.port)

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


def connected_gauge_reset(platforms: Iterable[str]) -> None:
    """Configured platforms start as not connected, so /healthz fails until they connect."""
    for platform in platforms:
        CONNECTED.labels(platform).set(0)
