"""The read-only web view, asked over real HTTP as a phone's browser or a calendar program would:
the register, a group's next meetings, the audit log's state, and a group's calendar feed that
follows a moved occurrence; once in a real headless browser."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import icalendar
import pytest
import recurring_ical_events
from sqlalchemy import select

from bot.areas import Services
from bot.config import Settings
from bot.http import HttpServer
from bot.router import Router
from handlers import build_registry, web
from storage.models import AuditEntry, Notice
from tests.alliance import member_organisation, message, person
from tests.conftest import free_port

BRUSSELS = ZoneInfo("Europe/Brussels")
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
SITE_TOKEN = "a-long-site-token-for-the-pages"
SERIES = '/meeting schedule "2030-03-05 10:00" "PFAS monthly" every=month until=2031-12-31 link=https://meet.example.org/pfas'


def settings_for(port: int, pages: str) -> Settings:
    http = {"listen": f"127.0.0.1:{port}", "pages": pages, "base_url": f"http://127.0.0.1:{port}"}
    if pages == "token":
        http["pages_token"] = SITE_TOKEN
    return Settings.model_validate({"http": http})


class Site:
    """wgbot's HTTP server with the web area's pages, and the router commands go through."""

    def __init__(self, db, pages: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.settings = settings_for(self.port, pages)
        self.router = Router(db, build_registry(), self.settings)
        services = Services(db, self.settings, changed=lambda change: None)
        self.server = HttpServer(
            self.settings.http, db, expected=list, ready=lambda: True, pages=web.AREA.pages, services=services
        )

    async def say(self, text: str, sender: str = "jana", room: str = "pfas", **kwargs) -> str:
        reply = await self.router.handle(message(text, sender=sender, room=room, **kwargs))
        assert reply is not None
        return reply.text


async def _site(db, pages: str) -> AsyncIterator[Site]:
    site = Site(db, pages)
    await site.server.start()
    try:
        yield site
    finally:
        await site.server.stop()


@pytest.fixture
async def alliance(db):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Ola Nordmann", organisation=acme, accounts=("console:ola",))
    await person(db, "Sam", accounts=("console:sam",), roles=("secretariat",))


@pytest.fixture
async def site(db, alliance) -> AsyncIterator[Site]:
    async for running in _site(db, "public"):
        yield running


async def get(url: str, languages: str | None = None) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
    """The page as a browser asks for it (saying which languages its reader accepts, if given)."""
    asked = {"Accept-Language": languages} if languages else {}
    async with aiohttp.ClientSession() as http, http.get(url, headers=asked) as answer:
        return answer.status, await answer.text(), answer.headers


async def feed_link(site: Site, db, sender: str = "ola") -> str:
    """What /meeting feed sends to the sender's private chat: the link in it."""
    said = await site.say("/meeting feed", sender=sender)
    assert said.startswith("I have sent the calendar link to you in a private chat")
    async with db.transaction() as session:
        text = await session.scalar(
            select(Notice.text).where(Notice.direct.is_(True), Notice.target == sender).order_by(Notice.id.desc())
        )
    found = re.search(r"http://\S+", text or "")
    assert found, text
    return found.group()


async def test_the_register_page_shows_each_decision_escaped_with_its_audit_hash(site, db):
    assert (await site.say(f'/vote open "{HOSTILE}"')).startswith("Vote #1")
    await site.say("/vote 1 yes")
    await site.say("/vote close 1")
    status, page, headers = await get(f"{site.base}/decisions")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>" not in page and "<b>bold" not in page
    async with db.transaction() as session:
        closed = await session.scalar(select(AuditEntry.hash).where(AuditEntry.action == "vote.closed"))
    assert closed in page and "turnout 1 of 1" in page
    assert "default-src 'none'" in headers["Content-Security-Policy"] and headers["Referrer-Policy"] == "no-referrer"
    assert (await get(f"{site.base}/decisions?group=skills"))[1].count("<article>") == 0
    refused = await get(f"{site.base}/decisions?year=twenty")
    assert refused[0] == 400 and "A year reads like 2026" in refused[1]
    shown = re.search(r"· closed ([^·]+) ·", page).group(1).strip()
    assert re.fullmatch(r"\w{3} \d\d \w{3} \d{4} \d\d:\d\d CES?T", shown), shown  # as the chat shows it, not ISO


