"""/deliverable, /draft, /comment: a group's documents, drafted where its members talk."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot import arguments
from bot.commands import Call, Command, Option, Param, at_most, text
from bot.context import Context
from bot.timeparse import parse_when, shown
from bot.transports.base import OutgoingFile, Reply
from handlers.deliverables.due_dates import DUE_DATES
from handlers.deliverables.versions import version_number, version_ref
from storage import deliverables, notices
from storage.errors import Refused
from storage.files import FileStore
from storage.models import Deliverable, DeliverableStatus, DraftVersion
from storage.rules.access import Access
from storage.rules.text import N_


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


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{round(size / 1024)} kB"


def describe_version(kept: DraftVersion, zone: str) -> str:
    by = f"{kept.author} ({kept.organisation})" if kept.organisation else kept.author
    withdrawn = f" — WITHDRAWN {shown(kept.withdrawn_at, zone)}" if kept.withdrawn_at else ""
    return (
        f"v{kept.number} {kept.file_name} — {by}, {shown(kept.submitted_at, zone)}, {_size(kept.size)}, "
        f"sha256 {kept.sha256[:12]}…{withdrawn}"
    )


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
    by = f", due {shown(due, ctx.settings.alliance.timezone)}" if due else ""
    await notices.to_group(
        ctx.session,
        group.id,
        f"New deliverable {made.id} of {group.name}: {made.title}{by}. "
        f"Send drafts with /draft {made.id} (a file, or text).",
    )
    return Reply(f"Deliverable {made.id} ({made.title}) is open for drafts: /draft {made.id} with a file or text.")


async def deliverable_list(ctx: Context, call: Call) -> Reply:
    """This group's deliverables (all in a private chat), with status and due date."""
    group = await ctx.group()
    found = await deliverables.listed(ctx.session, group)
    if not found:
        return Reply("No deliverables yet. A chair creates one with /deliverable new.")
    lines = []
    for item in found:
        due = f", due {shown(item.due_at, ctx.zone)}" if item.due_at else ""
        where = "" if group else f" ({item.group.name})"
        lines.append(f"{item.id}. {item.title}{where} — {item.status.value}{due}")
    return Reply("\n".join(lines))


async def deliverable_info(ctx: Context, call: Call) -> Reply:
    """Versions, authors, comments and status of one deliverable."""
    item = await deliverables.find(ctx.session, call[DELIVERABLE])
    due = f", due {shown(item.due_at, ctx.zone)}" if item.due_at else ""
    final = f" (version {item.final_version})" if item.final_version else ""
    lines = [f"Deliverable {item.id}: {item.title} — {item.group.name}, {item.status.value}{final}{due}"]
    if item.description:
        lines.append(item.description)
    kept = await deliverables.versions(ctx.session, item.id)
    notes = await deliverables.comments(ctx.session, item.id)
    if not kept:
        lines.append(f"No drafts yet: /draft {item.id} with a file or text.")
    for version in kept:
        lines.append(describe_version(version, ctx.zone))
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
        raise Refused(f"Attach the draft, or write it after the command: /draft {item.id} <text>.")
    kept = await deliverables.submit(ctx.session, item, submitted, actor=ctx.actor, store=_store(ctx), now=ctx.now)
    await notices.to_group(
        ctx.session,
        item.group_id,
        f"New draft of deliverable {item.id} ({item.title}): {describe_version(kept, ctx.settings.alliance.timezone)}",
    )
    return Reply(
        f"Recorded as version {kept.number} of deliverable {item.id}: {kept.file_name}, "
        f"{_size(kept.size)}, sha256 {kept.sha256}."
    )


async def comment(ctx: Context, call: Call) -> Reply:
    """Comment on one version of a deliverable."""
    item = await deliverables.find(ctx.session, call[DRAFT_OF])
    added = await deliverables.comment(ctx.session, item, call[VERSION], call[COMMENT], actor=ctx.actor, now=ctx.now)
    return Reply(f"Comment added to version {added.version} of deliverable {item.id}.")


async def deliverable_status(ctx: Context, call: Call) -> Reply:
    """Move a deliverable: drafting → review → final (a version) → submitted."""
    item = await deliverables.find(ctx.session, call[DELIVERABLE])
    if item.group_id != ctx.require_group_id() and not ctx.actor.is_secretariat:
        raise Refused(f"Deliverable {item.id} belongs to {item.group.name}; move it in that group's room.")
    to = call[STATUS]
    change = await deliverables.move(
        ctx.session, item, to, number=call.get(FINAL_VERSION), by=ctx.actor.label, now=ctx.now
    )
    ctx.changed.add(DUE_DATES.of(item.id))
    text = status_text(item, change.from_status, change.version)
    await notices.to_group(ctx.session, item.group_id, text)
    return Reply(text)


def status_text(item: Deliverable, before: str | None, version: int | None) -> str:
    which = f" (version {version})" if version else ""
    return f"Deliverable {item.id} ({item.title}) is now {item.status.value}{which}; it was {before}."


async def deliverable_withdraw(ctx: Context, call: Call) -> Reply:
    """Withdraw a version (its author, the chair, the secretariat): kept, marked withdrawn."""
    ref = call[WITHDRAWN]
    item = await deliverables.find(ctx.session, ref.deliverable)
    may_any = ctx.actor.is_secretariat or ctx.actor.chairs(item.group_id)
    kept = await deliverables.withdraw(ctx.session, item, ref.version, actor=ctx.actor, may_any=may_any, now=ctx.now)
    text = (
        f"Version {kept.number} of deliverable {item.id} ({item.title}) is withdrawn by {ctx.actor.display_name}; "
        "it stays on record, marked withdrawn."
    )
    await notices.to_group(ctx.session, item.group_id, text)
    return Reply(text)


async def deliverable_export(ctx: Context, call: Call) -> Reply:
    """Every version, a manifest.json and a README.md, as one zip."""
    item = await deliverables.find(ctx.session, call[DELIVERABLE])
    archive = await deliverables.export_archive(ctx.session, item, _store(ctx))
    kept = len(await deliverables.versions(ctx.session, item.id))
    return Reply(
        f"Deliverable {item.id} ({item.title}): {kept} versions with their manifest.",
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
