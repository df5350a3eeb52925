"""Taking part in a meeting: /rsvp, the agenda, the minutes, who attended."""

from __future__ import annotations

from typing import Any

from bot.commands import Call, Command, Param, at_most
from bot.context import Context
from bot.i18n import Language, understood
from bot.transports.base import OutgoingFile, Reply
from handlers.meetings.refs import meeting_ref
from handlers.meetings.wording import where
from storage import meetings, organisations
from storage.errors import Refused
from storage.files import FileStore
from storage.models import Meeting
from storage.rules.access import Access
from storage.rules.documents import NotADraft, classify, safe_name
from storage.rules.text import N_

MEETING = Param("id", meeting_ref)
ANSWER = Param("answer", at_most(20))
ITEM = Param("item", at_most(500), required=False, rest=True)
MINUTES = Param("text", at_most(3000), required=False, rest=True)
PRESENT = Param("organisations", at_most(3000), rest=True)


async def rsvp(ctx: Context, call: Call) -> Reply:
    """Say whether you will attend (the next occurrence, or the one named)."""
    ref = call[MEETING]
    meeting, number = await meetings.find(ctx.session, ref.meeting), ref.occurrence
    person_id = ctx.actor.person_id
    invited = await meetings.is_guest(ctx.session, meeting.id, person_id)
    if person_id is None or not (ctx.actor.represents_member or ctx.actor.is_secretariat or invited):
        raise Refused("Only member representatives and invited guests answer for a meeting.")
    target = await meetings.pick(ctx.session, meeting, number, ctx.now)
    if target.cancelled:
        raise Refused("Meeting {label} is cancelled.", label=meetings.label(meeting, target))
    answer = understood(call[ANSWER].strip().lower())  # "ja", "oui" are yes
    previous = await meetings.answer(ctx.session, meeting, target, person_id, answer, ctx.now)
    who = (
        f"{ctx.actor.display_name} ({ctx.actor.organisation_name})"
        if ctx.actor.organisation_name
        else ctx.actor.display_name
    )
    noted = {"answer": ctx.lang.choice(answer), "who": who, "meeting": where(meeting, target, ctx.zone, ctx.lang)}
    if previous and previous != answer:
        return Reply(
            ctx.lang._(
                "Noted: {answer} for {who} — {meeting} (was {previous}).", previous=ctx.lang.choice(previous), **noted
            )
        )
    return Reply(ctx.lang._("Noted: {answer} for {who} — {meeting}.", **noted))


async def meeting_agenda(ctx: Context, call: Call) -> Reply:
    """Show a meeting's agenda, or add an item: /meeting agenda 12 add "Budget 2027"."""
    ref = call[MEETING]
    meeting = await meetings.find(ctx.session, ref.meeting)
    target = await meetings.pick(ctx.session, meeting, ref.occurrence, ctx.now)
    more = call.get(ITEM) or ""
    lang, here = ctx.lang, meetings.label(meeting, target)
    if more:
        verb, _, text = more.partition(" ")
        if verb.lower() == "remove":
            _keeps_the_record(ctx, meeting, N_("Only the group's chair or the secretariat remove agenda items."))
            if not text.strip().isdigit():
                raise Refused("Say which item by its number: /meeting agenda {label} remove 2.", label=here)
            removed = await meetings.remove_agenda_item(ctx.session, meeting, target, int(text), ctx.actor, ctx.now)
            return Reply(
                lang._(
                    "Removed item {number} ({item}) from the agenda of meeting {label}.",
                    number=int(text),
                    item=removed,
                    label=here,
                )
            )
        if verb.lower() != "add":
            raise Refused(
                'Say add and the item: /meeting agenda {label} add "<item>", or remove and its number.', label=here
            )
        position = await meetings.add_agenda_item(ctx.session, meeting, target, _unquoted(text), ctx.actor, ctx.now)
        return Reply(lang._("Added as item {number} of the agenda of meeting {label}.", number=position, label=here))
    agenda = await meetings.agenda(ctx.session, meeting.id, target.number)
    if not agenda:
        return Reply(
            lang._('The agenda of meeting {label} is empty; /meeting agenda {label} add "<item>" adds one.', label=here)
        )
    lines = [lang._("Agenda of {meeting}:", meeting=where(meeting, target, ctx.zone, lang))]
    lines += [
        f"{n}. {item.text}" + (f" ({item.person.name})" if item.person else "") for n, item in enumerate(agenda, 1)
    ]
    return Reply("\n".join(lines))


def _keeps_the_record(ctx: Context, meeting: Meeting, refusal: str) -> None:
    """The meeting's record (minutes, attendance, agenda removals) is kept by the group's chair or
    the secretariat; anyone else gets `refusal`."""
    if not (ctx.actor.is_secretariat or ctx.actor.chairs(meeting.group_id)):
        raise Refused(refusal)


