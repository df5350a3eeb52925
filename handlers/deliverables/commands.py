"""/deliverable, /draft, /comment: a group's documents, drafted where its members talk."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot import arguments
from bot.commands import Call, Command, Option, Param, at_most, text
from bot.context import Context
from bot.i18n import ENGLISH, Language
from bot.timeparse import parse_when
from bot.transports.base import OutgoingFile, Reply
from handlers.deliverables.due_dates import DUE_DATES
from handlers.deliverables.versions import version_number, version_ref
from storage import deliverables, notices
from storage.errors import Refused
from storage.files import FileStore
from storage.models import Deliverable, DeliverableStatus, DraftVersion
from storage.rules.access import Access
from storage.rules.text import N_, state


async def due_date(raw: str, ctx: Context) -> datetime:
    """A date alone means the end of that day in the reader's zone."""
    text = raw.strip()
    try:
        day = datetime.fromisoformat(text)
    except ValueError:
        return parse_when(text, ctx.zone, ctx.now, ctx.reader.code)
    if len(text) == 10:
        day = datetime.combine(day.date(), time(23, 59))
    return day.replace(tzinfo=ZoneInfo(ctx.zone)) if day.tzinfo is None else day


async def status(raw: str, ctx: Context) -> DeliverableStatus:
    return deliverables.status_named(raw)


TITLE = Param("title", at_most(200))
DESCRIPTION = Param("description", at_most(2000), required=False, rest=True)
DUE = Option("due", "<date>", due_date)
DELIVERABLE = Param("id", arguments.number)
DRAFT_OF = Param("deliverable", arguments.number)
TEXT = Param("text", text, required=False, rest=True)
VERSION = Param("version", version_number)
COMMENT = Param("text", at_most(2000), rest=True)
STATUS = Param("status", status)
FINAL_VERSION = Param("version", version_number, required=False)
WITHDRAWN = Param("deliverable.version", version_ref)


def _store(ctx: Context) -> FileStore:
    return FileStore(ctx.settings.files.path)


def describe_version(kept: DraftVersion, zone: str, lang: Language = ENGLISH) -> str:
    by = f"{kept.author} ({kept.organisation})" if kept.organisation else kept.author
    line = (
        f"v{kept.number} {kept.file_name} — {by}, {lang.moment(kept.submitted_at, zone)}, {lang.size(kept.size)}, "
        f"sha256 {kept.sha256[:12]}…"
    )
    if kept.withdrawn_at:
        return lang._("{version} — WITHDRAWN {when}", version=line, when=lang.moment(kept.withdrawn_at, zone))
    return line


async def deliverable_new(ctx: Context, call: Call) -> Reply:
    """Create a deliverable of this group."""
    group = await ctx.require_group()
    due = call.get(DUE)
    made = await deliverables.create(
        ctx.session,
        actor=ctx.actor,
        group=group,
        title=call[TITLE],
        description=call.get(DESCRIPTION) or "",
        due_at=due,
        now=ctx.now,
    )
    ctx.changed.add(DUE_DATES.of(made.id))
    about = {"id": made.id, "group": group.name, "title": made.title}

    def news(lang: Language) -> str:
        if due:
            when = lang.moment(due, ctx.settings.alliance.timezone)
            return lang._(
                "New deliverable {id} of {group}: {title}, due {due}. Send drafts with /draft {id} (a file, or text).",
                due=when,
                **about,
            )
        return lang._(
            "New deliverable {id} of {group}: {title}. Send drafts with /draft {id} (a file, or text).", **about
        )

    await notices.to_group(ctx.session, group.id, ctx.worded(news))
    if due:
        return Reply(
            ctx.lang._(
                "Deliverable {id} ({title}) is open for drafts, due {due}: /draft {id} with a file or text.",
                due=ctx.lang.read_in(due, ctx.zone, ctx.whose_zone, ctx.zone),
                id=made.id,
                title=made.title,
            )
        )
    return Reply(
        ctx.lang._(
            "Deliverable {id} ({title}) is open for drafts: /draft {id} with a file or text.",
            id=made.id,
            title=made.title,
        )
    )


