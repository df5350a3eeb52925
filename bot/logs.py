"""The log, without secrets: whatever a library writes, at any level.

python-telegram-bot's HTTP client logs every request URL, and a Bot API URL carries the token
(`/bot<token>/getUpdates`); matrix-nio logs requests and responses with access tokens at DEBUG.
Every handler of the root logger gets a `Redactor`, which blanks the secrets the settings name
and anything shaped like a Bot API token, a Matrix access token or a password field, in the
message, its arguments and its traceback. The chattiest library loggers are also kept at
WARNING, so a request per poll does not fill the log, and a library's warning per retry is
said once a minute at most.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from bot.config import Settings

REDACTED = "<redacted>"
QUIET = ("httpx", "httpcore", "aiohttp.access")  # one line per request, even when all is well
# A warning per retry of one request ("Timed out, sleeping for 4s"): said once a minute at most.
THROTTLED = ("nio.client.async_client",)
_SHAPES = [
    re.compile(r"(?<=/bot)[^/\s]+(?=/)"),  # https://api.telegram.org/bot<token>/getMe, /file/bot<token>/…
    re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b"),  # a Bot API token anywhere
    re.compile(r"\bsy[tu]_[A-Za-z0-9_=-]+"),  # a Synapse access or refresh token
    re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(?<=access_token=)[^&\s'\"]+"),
    re.compile(r"(?i)(?<=[\"']access_token[\"']: [\"'])[^\"']+"),
    re.compile(r"(?i)(?<=[\"']password[\"']: [\"'])[^\"']+"),
]


class Redactor(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for shape in _SHAPES:
            text = shape.sub(REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def secrets_of(settings: Settings) -> list[str]:
    """The secrets the settings hold, to blank wherever they appear."""
    found = []
    if settings.telegram is not None:
        found += [settings.telegram.token, settings.telegram.secret_token]
    if settings.matrix is not None:
        found += [settings.matrix.access_token, settings.matrix.password, settings.matrix.store_key]
    found.append(settings.http.pages_token)
    return found


def keep_secrets_out(handlers: Iterable[logging.Handler], settings: Settings) -> None:
    """Redact on every given handler, and quiet the per-request library loggers."""
    redactor = Redactor(secrets_of(settings))
    for handler in handlers:
        handler.addFilter(redactor)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    for name in THROTTLED:
        logging.getLogger(name).addFilter(OncePerMinute())
    logging.getLogger("telegram.ext.Updater").addFilter(OneLine())


class OneLine(logging.Filter):
    """A library's error that it handles itself, as one line: PTB logs a traceback when the Bot
    API is slow to take its last poll at a stop, then carries on stopping as it should."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()} ({record.exc_info[1]!r})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


class OncePerMinute(logging.Filter):
    """Lets each warning (by its template) through once a minute at most: a library that
    retries says that it does, not every try of it."""

    def __init__(self, every: float = 60.0) -> None:
        super().__init__()
        self.every = every
        self._said: dict[object, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        last = self._said.get(record.msg)
        if last is not None and record.created - last < self.every:
            return False
        self._said[record.msg] = record.created
        return True