async def test_a_group_page_lists_the_next_meetings_and_the_audit_page_the_log_s_state(site):
    assert (await site.say(SERIES)).startswith("Scheduled: PFAS monthly")
    await site.say('/meeting move 1.2 "2030-04-03 15:00"')
    status, page, _ = await get(f"{site.base}/groups/pfas")
    assert status == 200 and page.count("<article>") == 20  # the next twenty, of a monthly series
    assert "Wed 03 Apr 2030 15:00 CEST" in page and "moved" in page
    assert "meet.example.org" not in page  # the video link is for the group, not for whoever reaches the page
    assert (await get(f"{site.base}/groups/nothing"))[0] == 404
    status, page, _ = await get(f"{site.base}/audit")
    assert status == 200 and "Intact: " in page and "Checkpoint now:" in page
    index = (await get(f"{site.base}/"))[1]
    assert 'href="/groups/pfas"' in index


async def test_a_page_speaks_the_browser_s_language_and_a_language_picked_in_the_link_stays(site):
    await site.say('/vote open "Budget 2027?"')
    await site.say("/vote 1 yes")
    await site.say("/vote close 1")
    await site.say(SERIES)
    status, page, _ = await get(f"{site.base}/decisions", "pl-PL, pl;q=0.9, en;q=0.5")
    assert status == 200 and '<html lang="pl">' in page and "<h1>Rejestr decyzji</h1>" in page
    assert "Wszystkie grupy: 1 decyzja, od najnowszej." in page and "<strong>PRZYJĘTO</strong>" in page
    assert "tak 1 · nie 0 · wstrzymuję się 0" in page
    status, page, _ = await get(f"{site.base}/groups/pfas?lang=de", "fr, en;q=0.8")  # the link's choice wins
    assert (
        '<html lang="de">' in page
        and "Nächste Sitzungen" in page
        and "Di., 5. März 2030, 10:00 MEZ · 60 Minuten" in page
    )
    assert 'href="/decisions?lang=de"' in page and 'href="/decisions?group=pfas&amp;lang=de"' in page
    assert '<html lang="fr">' in (await get(f"{site.base}/audit", "fr-CA, de;q=0.5"))[1]
    assert '<html lang="en">' in (await get(f"{site.base}/audit", "ja, zh;q=0.9"))[1]  # none ships: the alliance's
    refused = await get(f"{site.base}/decisions?year=twenty", "de")
    assert refused[0] == 400 and "Ein Jahr schreibt sich wie 2026, nicht &#x27;twenty&#x27;." in refused[1]


async def test_the_calendar_feed_parses_follows_a_move_and_a_renewal_shuts_the_old_link(site, db):
    await site.say(SERIES)
    link = await feed_link(site, db)
    assert link.startswith(f"{site.base}/calendar/pfas.ics?token=")
    status, body, headers = await get(link)
    assert status == 200 and headers["Content-Type"] == "text/calendar; charset=utf-8"
    parsed = icalendar.Calendar.from_ical(body)
    assert str(parsed["X-WR-CALNAME"]).startswith("PFAS")

    await site.say('/meeting move 1.2 "2030-04-03 15:00"')
    await site.say("/meeting cancel 1.3")
    parsed = icalendar.Calendar.from_ical((await get(link))[1])
    starts = sorted(
        e["DTSTART"].dt.astimezone(BRUSSELS)
        for e in recurring_ical_events.of(parsed).between(date(2030, 3, 1), date(2030, 7, 1))
    )
    # First Tuesdays: 2 April moved to the 3rd at 15:00, 7 May cancelled.
    assert starts == [
        datetime(2030, 3, 5, 10, tzinfo=BRUSSELS),
        datetime(2030, 4, 3, 15, tzinfo=BRUSSELS),
        datetime(2030, 6, 4, 10, tzinfo=BRUSSELS),
    ]

    assert (await get(link.replace("token=", "token=x")))[0] == 404
    assert (await get(link.replace("/pfas.ics", "/skills.ics")))[0] == 404  # another group's needs its own
    refused = await site.say("/meeting feed renew", sender="ola")
    assert refused.startswith("Only the chair of this working group or the secretariat may do this.")
    assert "renewed" in await site.say("/meeting feed renew", sender="jana")
    assert (await get(link))[0] == 404
    assert (await get(await feed_link(site, db)))[0] == 200