async def deliverable_list(ctx: Context, call: Call) -> Reply:
    """This group's deliverables (all in a private chat), with status and due date."""
    group = await ctx.group()
    found = await deliverables.listed(ctx.session, group)
    lang = ctx.lang
    if not found:
        return Reply(lang._("No deliverables yet. A chair creates one with /deliverable new."))
    lines = []
    for item in found:
        where = "" if group else f" ({item.group.name})"
        line = f"{item.id}. {item.title}{where} — {lang.say(state(item.status.value, of='deliverable'))}"
        if item.due_at:
            line = lang._("{deliverable}, due {due}", deliverable=line, due=lang.moment(item.due_at, ctx.zone))
        lines.append(line)
    return Reply("\n".join(lines))


async def deliverable_info(ctx: Context, call: Call) -> Reply:
    """Versions, authors, comments and status of one deliverable."""
    item = await deliverables.find(ctx.session, call[DELIVERABLE])
    lang = ctx.lang
    status = lang.say(state(item.status.value, of="deliverable"))
    if item.final_version:
        status = lang._("{status} (version {version})", status=status, version=item.final_version)
    heading = lang._(
        "Deliverable {id}: {title} — {group}, {status}",
        id=item.id,
        title=item.title,
        group=item.group.name,
        status=status,
    )
    if item.due_at:
        heading = lang._("{deliverable}, due {due}", deliverable=heading, due=lang.moment(item.due_at, ctx.zone))
    lines = [heading]
    if item.description:
        lines.append(item.description)
    kept = await deliverables.versions(ctx.session, item.id)
    notes = await deliverables.comments(ctx.session, item.id)
    if not kept:
        lines.append(lang._("No drafts yet: /draft {id} with a file or text.", id=item.id))
    for version in kept:
        lines.append(describe_version(version, ctx.zone, lang))
        lines += [f"   💬 {c.author}: {c.text}" for c in notes if c.version == version.number]
    return Reply("\n".join(lines))


async def draft(ctx: Context, call: Call) -> Reply:
    """Send a draft: an attached file (PDF, DOCX, ODT, Markdown, text) or the text itself."""
    item = await deliverables.find(ctx.session, call[DRAFT_OF])
    text = (call.get(TEXT) or "").strip()
    if ctx.files and text:
        raise Refused("Send either a file or a text as the draft, not both.")
    if ctx.files:
        received = ctx.files[0]
        submitted = deliverables.Draft(received.name, received.data, ctx.incoming.platform)
    elif text:
        submitted = deliverables.Draft(f"deliverable-{item.id}-draft.md", text.encode(), ctx.incoming.platform)
    else:
        raise Refused("Attach the draft, or write it after the command: /draft {id} <text>.", id=item.id)
    kept = await deliverables.submit(ctx.session, item, submitted, actor=ctx.actor, store=_store(ctx), now=ctx.now)
    zone = ctx.settings.alliance.timezone
    await notices.to_group(
        ctx.session,
        item.group_id,
        ctx.worded(
            lambda lang: lang._(
                "New draft of deliverable {id} ({title}): {version}",
                id=item.id,
                title=item.title,
                version=describe_version(kept, zone, lang),
            )
        ),
    )
    return Reply(
        ctx.lang._(
            "Recorded as version {version} of deliverable {id}: {file}, {size}, sha256 {sha256}.",
            version=kept.number,
            id=item.id,
            file=kept.file_name,
            size=ctx.lang.size(kept.size),
            sha256=kept.sha256,
        )
    )


async def comment(ctx: Context, call: Call) -> Reply:
    """Comment on one version of a deliverable."""
    item = await deliverables.find(ctx.session, call[DRAFT_OF])
    added = await deliverables.comment(ctx.session, item, call[VERSION], call[COMMENT], actor=ctx.actor, now=ctx.now)
    return Reply(
        ctx.lang._("Comment added to version {version} of deliverable {id}.", version=added.version, id=item.id)
    )


async def deliverable_status(ctx: Context, call: Call) -> Reply:
    """Move a deliverable: drafting → review → final (a version) → submitted."""
    item = await deliverables.find(ctx.session, call[DELIVERABLE])
    if item.group_id != ctx.require_group_id() and not ctx.actor.is_secretariat:
        raise Refused(
            "Deliverable {id} belongs to {group}; move it in that group's room.", id=item.id, group=item.group.name
        )
    to = call[STATUS]
    change = await deliverables.move(
        ctx.session, item, to, number=call.get(FINAL_VERSION), by=ctx.actor.label, now=ctx.now
    )
    ctx.changed.add(DUE_DATES.of(item.id))

    def text(lang: Language) -> str:
        return status_text(item, change.from_status, change.version, lang)

    await notices.to_group(ctx.session, item.group_id, ctx.worded(text))
    return Reply(text(ctx.lang))


