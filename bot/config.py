"""Settings: a TOML file, then WGBOT_* environment variables on top (for secrets), validated.

`WGBOT_DATABASE__URL` overrides `[database] url`: the part after WGBOT_ names the section and
key, joined by a double underscore. Every problem is reported with the file, the key and what is
wrong, before anything starts.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

ENV_PREFIX = "WGBOT_"
DEFAULT_PATH = Path("config.toml")


class ConfigError(Exception):
    """The configuration cannot be used; the message names where and why."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AllianceSettings(Section):
    name: str = "European Alliance on Processors and Semiconductor Technologies"
    timezone: str = "Europe/Brussels"
    # What wgbot speaks to a person who chose none and whose platform says none, and in the rooms
    # of a group that chose none (/lang, /wg language): en, de, fr, it, es, pl or nl.
    language: str = "en"

    @field_validator("language")
    @classmethod
    def shipped_language(cls, value: str) -> str:
        from bot.i18n import LANGUAGES, supported

        found = supported(value)
        if found is None:
            raise ValueError(f"one of {', '.join(LANGUAGES)}")
        return found

    @field_validator("timezone")
    @classmethod
    def known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use a name like Europe/Brussels)") from None
        return value


class DatabaseSettings(Section):
    url: str = "sqlite+aiosqlite:///wgbot.sqlite3"
    upgrade_on_start: bool = True

    @field_validator("url")
    @classmethod
    def supported_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///<file> or postgresql+asyncpg://<user>@<host>/<database>")
        return value


class ConsoleSettings(Section):
    user: str = "you"
    room: str = "plenary"
    downloads: Path = Path("downloads")


