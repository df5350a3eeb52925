"""/announce: the secretariat's messages to every group's rooms, now or at a set time."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Collection

from bot import arguments
from bot.areas import Area, Services
from bot.changes import Changes
from bot.commands import Call, Command, Option, Param, at_most
from bot.config import Settings
from bot.context import Context
from bot.i18n import Language, saying
from bot.markdown import to_html
from bot.scheduler import Job
from bot.shell import Declined, database, operator
from bot.timeparse import parse_when, shown
from bot.transports.base import Reply
from handlers.limits import count_broadcast
from storage import announcements
from storage.db import Database
from storage.errors import Refused
from storage.models import Announcement, AnnouncementStatus, utcnow
from storage.rules.access import Access
from storage.rules.text import N_, state

EVERYONE = "all"
RELEASES = Changes("announcement releases")  # one was scheduled or cancelled


def groups_named(text: str) -> list[str] | None:
    """ "all" → None (every group and the plenary); "pfas,skills" → those groups."""
    if text.lower() == EVERYONE:
        return None
    refs = [ref.strip() for ref in text.split(",") if ref.strip()]
    if not refs:
        raise Refused("Say who it is for: all, or groups separated by commas (pfas,skills).")
    return refs


async def audience(raw: str, ctx: Context) -> list[str] | None:
    return groups_named(raw)


TO = Param("to", audience)
TEXT = Param("text", at_most(3500), rest=True)
AT = Option("at", '"<time>"', arguments.moment)
ANNOUNCEMENT = Param("id", arguments.number)


def _to(announcement: Announcement, lang: Language) -> str:
    return lang._("all groups and the plenary") if announcement.groups is None else ", ".join(announcement.groups)


async def announce(ctx: Context, call: Call) -> Reply:
    """Post an announcement to all groups or chosen ones, now or at= a set time."""
    incoming = ctx.incoming
    if call[TO] is None:
        await count_broadcast(ctx, "announcement to all")
    announcement = await announcements.create(
        ctx.session,
        author=ctx.actor.label,
        author_person_id=ctx.actor.person_id,
        text=call[TEXT],
        html=to_html(call[TEXT]),
        group_refs=call[TO],
        due_at=call.get(AT) or ctx.now,
        pin="pin" in call.flags,
        report_to=announcements.ReportTo(
            incoming.platform,
            incoming.is_direct,
            incoming.sender_id if incoming.is_direct else incoming.room_id,
        ),
        now=ctx.now,
        say=ctx.say,
    )
    lang = ctx.lang
    about = {"id": announcement.id, "to": _to(announcement, lang)}
    if announcement.status == AnnouncementStatus.SCHEDULED:
        ctx.changed.add(RELEASES.of(announcement.id))
        return Reply(
            lang._(
                "Announcement #{id} to {to} is scheduled for {when}. /announce cancel {id} withdraws it.",
                when=lang.read_in(announcement.due_at, ctx.zone, ctx.whose_zone, ctx.zone),
                **about,
            )
        )
    return Reply(lang._("Announcement #{id} to {to} is on its way; a delivery report follows.", **about))


async def announce_list(ctx: Context, call: Call) -> Reply:
    """Scheduled announcements, then the latest sent."""
    listed = await announcements.recent(ctx.session)
    lang = ctx.lang
    if not listed:
        return Reply(lang._("No announcements yet."))
    lines = []
    for item in listed:
        when = lang.moment(item.due_at, ctx.zone)
        if item.status == AnnouncementStatus.SCHEDULED:
            standing = lang._("scheduled for {when}", when=when)
        else:
            standing = lang._(
                "{state} ({when})", state=lang.say(state(item.status.value, of="announcement")), when=when
            )
        first_line = item.text.splitlines()[0]
        shown_text = first_line[:60] + ("…" if len(first_line) > 60 else "")
        lines.append(
            lang._("#{id} to {to} — {state}: {text}", id=item.id, to=_to(item, lang), state=standing, text=shown_text)
        )
    return Reply("\n".join(lines))


async def announce_status(ctx: Context, call: Call) -> Reply:
    """Where an announcement has been delivered so far."""
    announcement = await announcements.find(ctx.session, call[ANNOUNCEMENT])
    if announcement.status == AnnouncementStatus.SCHEDULED:
        return Reply(
            ctx.lang._(
                "Announcement #{id} is scheduled for {when}.",
                id=announcement.id,
                when=ctx.lang.moment(announcement.due_at, ctx.zone),
            )
        )
    if announcement.status == AnnouncementStatus.CANCELLED:
        return Reply(ctx.lang._("Announcement #{id} was cancelled before it went out.", id=announcement.id))
    return Reply(
        "\n".join(ctx.lang.say(line) for line in await announcements.delivery_report(ctx.session, announcement))
    )


async def announce_cancel(ctx: Context, call: Call) -> Reply:
    """Withdraw a scheduled announcement."""
    announcement = await announcements.cancel(ctx.session, call[ANNOUNCEMENT], actor=ctx.actor.label, now=ctx.now)
    ctx.changed.add(RELEASES.of(announcement.id))
    return Reply(ctx.lang._("Announcement #{id} is cancelled; it will not be sent.", id=announcement.id))


COMMANDS = [
    Command("announce list", "scheduled and recent announcements", announce_list, Access.SECRETARIAT, anywhere=True),
    Command(
        "announce status",
        "an announcement's delivery report",
        announce_status,
        Access.SECRETARIAT,
        params=(ANNOUNCEMENT,),
        anywhere=True,
    ),
    Command(
        "announce cancel",
        "withdraw a scheduled announcement",
        announce_cancel,
        Access.SECRETARIAT,
        params=(ANNOUNCEMENT,),
        anywhere=True,
    ),
    Command(
        "announce",
        "post an announcement to all groups or chosen ones",
        announce,
        Access.SECRETARIAT,
        params=(TO, TEXT),
        options=(AT,),
        flags=("pin",),
        anywhere=True,
        details=N_(
            "<to> is all (every group's rooms and the plenary) or groups separated by commas, "
            "e.g. pfas,skills. Markdown is allowed. With pin, the message is pinned where the bot may pin."
        ),
    ),
]


class AnnouncementReleases:
    """Scheduled announcements go out at their time (also after a restart that missed it)."""

    changes = RELEASES

    def __init__(self, db: Database, default_language: str = "en") -> None:
        self.db = db
        self.say = saying(default_language)

    async def plan(self, keys: Collection[int] | None = None) -> list[Job]:
        async with self.db.transaction() as session:
            scheduled = await announcements.scheduled(session, keys)
        return [
            Job(f"announcement:{announcement_id}", due_at, self.release, (announcement_id,), announcement_id)
            for announcement_id, due_at in scheduled
        ]

    async def release(self, announcement_id: int) -> bool:
        async with self.db.transaction() as session:
            return await announcements.release(session, announcement_id, utcnow(), self.say) is not None


def announcement_releases(services: Services) -> AnnouncementReleases:
    return AnnouncementReleases(services.db, services.settings.alliance.language)


async def announce_at_the_shell(settings: Settings, args: Namespace) -> int:
    """`wgbot announce`: queue one (the running bot delivers it), or show or cancel one."""
    zone, language = settings.alliance.timezone, settings.alliance.language
    now = utcnow()
    async with database(settings) as db, db.transaction() as session:
        if args.status:
            found = await announcements.find(session, args.status)
            if found.status in (AnnouncementStatus.SCHEDULED, AnnouncementStatus.CANCELLED):
                print(f"announcement #{found.id} is {found.status.value} (due {shown(found.due_at, zone)})")
            else:
                print("\n".join(str(line) for line in await announcements.delivery_report(session, found)))
            return 0
        if args.cancel:
            cancelled = await announcements.cancel(session, args.cancel, actor=operator(), now=now)
            print(f"announcement #{cancelled.id} is cancelled")
            return 0
        if not args.text:
            raise Declined("give the announcement's text, or --status ID, or --cancel ID")
        created = await announcements.create(
            session,
            author=operator(),
            author_person_id=None,
            text=args.text,
            html=to_html(args.text),
            group_refs=groups_named(args.to),
            due_at=parse_when(args.at, zone, now) if args.at else now,
            pin=args.pin,
            report_to=None,
            now=now,
            say=saying(language),
        )
    when = "now" if created.status != AnnouncementStatus.SCHEDULED else f"{shown(created.due_at, zone)} ({zone})"
    print(f"announcement #{created.id} queued for {when}; `wgbot announce --status {created.id}` shows its delivery")
    return 0


AREA = Area(
    "announcements",
    COMMANDS,
    planners=[announcement_releases],
    title=N_("Announcements"),
    shell={"announce": announce_at_the_shell},
)