def status_text(item: Deliverable, before: str | None, version: int | None, lang: Language = ENGLISH) -> str:
    facts = {"id": item.id, "title": item.title, "status": lang.say(state(item.status.value, of="deliverable"))}
    was = lang.say(state(before, of="deliverable")) if before else lang._("none")
    if version:
        return lang._(
            "Deliverable {id} ({title}) is now {status} (version {version}); it was {before}.",
            version=version,
            before=was,
            **facts,
        )
    return lang._("Deliverable {id} ({title}) is now {status}; it was {before}.", before=was, **facts)


async def deliverable_withdraw(ctx: Context, call: Call) -> Reply:
    """Withdraw a version (its author, the chair, the secretariat): kept, marked withdrawn."""
    ref = call[WITHDRAWN]
    item = await deliverables.find(ctx.session, ref.deliverable)
    may_any = ctx.actor.is_secretariat or ctx.actor.chairs(item.group_id)
    kept = await deliverables.withdraw(ctx.session, item, ref.version, actor=ctx.actor, may_any=may_any, now=ctx.now)

    def text(lang: Language) -> str:
        return lang._(
            "Version {version} of deliverable {id} ({title}) is withdrawn by {name}; it stays on record, marked withdrawn.",
            version=kept.number,
            id=item.id,
            title=item.title,
            name=ctx.actor.display_name,
        )

    await notices.to_group(ctx.session, item.group_id, ctx.worded(text))
    return Reply(text(ctx.lang))


async def deliverable_export(ctx: Context, call: Call) -> Reply:
    """Every version, a manifest.json and a README.md, as one zip."""
    item = await deliverables.find(ctx.session, call[DELIVERABLE])
    archive = await deliverables.export_archive(ctx.session, item, _store(ctx))
    kept = len(await deliverables.versions(ctx.session, item.id))
    return Reply(
        ctx.lang.n_(
            "Deliverable {id} ({title}): {count} version with its manifest.",
            "Deliverable {id} ({title}): {count} versions with their manifest.",
            kept,
            id=item.id,
            title=item.title,
        ),
        file=OutgoingFile(f"deliverable-{item.id}.zip", "application/zip", archive),
    )


COMMANDS = [
    Command(
        "deliverable new",
        "create a deliverable of this group",
        deliverable_new,
        Access.CHAIR,
        params=(TITLE, DESCRIPTION),
        options=(DUE,),
    ),
    Command(
        "deliverable list", "deliverables with status and due date", deliverable_list, Access.MEMBER, anywhere=True
    ),
    Command(
        "deliverable info",
        "versions, authors, comments and status",
        deliverable_info,
        Access.MEMBER,
        params=(DELIVERABLE,),
        anywhere=True,
    ),
    Command(
        "deliverable status",
        "move a deliverable: drafting, review, final [version], submitted",
        deliverable_status,
        Access.CHAIR,
        params=(DELIVERABLE, STATUS, FINAL_VERSION),
    ),
    Command(
        "deliverable withdraw",
        "withdraw a draft version (kept on record, marked withdrawn)",
        deliverable_withdraw,
        Access.MEMBER,
        params=(WITHDRAWN,),
        anywhere=True,
        details=N_("e.g. /deliverable withdraw 3.2: its author, the group's chair or the secretariat."),
    ),
    Command(
        "deliverable export",
        "all versions with a manifest, as a zip",
        deliverable_export,
        Access.MEMBER,
        params=(DELIVERABLE,),
        anywhere=True,
    ),
    Command(
        "draft",
        "send a draft of a deliverable: a file, or text",
        draft,
        Access.MEMBER,
        params=(DRAFT_OF, TEXT),
        anywhere=True,
        takes_files=True,
        details=N_("Attach a PDF, DOCX, ODT, Markdown or text file with /draft <deliverable> as its caption."),
    ),
    Command(
        "comment",
        "comment on a version of a deliverable",
        comment,
        Access.MEMBER,
        params=(DRAFT_OF, VERSION, COMMENT),
        anywhere=True,
    ),
]
