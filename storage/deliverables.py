"""Deliverables: drafts collected from chat as numbered versions, comments, status, export.

A version's bytes live once in the content-addressed file store; its record says who sent
them for which organisation, when, from where, and their SHA-256, which the export and an
approval vote quote. Versions are numbered under a lock on the deliverable, so two drafts sent
at the same instant become two versions, never one number twice.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import audit
from storage.errors import Refused
from storage.files import FileStore
from storage.models import (
    Deliverable,
    DeliverableReminder,
    DeliverableStatus,
    DraftComment,
    DraftVersion,
    Participation,
    StatusChange,
    WorkingGroup,
)
from storage.rules.access import Actor
from storage.rules.documents import NotADraft, classify, safe_name
from storage.rules.text import OneOf, Words, quote, state

# Where the chair may move a deliverable from each status.
MOVES = {
    DeliverableStatus.DRAFTING: {DeliverableStatus.IN_REVIEW},
    DeliverableStatus.IN_REVIEW: {DeliverableStatus.DRAFTING, DeliverableStatus.FINAL},
    DeliverableStatus.FINAL: {DeliverableStatus.IN_REVIEW, DeliverableStatus.SUBMITTED},
    DeliverableStatus.SUBMITTED: set(),
}
MAX_COMMENT = 4000


def status_named(text: str) -> DeliverableStatus:
    key = " ".join(text.lower().replace("-", " ").split())
    for status in DeliverableStatus:
        if key in (status.value, status.value.removeprefix("in ")):
            return status
    raise Refused("A status is drafting, review, final or submitted, not {text}.", text=quote(text))


async def create(
    session: AsyncSession,
    *,
    actor: Actor,
    group: WorkingGroup,
    title: str,
    description: str,
    due_at: datetime | None,
    now: datetime,
) -> Deliverable:
    title = " ".join(title.split())
    if not title:
        raise Refused("A deliverable needs a title.")
    if due_at is not None and due_at <= now:
        raise Refused("The due date is in the past; give one to come.")
    deliverable = Deliverable(
        group_id=group.id,
        title=title,
        description=description.strip(),
        due_at=due_at,
        status=DeliverableStatus.DRAFTING,
        created_by=actor.label,
        created_at=now,
    )
    session.add(deliverable)
    await session.flush()
    session.add(
        StatusChange(
            deliverable_id=deliverable.id, from_status=None, to_status=deliverable.status.value, by=actor.label, at=now
        )
    )
    await audit.record(
        session,
        actor=actor.label,
        action="deliverable.created",
        subject=f"deliverable:{deliverable.id}",
        details={"group": group.slug, "title": title, "due_at": due_at and due_at.isoformat()},
        at=now,
    )
    return deliverable


async def find(session: AsyncSession, deliverable_id: int, *, lock: bool = False) -> Deliverable:
    found = await session.get(
        Deliverable, deliverable_id, options=[selectinload(Deliverable.group)], with_for_update=lock
    )
    if found is None:
        shell = f"no deliverable {deliverable_id}; `wgbot export deliverables` lists them"
        raise Refused(
            "No deliverable '{deliverable_id}'; /deliverable list shows them.",
            deliverable_id=deliverable_id,
            shell=shell,
        )
    return found


async def listed(session: AsyncSession, group: WorkingGroup | None) -> list[Deliverable]:
    query = select(Deliverable).options(selectinload(Deliverable.group)).order_by(Deliverable.id)
    if group is not None:
        query = query.where(Deliverable.group_id == group.id)
    return list(await session.scalars(query))


async def versions(session: AsyncSession, deliverable_id: int) -> list[DraftVersion]:
    return list(
        await session.scalars(
            select(DraftVersion).where(DraftVersion.deliverable_id == deliverable_id).order_by(DraftVersion.number)
        )
    )


async def version(session: AsyncSession, deliverable: Deliverable, number: int) -> DraftVersion:
    found = await session.scalar(
        select(DraftVersion).where(DraftVersion.deliverable_id == deliverable.id, DraftVersion.number == number)
    )
    if found is None:
        raise Refused(
            "Deliverable {id} has no version {number}; /deliverable info {id} lists them.",
            id=deliverable.id,
            number=number,
        )
    return found


@dataclass(frozen=True)
class Draft:
    name: str
    data: bytes
    platform: str


async def submit(
    session: AsyncSession, deliverable: Deliverable, draft: Draft, *, actor: Actor, store: FileStore, now: datetime
) -> DraftVersion:
    """Record a new version; the same bytes as an earlier version are refused (nothing is kept)."""
    deliverable = await find(session, deliverable.id, lock=True)  # versions are numbered one at a time
    if deliverable.status in (DeliverableStatus.FINAL, DeliverableStatus.SUBMITTED):
        raise Refused(
            "Deliverable {id} is {value}; it takes no more drafts.",
            id=deliverable.id,
            value=state(deliverable.status.value, of="deliverable"),
        )
    if not (actor.is_secretariat or await _takes_part(session, actor, deliverable.group_id)):
        raise Refused("Only organisations taking part in {name} send its drafts.", name=deliverable.group.name)
    name = safe_name(draft.name)
    try:
        media_type = classify(name, draft.data)
    except NotADraft as reason:
        raise Refused(str(reason)) from None
    sha256 = FileStore.hash(draft.data)
    same = await session.scalar(
        select(DraftVersion.number).where(DraftVersion.deliverable_id == deliverable.id, DraftVersion.sha256 == sha256)
    )
    if same is not None:
        raise Refused(
            "That is exactly version {same} (sha256 {sha256}…); no new version was made.", same=same, sha256=sha256[:12]
        )
    store.put(session, draft.data)
    number = (
        await session.scalar(select(func.max(DraftVersion.number)).where(DraftVersion.deliverable_id == deliverable.id))
        or 0
    ) + 1
    added = DraftVersion(
        deliverable_id=deliverable.id,
        number=number,
        sha256=sha256,
        size=len(draft.data),
        media_type=media_type,
        file_name=name,
        person_id=actor.person_id,
        author=actor.display_name,
        organisation=actor.organisation_name,
        platform=draft.platform,
        submitted_at=now,
    )
    session.add(added)
    await audit.record(
        session,
        actor=actor.label,
        action="deliverable.draft",
        subject=f"deliverable:{deliverable.id}",
        details={
            "version": number,
            "sha256": sha256,
            "size": len(draft.data),
            "name": draft.name,
            "organisation": actor.organisation_name,
        },
        at=now,
    )
    return added


async def _takes_part(session: AsyncSession, actor: Actor, group_id: int) -> bool:
    if actor.organisation_id is None:
        return False
    return await session.get(Participation, (actor.organisation_id, group_id)) is not None


async def comment(
    session: AsyncSession, deliverable: Deliverable, number: int, text: str, *, actor: Actor, now: datetime
) -> DraftComment:
    text = text.strip()
    if not text:
        raise Refused("A comment needs a text.")
    if len(text) > MAX_COMMENT:
        raise Refused("A comment is at most {MAX_COMMENT} characters.", MAX_COMMENT=MAX_COMMENT)
    on = await version(session, deliverable, number)
    added = DraftComment(
        deliverable_id=deliverable.id,
        version=on.number,
        text=text,
        person_id=actor.person_id,
        author=actor.display_name,
        organisation=actor.organisation_name,
        at=now,
    )
    session.add(added)
    return added


async def comments(session: AsyncSession, deliverable_id: int) -> list[DraftComment]:
    return list(
        await session.scalars(
            select(DraftComment).where(DraftComment.deliverable_id == deliverable_id).order_by(DraftComment.id)
        )
    )


async def history(session: AsyncSession, deliverable_id: int) -> list[StatusChange]:
    return list(
        await session.scalars(
            select(StatusChange).where(StatusChange.deliverable_id == deliverable_id).order_by(StatusChange.id)
        )
    )


async def move(
    session: AsyncSession,
    deliverable: Deliverable,
    to: DeliverableStatus,
    *,
    number: int | None,
    by: str,
    now: datetime,
) -> StatusChange:
    """Change the status; "final" names a version (the latest unless one is given)."""
    deliverable = await find(session, deliverable.id, lock=True)
    if to not in MOVES[deliverable.status]:
        if not MOVES[deliverable.status]:
            raise Refused(
                "Deliverable {id} is {value}; it is done and moves no further.",
                id=deliverable.id,
                value=state(deliverable.status.value, of="deliverable"),
            )
        raise Refused(
            "Deliverable {id} is {value}; it can move to {allowed}.",
            id=deliverable.id,
            value=state(deliverable.status.value, of="deliverable"),
            allowed=OneOf(tuple(state(s.value, of="deliverable") for s in MOVES[deliverable.status])),
        )
    final = None
    if to == DeliverableStatus.FINAL:
        kept = await versions(session, deliverable.id)
        if not kept:
            raise Refused("Deliverable {id} has no version to make final yet.", id=deliverable.id)
        standing = [v for v in kept if v.withdrawn_at is None]
        if not standing:
            raise Refused("Every version of deliverable {id} was withdrawn; send a new draft first.", id=deliverable.id)
        final = (await version(session, deliverable, number)) if number else standing[-1]
        if final.withdrawn_at is not None:
            raise Refused(
                "Version {number} of deliverable {id} was withdrawn; it cannot be final.",
                number=final.number,
                id=deliverable.id,
            )
    elif number:
        raise Refused("Only final takes a version.")
    return await _record_move(session, deliverable, to, final, by, now)


async def _record_move(
    session: AsyncSession,
    deliverable: Deliverable,
    to: DeliverableStatus,
    final: DraftVersion | None,
    by: str,
    now: datetime,
) -> StatusChange:
    change = StatusChange(
        deliverable_id=deliverable.id,
        from_status=deliverable.status.value,
        to_status=to.value,
        version=final.number if final else None,
        by=by,
        at=now,
    )
    session.add(change)
    deliverable.status = to
    if to == DeliverableStatus.FINAL and final is not None:
        deliverable.final_version = final.number
    elif to in (DeliverableStatus.DRAFTING, DeliverableStatus.IN_REVIEW):
        deliverable.final_version = None
    await audit.record(
        session,
        actor=by,
        action="deliverable.status",
        subject=f"deliverable:{deliverable.id}",
        details={
            "from": change.from_status,
            "to": to.value,
            "version": change.version,
            "sha256": final.sha256 if final else None,
        },
        at=now,
    )
    return change


async def approve(
    session: AsyncSession, deliverable_id: int, number: int, sha256: str, *, by: str, now: datetime
) -> Words:
    """What a passed approval vote does: exactly that version (same bytes) becomes final. Says
    what was done, or why nothing was."""
    deliverable = await find(session, deliverable_id, lock=True)
    approved = await version(session, deliverable, number)
    facts = {"version": number, "deliverable": deliverable_id}
    if approved.sha256 != sha256:
        return Words("not carried out: version {version} is not the file the vote was about", facts)
    if approved.withdrawn_at is not None:
        return Words("not carried out: version {version} was withdrawn meanwhile", facts)
    if deliverable.status == DeliverableStatus.SUBMITTED:
        return Words("not carried out: deliverable {deliverable} was submitted meanwhile", facts)
    await _record_move(session, deliverable, DeliverableStatus.FINAL, approved, by, now)
    return Words("version {version} of deliverable {deliverable} is final", facts)


async def withdraw(
    session: AsyncSession, deliverable: Deliverable, number: int, *, actor: Actor, may_any: bool, now: datetime
) -> DraftVersion:
    """Withdraw one version: its author may, and with `may_any` (the chair, the secretariat) anyone.
    It stays on record (and in the export), marked withdrawn; a final version must first be
    moved back to review."""
    deliverable = await find(session, deliverable.id, lock=True)
    kept = await version(session, deliverable, number)
    if not may_any and (actor.person_id is None or kept.person_id != actor.person_id):
        raise Refused(
            "Only its author, the group's chair or the secretariat may withdraw version {number}.", number=number
        )
    if kept.withdrawn_at is not None:
        raise Refused("Version {number} of deliverable {id} was already withdrawn.", number=number, id=deliverable.id)
    if deliverable.final_version == number and deliverable.status in (
        DeliverableStatus.FINAL,
        DeliverableStatus.SUBMITTED,
    ):
        raise Refused(
            "Version {number} is the final version of deliverable {id}; move it back to review first (/deliverable status {id} review).",
            number=number,
            id=deliverable.id,
        )
    kept.withdrawn_at, kept.withdrawn_by = now, actor.label
    await audit.record(
        session,
        actor=actor.label,
        action="deliverable.version_withdrawn",
        subject=f"deliverable:{deliverable.id}",
        details={"version": number, "sha256": kept.sha256},
        at=now,
    )
    return kept


async def contributors(session: AsyncSession, deliverable_id: int) -> dict[str, list[int]]:
    """Organisation (or person, for the secretariat) → the versions it sent."""
    found: dict[str, list[int]] = {}
    for kept in await versions(session, deliverable_id):
        found.setdefault(kept.organisation or kept.author, []).append(kept.number)
    return found


# ── export ───────────────────────────────────────────────────────────────────────────────────


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def manifest(session: AsyncSession, deliverable: Deliverable) -> dict[str, Any]:
    kept = await versions(session, deliverable.id)
    notes = await comments(session, deliverable.id)
    return {
        "deliverable": {
            "id": deliverable.id,
            "title": deliverable.title,
            "description": deliverable.description,
            "group": deliverable.group.name,
            "status": deliverable.status.value,
            "final_version": deliverable.final_version,
            "due_at": _stamp(deliverable.due_at),
            "created_by": deliverable.created_by,
            "created_at": _stamp(deliverable.created_at),
        },
        "versions": [
            {
                "number": v.number,
                "file": archive_name(v),
                "original_name": v.file_name,
                "sha256": v.sha256,
                "size": v.size,
                "media_type": v.media_type,
                "author": v.author,
                "organisation": v.organisation,
                "platform": v.platform,
                "submitted_at": _stamp(v.submitted_at),
                "withdrawn_at": _stamp(v.withdrawn_at),
                "withdrawn_by": v.withdrawn_by,
                "comments": [
                    {"author": c.author, "organisation": c.organisation, "at": _stamp(c.at), "text": c.text}
                    for c in notes
                    if c.version == v.number
                ],
            }
            for v in kept
        ],
        "status_history": [
            {"from": h.from_status, "to": h.to_status, "version": h.version, "by": h.by, "at": _stamp(h.at)}
            for h in await history(session, deliverable.id)
        ],
    }


def archive_name(kept: DraftVersion) -> str:
    return f"versions/v{kept.number}-{safe_name(kept.file_name)}"


def readme(record: dict[str, Any]) -> str:
    """The manifest for a human reader."""
    about = record["deliverable"]
    lines = [
        f"# {about['title']}",
        "",
        f"Working group: {about['group']}  ",
        f"Status: {about['status']}"
        + (f" (version {about['final_version']})" if about["final_version"] else "")
        + "  ",
        f"Due: {about['due_at'] or 'no date'}",
        "",
    ]
    if about["description"]:
        lines += [about["description"], ""]
    lines += ["## Versions", ""]
    for kept in record["versions"]:
        lines.append(
            f"- **v{kept['number']}** `{kept['file']}` by {kept['author']}"
            + (f" ({kept['organisation']})" if kept["organisation"] else "")
            + f", {kept['submitted_at']}, {kept['size']} bytes, sha256 `{kept['sha256']}`"
            + (f" — **WITHDRAWN** {kept['withdrawn_at']} by {kept['withdrawn_by']}" if kept["withdrawn_at"] else "")
        )
        lines += [f"  - {c['author']}: {c['text']}" for c in kept["comments"]]
    lines += ["", "## Status history", ""]
    lines += [
        f"- {h['at']}: {h['from'] or 'created'} → {h['to']}"
        + (f" (v{h['version']})" if h["version"] else "")
        + f" by {h['by']}"
        for h in record["status_history"]
    ]
    return "\n".join(lines) + "\n"


async def export_archive(session: AsyncSession, deliverable: Deliverable, store: FileStore) -> bytes:
    """A zip: every version's file, manifest.json and README.md."""
    record = await manifest(session, deliverable)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for kept in record["versions"]:
            archive.writestr(kept["file"], store.read(kept["sha256"]))
        archive.writestr("manifest.json", json.dumps(record, indent=2, ensure_ascii=False))
        archive.writestr("README.md", readme(record))
    return buffer.getvalue()


