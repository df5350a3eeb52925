"""The read-only web view (`[http] pages`): the register of decisions, each group's next
meetings, the audit log's state, and each group's calendar feed.

Pages are rendered on the server from the templates beside this module, every value escaped,
readable on a phone and with no script. A meeting's video link is not on them: it is for the
group's rooms and its calendar feed, not for whoever reaches a page. The register, the groups and the audit state follow the
pages' rule (public, or the site's token); a calendar feed needs its group's own secret, which
`/meeting feed` gives representatives in a private chat.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from jinja2 import Environment, PackageLoader, select_autoescape

from bot.areas import Area, Page, PageAnswer, PageRequest, Services
from bot.i18n import Language, language
from handlers.meetings import calendar
from handlers.votes.register import a_year, register, resolve_scope
from storage import audit, calendar_feeds, checkpoints, groups, meetings
from storage.errors import Refused
from storage.models import utcnow

TEMPLATES = Environment(
    loader=PackageLoader("handlers.web"), autoescape=select_autoescape(default=True), enable_async=True
)
NEXT_MEETINGS = 20
AUDIT_RECHECK = timedelta(minutes=1)  # a busy public page does not hash the whole log each time


async def _html(template: str, asked: PageRequest, services: Services, **values: object) -> PageAnswer:
    """The page in the language it was asked in: its templates say `_("…")` and `n_(…)`, which
    `python -m bot.i18n` finds for the catalogues like any other message."""
    page = TEMPLATES.get_template(template)
    lang = asked.lang
    return PageAnswer(
        await page.render_async(
            alliance=services.settings.alliance.name, link=asked.link, lang=lang, _=lang._, n_=lang.n_, **values
        )
    )


async def index(asked: PageRequest, services: Services) -> PageAnswer:
    async with services.db.transaction() as session:
        found = await groups.list_groups(session)
    return await _html("index.html", asked, services, groups=found)


async def decisions(asked: PageRequest, services: Services) -> PageAnswer:
    year = asked.query.get("year", "")
    async with services.db.transaction() as session:
        scope = await resolve_scope(session, asked.query.get("group") or None, a_year(year) if year else None)
        found = await register(session, scope, asked.lang)
    scope_words = scope.describe(asked.lang)
    zone = services.settings.alliance.timezone
    closed = {d.vote: asked.lang.moment(datetime.fromisoformat(d.closed), zone) for d in found}  # as the chat says it
    return await _html(
        "decisions.html",
        asked,
        services,
        decisions=found,
        closed=closed,
        scope=scope_words[:1].upper() + scope_words[1:],
    )


@dataclass(frozen=True)
class _Shown:
    """One occurrence as the group's page shows it."""

    label: str
    title: str
    when: str
    duration: int
    moved: bool


async def group_page(asked: PageRequest, services: Services) -> PageAnswer:
    zone = services.settings.alliance.timezone
    async with services.db.transaction() as session:
        group = await groups.find_group(session, asked.params["group"])
        upcoming = await meetings.upcoming_in(session, group, utcnow(), limit=NEXT_MEETINGS)
    shown_ = [
        _Shown(
            meetings.label(meeting, occurrence),
            meeting.title,
            asked.lang.moment(occurrence.start, zone),
            meeting.duration_minutes,
            occurrence.moved,
        )
        for meeting, occurrence in upcoming
    ]
    return await _html("group.html", asked, services, group=group, meetings=shown_)


class AuditState:
    """The log's state for the audit page: verified again only when the log has grown, and at
    most once a minute, so that reading the page costs no one the whole chain each time."""

    def __init__(self) -> None:
        self._last: tuple[checkpoints.Checkpoint | None, audit.ChainReport, datetime] | None = None
        self._lock = asyncio.Lock()

    async def __call__(self, asked: PageRequest, services: Services) -> PageAnswer:
        async with self._lock, services.db.transaction() as session:
            now = await checkpoints.current(session)
            posted = await checkpoints.last_published(session)
            last = self._last
            if last is None or (last[0] != now and utcnow() - last[2] >= AUDIT_RECHECK):
                last = self._last = (now, await audit.verify(session), utcnow())
        zone = services.settings.alliance.timezone
        return await _html(
            "audit.html",
            asked,
            services,
            report=_chain(last[1], asked.lang),
            checked=asked.lang.moment(last[2], zone),
            now=now,
            posted=posted[0] if posted else None,
        )


def _chain(report: audit.ChainReport, lang: Language) -> str:
    if report.intact:
        return lang.n_(
            "Intact: {count} entry, every link verified.", "Intact: {count} entries, every link verified.", report.rows
        )
    # TRANSLATORS: {problem} is the check's own finding, in English, as `wgbot audit verify` prints it.
    return lang._("Broken at entry {entry}: {problem}", entry=report.broken_at, problem=report.problem)


async def calendar_feed(asked: PageRequest, services: Services) -> PageAnswer:
    """The group's meetings as a subscribed calendar; unknown group and wrong secret look alike."""
    async with services.db.transaction() as session:
        try:
            group = await groups.find_group(session, asked.params["group"])
        except Refused:
            group = None
        if group is None or not await calendar_feeds.opens(session, group, asked.query.get("token", "")):
            raise Refused("No such calendar. Ask for its link with /meeting feed in the group's room.")
        found = await meetings.of_group(session, group, cancelled=True)
        changes = await meetings.changes_of(session, [m.id for m in found])
    # In the group's language: the feed is the group's, whoever subscribes to it.
    spoken = language(group.language, services.settings.alliance.language)
    content = calendar.ics(found, changes, name=f"{group.name} ({services.settings.alliance.name})", lang=spoken)
    return PageAnswer(content, "text/calendar; charset=utf-8")


AREA = Area(
    "web",
    pages=[
        Page("/", index),
        Page("/decisions", decisions),
        Page("/groups/{group}", group_page),
        Page("/audit", AuditState()),
        Page("/calendar/{group}.ics", calendar_feed, site=False),
    ],
)