class MatrixSettings(Section):
    """A Matrix bot account. The section's presence turns Matrix on."""

    homeserver: str
    user_id: str
    access_token: str = ""  # prefer WGBOT_MATRIX__ACCESS_TOKEN
    password: str = ""  # or WGBOT_MATRIX__PASSWORD: logs in once, then reuses its device
    device_name: str = "wgbot"
    # Besides the secretariat's linked accounts, who may invite the bot into rooms.
    allowed_inviters: list[str] = Field(default_factory=list)
    sync_timeout_ms: int = Field(default=30_000, ge=0, le=300_000)
    # Events a room's timeline brings per sync; a burst beyond it is fetched page by page.
    sync_timeline_limit: int = Field(default=250, ge=1, le=1000)
    # End-to-end encryption: the bot's device keys and room keys live in store_path, sealed with
    # store_key (WGBOT_MATRIX__STORE_KEY); losing either means the bot can no longer read its rooms.
    encryption: bool = True
    store_path: str = "matrix-store"
    store_key: str = ""

    @field_validator("homeserver")
    @classmethod
    def web_address(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("the homeserver's address, e.g. https://matrix.example.org")
        return value.rstrip("/")

    @field_validator("user_id")
    @classmethod
    def full_user_id(cls, value: str) -> str:
        if not (value.startswith("@") and ":" in value):
            raise ValueError("a full Matrix user id, e.g. @wgbot:example.org")
        return value

    @model_validator(mode="after")
    def has_a_credential(self) -> MatrixSettings:
        if not (self.access_token or self.password):
            raise ValueError(
                "give access_token or password (from WGBOT_MATRIX__ACCESS_TOKEN or WGBOT_MATRIX__PASSWORD)"
            )
        if self.encryption and len(self.store_key) < 16:
            raise ValueError(
                "encryption needs a store key of at least 16 characters: set WGBOT_MATRIX__STORE_KEY "
                "(or WGBOT_MATRIX__STORE_KEY_FILE) to a long random secret, or set encryption = false"
            )
        return self


class TelegramSettings(Section):
    """A Telegram bot made with @BotFather. The section's presence turns Telegram on."""

    token: str = ""  # from WGBOT_TELEGRAM__TOKEN
    mode: Literal["polling", "webhook"] = "polling"
    poll_timeout: int = Field(default=30, ge=0, le=50)
    # Webhook mode: Telegram POSTs updates to webhook_url, which your reverse proxy forwards to
    # listen:port; secret_token (WGBOT_TELEGRAM__SECRET_TOKEN) proves the POST is Telegram's.
    webhook_url: str = ""
    listen: str = "127.0.0.1"
    port: int = Field(default=8443, ge=1, le=65535)
    secret_token: str = ""
    # Telegram's limits are ~30 messages/s overall and 20/min per group; keep this on.
    rate_limiter: bool = True
    messages_per_second: int = Field(default=30, ge=1)  # more only with Telegram's paid broadcasts
    group_messages_per_minute: int = Field(default=20, ge=1)
    # Only for a self-hosted Bot API server (or tests): where the Bot API lives.
    api_url: str = "https://api.telegram.org/bot"
    file_url: str = "https://api.telegram.org/file/bot"

    @model_validator(mode="after")
    def complete(self) -> TelegramSettings:
        if not self.token:
            raise ValueError("give the bot's token (from WGBOT_TELEGRAM__TOKEN)")
        if self.mode == "webhook" and not (self.webhook_url.startswith("https://") and self.secret_token):
            raise ValueError(
                "webhook mode needs an https webhook_url and a secret_token "
                "(WGBOT_TELEGRAM__SECRET_TOKEN: 1-256 of A-Z a-z 0-9 _ -)"
            )
        return self


DEFAULT_ELIGIBILITY = [
    "Is your organisation legally established in the EU or the EEA?",
    "Does it carry out activities in the semiconductor value chain in the EU?",
    "Is it free from control by a third country, or by an entity of one, that could put the "
    "security or public order of the Union at risk?",
]


class MembershipSettings(Section):
    # The Declaration applicants accept (Markdown); empty means the text shipped with wgbot.
    # Its sha256 is stored with each acceptance, so a changed text is a new version.
    declaration: Path | None = None
    # The eligibility questions every applicant answers yes or no.
    eligibility: list[str] = Field(default_factory=lambda: list(DEFAULT_ELIGIBILITY))

    @field_validator("declaration")
    @classmethod
    def readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no file at {value}")
        return value

    def declaration_text(self) -> str:
        path = self.declaration or Path(__file__).with_name("declaration.md")
        return path.read_text(encoding="utf-8")


class VoteSettings(Section):
    # Used when /vote open does not say otherwise.
    duration_days: float = Field(default=7, gt=0)
    quorum: float = Field(default=0.5, ge=0, le=1)  # share of the electorate that must vote
    majority: Literal["simple", "absolute", "two-thirds", "unanimous"] = "simple"
    # Whether an abstention counts as a vote cast when the majority is measured.
    abstentions_count: bool = False
    # When too few organisations voted: "fail" the vote, or "extend" it once by extend_days
    # and remind the organisations that have not voted.
    quorum_failure: Literal["fail", "extend"] = "fail"
    extend_days: float = Field(default=7, gt=0)
    # Hours before the deadline at which organisations that have not voted are reminded.
    nudge_hours: list[float] = Field(default_factory=lambda: [24.0])
    # Mandates one member organisation may hold in one vote (/mandate give).
    max_mandates_per_organisation: int = Field(default=1, ge=1)


class MeetingSettings(Section):
    # Minutes before each occurrence at which its group's rooms (and its guests) are reminded.
    reminder_minutes: list[int] = Field(default_factory=lambda: [1440, 15])
    default_duration_minutes: int = Field(default=60, ge=5, le=1440)

    @field_validator("reminder_minutes")
    @classmethod
    def positive(cls, value: list[int]) -> list[int]:
        if any(minutes <= 0 for minutes in value):
            raise ValueError("reminders come before a meeting: give positive numbers of minutes")
        return sorted(set(value), reverse=True)


class DeliverableSettings(Section):
    # Days before a deliverable's due date at which its group's rooms are reminded.
    reminder_days: list[float] = Field(default_factory=lambda: [7.0, 1.0])


class FileSettings(Section):
    # Drafts and minutes are kept here, each under its SHA-256 (so identical files are kept once).
    path: Path = Path("files")
    max_mb: float = Field(default=20, gt=0)


class LimitSettings(Section):
    # Acts that post to every room of the alliance (an alliance-wide vote, /wg propose, an
    # announcement to all), per person in any 24 hours; 0 lifts the limit.
    broadcasts_per_day: int = Field(default=5, ge=0)


class LoggingSettings(Section):
    level: str = "INFO"
    # "text" for people, "json" for log collectors: one object per line, with each command's
    # fields (command, platform, room, outcome, ms) as keys of their own.
    format: Literal["text", "json"] = "text"

    @field_validator("level")
    @classmethod
    def known_level(cls, value: str) -> str:
        levels = ("DEBUG", "INFO", "WARNING", "ERROR")
        if value.upper() not in levels:
            raise ValueError(f"one of {', '.join(levels)}")
        return value.upper()


class HttpSettings(Section):
    """Health, readiness and Prometheus metrics over HTTP: off unless `listen` is set. The
    read-only web view (the register, each group's meetings, calendar feeds) is off unless
    `pages` says who may read it."""

    listen: str = ""  # e.g. "127.0.0.1:9464"
    # "public": anyone who reaches the server; "token": only links carrying ?token=<pages_token>.
    # The calendar feeds need their group's own secret either way.
    pages: Literal["off", "public", "token"] = "off"
    pages_token: str = ""  # WGBOT_HTTP__PAGES_TOKEN
    base_url: str = ""  # how people reach this server, e.g. https://wgbot.example.org (for feed links)

    @field_validator("listen")
    @classmethod
    def host_and_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if value and not (host and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError("host:port, e.g. 127.0.0.1:9464")
        return value

    @field_validator("base_url")
    @classmethod
    def web_address(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("the address people reach the server at, e.g. https://wgbot.example.org")
        return value.rstrip("/")

    @model_validator(mode="after")
    def pages_reachable(self) -> HttpSettings:
        if self.pages != "off" and not self.listen:
            raise ValueError("pages need listen (host:port) to be served")
        if self.pages == "token" and len(self.pages_token) < 16:
            raise ValueError('pages = "token" needs a pages_token of 16 characters or more (WGBOT_HTTP__PAGES_TOKEN)')
        return self


class Settings(Section):
    alliance: AllianceSettings = Field(default_factory=AllianceSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    membership: MembershipSettings = Field(default_factory=MembershipSettings)
    votes: VoteSettings = Field(default_factory=VoteSettings)
    meetings: MeetingSettings = Field(default_factory=MeetingSettings)
    deliverables: DeliverableSettings = Field(default_factory=DeliverableSettings)
    files: FileSettings = Field(default_factory=FileSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    matrix: MatrixSettings | None = None
    telegram: TelegramSettings | None = None


PLATFORM_SECTIONS = ("matrix", "telegram")


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None, platforms: bool = True) -> Settings:
    """Read `path` (or ./config.toml if it exists, else defaults) with environment overrides.
    Without `platforms`, the [matrix] and [telegram] sections are left out unread: an admin
    command needs only the database, never the bot's password or token."""
    environ = dict(os.environ if environ is None else environ)
    explicit = path is not None or "WGBOT_CONFIG" in environ
    path = path or Path(environ.get("WGBOT_CONFIG", DEFAULT_PATH))
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot be read: {error.strerror}") from None
    elif explicit:
        raise ConfigError(f"{path}: no such file (copy config.example.toml to start one)")
    sources = {}
    for name, value in environ.items():  # other WGBOT_ names are strays: see stray_variables
        section = name[len(ENV_PREFIX) :].split("__", 1)[0].lower()
        if not platforms and section in PLATFORM_SECTIONS:
            continue
        if name.startswith(ENV_PREFIX) and "__" in name and section in Settings.model_fields:
            if name.endswith("_FILE"):  # WGBOT_MATRIX__PASSWORD_FILE: the secret is in that file
                name, value = name.removesuffix("_FILE"), _secret_file(name, value)
            dotted = name[len(ENV_PREFIX) :].lower().split("__")
            _set_path(data, dotted, value)
            sources[tuple(dotted)] = name
    if not platforms:
        for section in PLATFORM_SECTIONS:
            data.pop(section, None)
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, path, sources)) from None


def stray_variables(environ: dict[str, str]) -> list[str]:
    """Environment variables that look like wgbot's but set nothing, each with the closest real
    one (WGBOT_DATABASE_URL, WGBOT_DATABSE__URL → WGBOT_DATABASE__URL)."""
    known = {f"{ENV_PREFIX}CONFIG"}
    for section, field in Settings.model_fields.items():
        model = _section_model(field.annotation)
        for key in model.model_fields if model else ():
            known.add(f"{ENV_PREFIX}{section.upper()}__{key.upper()}")
    strays = []
    for name in sorted(environ):
        plain = name.removesuffix("_FILE")
        if name.startswith(ENV_PREFIX) and plain not in known:
            guess = difflib.get_close_matches(plain, sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            strays.append(f"{name} is not a wgbot setting and is ignored{hint}")
    return strays


def _section_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in typing.get_args(annotation) or (annotation,):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _secret_file(variable: str, path: str) -> str:
    """A secret delivered as a file (containers, systemd credentials): its text, less the
    line end editors add."""
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as error:
        raise ConfigError(f"{variable} (environment): cannot read {path}: {error.strerror}") from None


def _set_path(data: dict[str, Any], dotted: list[str], value: str) -> None:
    for key in dotted[:-1]:
        data = data.setdefault(key, {})
        if not isinstance(data, dict):
            return  # the file gives a plain value here; validation will say so
    data[dotted[-1]] = value


def _describe(error: ValidationError, path: Path, sources: dict[tuple[str, ...], str]) -> str:
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key (see config.example.toml for the keys there are)"
        origin = sources.get(tuple(str(p) for p in problem["loc"]))
        where = f"{origin} (environment)" if origin else f"{path}: {key}"
        lines.append(f"{where}: {message}")
    return "\n".join(lines)


def matrix_store_path(path: Path | None = None, environ: dict[str, str] | None = None) -> Path | None:
    """Where the Matrix crypto store is, when Matrix is configured at all, read without the
    section's secrets (backups run where the bot's password and store key are not)."""
    environ = dict(os.environ if environ is None else environ)
    path = path or Path(environ.get("WGBOT_CONFIG", DEFAULT_PATH))
    section: dict[str, Any] = {}
    if path.exists():
        with contextlib.suppress(OSError, tomllib.TOMLDecodeError):
            section = tomllib.loads(path.read_text(encoding="utf-8")).get("matrix") or {}
    configured = bool(section) or any(name.startswith(f"{ENV_PREFIX}MATRIX__") for name in environ)
    if not configured:
        return None
    return Path(environ.get(f"{ENV_PREFIX}MATRIX__STORE_PATH") or section.get("store_path") or "matrix-store")