# ── due-date reminders ───────────────────────────────────────────────────────────────────────


async def open_deadlines(session: AsyncSession, ids: Collection[int] | None) -> list[tuple[int, datetime, set[float]]]:
    """(id, due date, reminder offsets done for that date) of deliverables still being drafted."""
    query = select(Deliverable.id, Deliverable.due_at).where(
        Deliverable.due_at.is_not(None),
        Deliverable.status.in_((DeliverableStatus.DRAFTING, DeliverableStatus.IN_REVIEW)),
    )
    if ids is not None:
        query = query.where(Deliverable.id.in_(ids))
    rows = list((await session.execute(query)).tuples())
    sent = select(DeliverableReminder.deliverable_id, DeliverableReminder.days_before, DeliverableReminder.due_at)
    done: dict[tuple[int, datetime], set[float]] = {}
    for deliverable_id, days, due in (await session.execute(sent)).tuples():
        done.setdefault((deliverable_id, due), set()).add(days)
    return [(i, due, done.get((i, due), set())) for i, due in rows if due is not None]


async def claim_reminder(session: AsyncSession, deliverable_id: int, days: float, now: datetime) -> Deliverable | None:
    """Mark the reminder sent (its notices go in this transaction); None if not due or done."""
    deliverable = await find(session, deliverable_id, lock=True)
    if deliverable.due_at is None or deliverable.status not in (
        DeliverableStatus.DRAFTING,
        DeliverableStatus.IN_REVIEW,
    ):
        return None
    if deliverable.due_at - timedelta(days=days) > now:
        return None
    if await session.get(DeliverableReminder, (deliverable_id, days, deliverable.due_at)) is not None:
        return None
    session.add(
        DeliverableReminder(deliverable_id=deliverable_id, days_before=days, due_at=deliverable.due_at, sent_at=now)
    )
    await session.flush()
    return deliverable