@pytest.mark.parametrize("zone", ["Europe/Brussels", "Europe/Lisbon", "America/New_York", "Australia/Sydney"])
async def test_the_feed_s_time_zone_reads_the_same_in_two_independent_calendar_libraries(site, db, zone):
    """The VTIMEZONE is in the yearly-RRULE form calendar programs write (not a list of RDATEs,
    which some readers misread by an hour in summer): icalendar and ical each turn it into a
    time zone, and each agrees with the zone itself on every occurrence, summer and winter."""
    await site.say(f'/meeting schedule "2030-01-08 10:00" "Weekly" every=week until=2030-12-31 tz={zone}')
    body = (await get(await feed_link(site, db)))[1]
    vtimezone = body[body.index("BEGIN:VTIMEZONE") : body.index("END:VTIMEZONE")]
    assert "RRULE:FREQ=YEARLY" in vtimezone and "RDATE" not in vtimezone

    from ical.calendar_stream import IcsCalendarStream
    from ical.timezone import IcsTimezoneInfo

    by_icalendar = icalendar.Calendar.from_ical(body).walk("VTIMEZONE")[0].to_tz()
    [described] = IcsCalendarStream.calendar_from_ics(body).timezones
    by_ical = IcsTimezoneInfo.from_timezone(described)
    actual = ZoneInfo(zone)
    weeks = [datetime(2030, 1, 8, 10) + timedelta(weeks=n) for n in range(52)]  # noqa: DTZ001 - wall-clock times
    assert {by_icalendar.utcoffset(w) for w in weeks} == {actual.utcoffset(w) for w in weeks}  # both seasons
    for week in weeks:
        assert by_icalendar.utcoffset(week) == by_ical.utcoffset(week) == actual.utcoffset(week), week


async def test_a_whole_cancelled_meeting_stays_in_the_feed_marked_cancelled(site, db):
    await site.say('/meeting schedule "2030-03-05 10:00" "Kick-off"')
    link = await feed_link(site, db)
    await site.say("/meeting cancel 1")
    [event] = icalendar.Calendar.from_ical((await get(link))[1]).walk("VEVENT")
    assert event["STATUS"] == "CANCELLED"


async def test_with_a_site_token_every_page_needs_it_and_links_keep_it(db, alliance):
    async for site in _site(db, "token"):
        status, page, _ = await get(f"{site.base}/decisions")
        assert status == 403 and "needs the link with its token" in page
        assert (await get(f"{site.base}/decisions?token=wrong"))[0] == 403
        status, page, _ = await get(f"{site.base}/?token={SITE_TOKEN}")
        assert status == 200 and f'href="/groups/pfas?token={SITE_TOKEN}"' in page
        await site.say(SERIES)
        assert (await get(await feed_link(site, db)))[0] == 200  # a feed needs its group's secret only


async def test_without_pages_nothing_but_health_is_served_and_no_feed_is_given(db, alliance):
    async for site in _site(db, "off"):
        assert (await get(f"{site.base}/decisions"))[0] == 404
        assert (await get(f"{site.base}/healthz"))[0] == 200
        assert "not served here" in await site.say("/meeting feed", sender="ola")


@pytest.mark.sqlite_only
@pytest.mark.skipif(
    shutil.which("chromedriver") is None and not os.environ.get("CI"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them; CI never skips this)",
)
async def test_a_real_headless_browser_renders_the_register(site):
    """Debian's Chromium, driven by Selenium through Debian's ChromeDriver."""
    import asyncio

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    long_link = "https://example.org/" + "roadmap" * 25 + "v2025"  # 200 characters, no place to break a line
    await site.say(f'/vote open "Adopt the 2027 roadmap? {long_link}"')
    await site.say("/vote 1 yes")
    await site.say("/vote close 1")

    def read_in_browser() -> tuple[str, list[str], int]:
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=390,844"):
            options.add_argument(flag)
        browser = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        try:
            browser.get(f"{site.base}/decisions")
            titles = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "article h2")]
            overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            return browser.title, titles, overflow
        finally:
            browser.quit()

    title, titles, overflow = await asyncio.to_thread(read_in_browser)
    assert title.startswith("Register of decisions")
    assert len(long_link) == 200 and titles == [f"Adopt the 2027 roadmap? {long_link}"]
    assert overflow <= 0  # fits a phone's width: nothing to scroll sideways, even the long link wraps


async def test_the_register_page_says_how_many_ballots_were_cast_by_mandate(site, db):
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    await person(db, "Kari Nordmann", organisation=fab, accounts=("console:kari",))
    assert (await site.say('/vote open "Meet in Lisbon?"')).startswith("Vote #1")
    await site.say("/mandate give ACME GmbH vote=1", sender="kari", room="kari", direct=True)
    assert (await site.say('/vote 1 yes for="Fab Nord AS"')).startswith("Recorded: yes for Fab Nord AS, cast by")
    await site.say("/vote 1 no")
    await site.say("/vote close 1")
    page = (await get(f"{site.base}/decisions"))[1]
    assert "turnout 2 of 2" in page and "1 of the 2 ballots was cast by mandate." in page
    polish = (await get(f"{site.base}/decisions", "pl"))[1]
    assert "1 z 2 głosów oddano na mocy pełnomocnictwa." in polish