def _unquoted(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in "\"'“„«‘" and text[-1] in "\"'”“»’":
        return text[1:-1]
    return text


async def meeting_minutes(ctx: Context, call: Call) -> Reply:
    """Keep the minutes (text, or an attached file), or read them when none are given."""
    ref = call[MEETING]
    meeting, number = await meetings.find(ctx.session, ref.meeting), ref.occurrence
    target = (
        await meetings.pick(ctx.session, meeting, number, ctx.now)
        if number
        else await meetings.last_held(ctx.session, meeting, ctx.now)
    )
    text = (call.get(MINUTES) or "").strip()
    store = FileStore(ctx.settings.files.path)
    if not text and not ctx.files:
        minutes = await meetings.minutes_of(ctx.session, meeting.id, target.number)
        if minutes is None:
            return Reply(ctx.lang._("No minutes yet for meeting {label}.", label=meetings.label(meeting, target)))
        kept = (
            OutgoingFile(
                minutes.file_name or "minutes",
                minutes.media_type or "application/octet-stream",
                store.read(minutes.file_sha256),
            )
            if minutes.file_sha256
            else None
        )
        present = await meetings.presence(ctx.session, meeting.id, target.number)
        lines = [ctx.lang._("Minutes of {meeting}:", meeting=where(meeting, target, ctx.zone, ctx.lang))]
        if present:
            lines.append(ctx.lang._("Present: {organisations}.", organisations=_present(present, ctx.lang)))
        return Reply("\n".join([*lines, minutes.text or ""]).rstrip(), file=kept)
    _keeps_the_record(ctx, meeting, N_("Only the group's chair or the secretariat keep the minutes."))
    file: dict[str, Any] | None = None
    if ctx.files:
        received = ctx.files[0]
        name = safe_name(received.name)
        try:  # minutes are documents like drafts: the same types, checked the same way
            media_type = classify(name, received.data)
        except NotADraft as reason:
            raise Refused(str(reason)) from None
        sha256, _ = store.put(ctx.session, received.data)
        file = {"sha256": sha256, "name": name, "media_type": media_type, "size": len(received.data)}
    replaced = await meetings.record_minutes(
        ctx.session, meeting, target, text=text, file=file, actor=ctx.actor, now=ctx.now
    )
    label = meetings.label(meeting, target)
    if file:
        what = {"label": label, "file": file["name"], "sha256": file["sha256"][:12]}
        if replaced:
            return Reply(ctx.lang._("Minutes of meeting {label} replaced: {file} (sha256 {sha256}…).", **what))
        return Reply(ctx.lang._("Minutes of meeting {label} kept: {file} (sha256 {sha256}…).", **what))
    if replaced:
        return Reply(ctx.lang._("Minutes of meeting {label} replaced: the text.", label=label))
    return Reply(ctx.lang._("Minutes of meeting {label} kept: the text.", label=label))


async def meeting_attended(ctx: Context, call: Call) -> Reply:
    """Record which organisations attended: /meeting attended 12.3 ACME GmbH, Fab Nord AS."""
    ref = call[MEETING]
    meeting = await meetings.find(ctx.session, ref.meeting)
    _keeps_the_record(ctx, meeting, N_("Only the group's chair or the secretariat record who attended."))
    target = (
        await meetings.pick(ctx.session, meeting, ref.occurrence, ctx.now)
        if ref.occurrence
        else await meetings.last_held(ctx.session, meeting, ctx.now)
    )
    names = [name.strip() for name in call[PRESENT].split(",") if name.strip()]
    if not names:
        raise Refused("Name the organisations that attended, separated by commas.")
    present = [await organisations.find_organisation(ctx.session, name) for name in names]
    recorded = await meetings.record_presence(ctx.session, meeting, target, present, actor=ctx.actor, now=ctx.now)
    return Reply(
        ctx.lang.n_(
            "Attendance of meeting {label} recorded: {organisations} ({count} organisation).",
            "Attendance of meeting {label} recorded: {organisations} ({count} organisations).",
            len(recorded),
            label=meetings.label(meeting, target),
            organisations=_present(recorded, ctx.lang),
        )
    )


def _present(present: list[meetings.Present], lang: Language) -> str:
    """ "ACME GmbH, Consult Ltd (guest)": who attended, a guest organisation marked as one."""
    return ", ".join(lang._("{organisation} (guest)", organisation=p.name) if p.guest else p.name for p in present)


COMMANDS = [
    Command(
        "rsvp",
        "say whether you will attend a meeting",
        rsvp,
        Access.ANYONE,
        params=(MEETING, ANSWER),
        anywhere=True,
        details=N_("Answer {yes}, {no} or {maybe}."),
    ),
    Command(
        "meeting agenda",
        "a meeting's agenda, or add an item to it",
        meeting_agenda,
        Access.MEMBER,
        params=(MEETING, ITEM),
        anywhere=True,
        details=N_(
            '/meeting agenda 12 add "Budget 2027" adds an item to the next occurrence of meeting 12; '
            "/meeting agenda 12 remove 2 takes item 2 off (the chair, the secretariat)."
        ),
    ),
    Command(
        "meeting minutes",
        "keep the minutes of a meeting (text or file), or read them",
        meeting_minutes,
        Access.MEMBER,
        params=(MEETING, MINUTES),
        anywhere=True,
        takes_files=True,
    ),
    Command(
        "meeting attended",
        "record which organisations attended a meeting (chair, secretariat)",
        meeting_attended,
        Access.MEMBER,
        params=(MEETING, PRESENT),
        anywhere=True,
        details=N_("e.g. /meeting attended 12.3 ACME GmbH, Fab Nord AS (recording again replaces the list)."),
    ),
]
