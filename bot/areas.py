"""What each area of the alliance's work contributes to the running bot, as typed objects.

An area (votes, meetings, deliverables, …) lives in one slice of `handlers/`: its commands, its
guided dialogs, its scheduled jobs, how its live messages are drawn and its read-only web pages.
It hands them over as one `Area`, with its shell commands (`wgbot org add`, …); the composition
root gives the list to the bot, which knows no area by name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.changes import Change
from bot.commands import Command, Conversation, Registry, Section
from bot.config import Settings
from bot.i18n import ENGLISH, Language
from bot.live import LiveTopic
from bot.scheduler import Planner
from bot.shell import ShellAction
from storage.db import Database


@dataclass(frozen=True)
class Services:
    """What the running bot lends an area's scheduled jobs."""

    db: Database
    settings: Settings
    changed: Callable[[Change], None]  # a job changed something the bot follows up (a live message)


@dataclass(frozen=True)
class PageRequest:
    """What a web page is asked: the parts of its path, the query, how to link to another page
    of the site (keeping the site's token, when the pages need one, and a chosen language), and
    the language the page is written in."""

    params: Mapping[str, str]
    query: Mapping[str, str]
    link: Callable[..., str]  # link("/decisions", group="pfas")
    lang: Language = ENGLISH


@dataclass(frozen=True)
class PageAnswer:
    body: str | bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200


@dataclass(frozen=True)
class Page:
    """A read-only page on the HTTP server (`[http] pages`). `site` pages follow the pages' rule
    (public, or the site token); the others guard themselves (a calendar feed, by its group's
    secret)."""

    path: str  # an aiohttp route, e.g. "/calendar/{group}.ics"
    answer: Callable[[PageRequest, Services], Awaitable[PageAnswer]]
    site: bool = True


@dataclass(frozen=True)
class Area:
    name: str
    commands: Sequence[Command] = ()
    conversations: Mapping[str, Conversation] = field(default_factory=dict)  # by dialog kind
    planners: Sequence[Callable[[Services], Planner]] = ()
    live: Sequence[LiveTopic] = ()
    title: str = ""  # how /help heads its commands (default: its name, capitalised)
    topics: Mapping[str, str] = field(default_factory=dict)  # what a family of commands is for
    pages: Sequence[Page] = ()
    # Its shell commands, by the name bot/cli.py gives each ("org_add" for `wgbot org add`).
    shell: Mapping[str, ShellAction] = field(default_factory=dict)

    @property
    def section(self) -> Section:
        return Section(self.title or self.name.capitalize(), tuple(self.commands), self.topics)


def registry_of(areas: Iterable[Area]) -> Registry:
    """Every command, in the order of the areas (the order /help lists them)."""
    areas = list(areas)
    conversations: dict[str, Conversation] = {}
    for area in areas:
        conversations.update(area.conversations)
    return Registry(
        [command for area in areas for command in area.commands],
        conversations,
        [area.section for area in areas if area.commands],
    )
