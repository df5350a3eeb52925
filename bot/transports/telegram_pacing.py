"""Keeps the bot's messages within Telegram's limits, so a burst to many rooms earns no 429.

Telegram allows about 30 messages a second overall and 20 a minute in one group. PTB's
AIORateLimiter uses leaky buckets, which let a full bucket through at once and then refill
continuously: up to ~60 messages in the first second and ~30 in a group's first half minute,
which a strict reading of the limits refuses. These windows slide instead: a message goes out
only when fewer than the limit went out in the last period (plus a margin for network jitter),
so the first 20 answers in a group are still immediate and a fan-out runs at the limit's pace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import BaseRateLimiter

PER_SECOND = 30
PER_GROUP_MINUTE = 20
MARGIN = 0.05  # a share of each period kept free, so jitter on the wire cannot tip a window over


# What the Bot API answered to a request, as PTB hands it to a rate limiter.
Answer = bool | dict[str, Any] | list[dict[str, Any]]


class SlidingWindow:
    """At most `limit` events in any `period` seconds."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period = limit, period * (1 + MARGIN)
        self.times: list[float] = []  # a few dozen at most

    def wait(self, now: float) -> float:
        """Seconds until one more event fits (0: it fits now)."""
        self.times = [t for t in self.times if now - t < self.period]
        return 0.0 if len(self.times) < self.limit else self.period - (now - min(self.times))

    def restamp(self, old: float, new: float) -> None:
        """Count an event from when it was done rather than begun (the later, the safer)."""
        try:
            self.times[self.times.index(old)] = new
        except ValueError:  # it took longer than the period and has left the window already
            self.times.append(new)


class TelegramPacing(BaseRateLimiter[None]):
    """Paces every call that posts into a chat; other calls (button toasts, polling) go at once."""

    def __init__(self, per_second: int = PER_SECOND, per_group_minute: int = PER_GROUP_MINUTE) -> None:
        self.overall = SlidingWindow(per_second, 1.0)
        self.per_group_minute = per_group_minute
        self.groups: dict[int, SlidingWindow] = {}

    async def initialize(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Answer]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> Answer:
        if not (endpoint.startswith(("send", "edit", "copy", "forward")) and "chat_id" in data):
            return await callback(*args, **kwargs)
        chat = str(data["chat_id"])
        windows = [self.overall]
        if chat.startswith("-"):  # groups and channels; private chats count only overall
            windows.append(self.groups.setdefault(int(chat), SlidingWindow(self.per_group_minute, 60.0)))
        loop = asyncio.get_running_loop()
        while (wait := max(w.wait(loop.time()) for w in windows)) > 0:  # noqa: ASYNC110 - sleeps exactly until a window frees
            await asyncio.sleep(wait)
        begun = loop.time()  # checked and taken with no await in between: no other send slips in
        for window in windows:
            window.times.append(begun)
        try:
            return await callback(*args, **kwargs)
        finally:
            # Telegram counts the message when it arrives, somewhere before the answer came back.
            done = loop.time()
            for window in windows:
                window.restamp(begun, done)
