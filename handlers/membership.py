"""Applying for membership, and the Commission's decision.

/apply works two ways that share every check: a guided dialog in a private chat (one question
at a time, resumable, cancellable), or one line of key=value answers. Whatever is still missing
after a one-line form is asked for as a dialog.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import arguments
from bot.areas import Area
from bot.commands import Call, Command, Option, Param, at_most, text
from bot.context import Context
from bot.i18n import aliases, understood
from bot.transports.base import Reply
from storage import dialogs, groups, membership, notices, organisations, people
from storage.errors import Misread, Refused
from storage.models import MembershipApplication, OrganisationKind
from storage.rules.access import Access
from storage.rules.text import N_, Words, n_words, state
from storage.rules.voting import option_key

DIALOG = "apply"
# Answers to the yes/no questions, once `understood` has read them in any shipped language.
YES, NO = {"yes", "y", "si"}, {"no", "n"}
ACCEPTED = N_("I accept")  # the Declaration's answer, in the applicant's language (or any shipped one)


# The one-line form of /apply: each answer is read by its dialog step, like a typed answer.
FORM = {
    option.key: option
    for option in (
        Option("name", '"<organisation>"', text),
        Option("country", "<code>", text),
        Option("kind", "industry|research|university|association|cluster", text),
        Option("groups", "<group,…>", text),
        Option("contact", '"<name>"', text),
        Option("declaration", "accept", text),
        Option("eligibility", "yes,no,…", text),
    )
}
APPLICATION = Param("id", arguments.number)
SOME_APPLICATION = Param("id", arguments.number, required=False)
REASON = Param("reason", at_most(500), rest=True)


@dataclass(frozen=True)
class Step:
    key: str
    question: Callable[[Context], str]
    read: Callable[[Context, str], Awaitable[Any]]  # the answer as stored, or Refused


async def _read_organisation(ctx: Context, text: str) -> str:
    return await membership.applicable_name(ctx.session, text)


async def _read_country(ctx: Context, text: str) -> str:
    return organisations.country_code(text.strip())


async def _read_kind(ctx: Context, text: str) -> str:
    return organisations.organisation_kind(text, aliases(organisations.KINDS)).value


async def _read_groups(ctx: Context, text: str) -> list[str]:
    refs = [ref for ref in text.replace(";", ",").split(",") if ref.strip()]
    if not refs:
        raise Refused("Name at least one working group.")
    return sorted({(await groups.find_group(ctx.session, ref.strip())).slug for ref in refs})


async def _read_contact(ctx: Context, text: str) -> str:
    contact = " ".join(text.split())
    if not contact:
        raise Refused("Please give the contact person's name.")
    return contact


async def _read_declaration(ctx: Context, text: str) -> dict[str, str]:
    said = text.strip().rstrip(".!")
    if understood(said) != "yes" and option_key(said) not in {"accept", "accepted", *aliases((ACCEPTED,))}:
        raise Refused(
            "Membership needs the Declaration accepted: answer '{accept}', or /apply cancel.", accept=Words(ACCEPTED)
        )
    return {"sha256": _declaration_sha256(ctx), "accepted_at": ctx.now.isoformat()}


def _read_yes_no(question: str) -> Callable[[Context, str], Awaitable[dict[str, str]]]:
    async def read(ctx: Context, text: str) -> dict[str, str]:
        answer = understood(text.strip().lower().rstrip(".!"))  # "tak", "nee"…
        if answer not in YES | NO:
            raise Refused("Please answer {yes} or {no}.", yes=Words("yes"), no=Words("no"))
        return {"question": question, "answer": "yes" if answer in YES else "no"}

    return read


def _kinds(ctx: Context) -> str:
    return ", ".join(ctx.reader.say(organisations.kind_words(kind)) for kind in OrganisationKind)


def _steps(ctx: Context) -> list[Step]:
    questions = ctx.settings.membership.eligibility
    return [
        Step("organisation", lambda c: c.reader._("What is your organisation's name?"), _read_organisation),
        Step(
            "country",
            lambda c: c.reader._("In which country is it established? (ISO code such as DE, or the name)"),
            _read_country,
        ),
        Step("kind", lambda c: c.reader._("What kind of organisation is it? ({kinds})", kinds=_kinds(c)), _read_kind),
        Step("groups", _groups_question, _read_groups),
        Step(
            "contact", lambda c: c.reader._("Who is its contact person and representative? (full name)"), _read_contact
        ),
        Step("declaration", _declaration_question, _read_declaration),
        *(
            Step(
                f"eligibility_{n}",
                _eligibility_question(n, q, len(questions)),
                _read_yes_no(q),
            )
            for n, q in enumerate(questions)
        ),
    ]


def _eligibility_question(n: int, question: str, total: int) -> Callable[[Context], str]:
    return lambda ctx: ctx.reader._(
        "Eligibility {number}/{total}: {question} ({yes}/{no})",
        number=n + 1,
        total=total,
        question=question,
        yes=ctx.reader.choice("yes"),
        no=ctx.reader.choice("no"),
    )


def _groups_question(ctx: Context) -> str:
    return ctx.reader._(
        "Which working groups does it want to join? (comma-separated, e.g. pfas, skills; /wg list shows them)"
    )


def _declaration_question(ctx: Context) -> str:
    asked = ctx.reader._(
        "(version {version}) Do you accept this Declaration on behalf of your organisation? Answer '{accept}'.",
        version=_declaration_sha256(ctx)[:12],
        accept=ctx.reader._(ACCEPTED),
    )
    return f"{ctx.settings.membership.declaration_text().strip()}\n\n{asked}"


def _declaration_sha256(ctx: Context) -> str:
    return hashlib.sha256(ctx.settings.membership.declaration_text().encode()).hexdigest()


async def apply(ctx: Context, call: Call) -> Reply:
    """Start, resume or complete an application for membership."""
    if not ctx.incoming.is_direct:
        raise Refused("Apply in a private chat with me, so your answers stay between us.")
    if ctx.actor.represents_member:
        raise Refused(
            "You already represent {organisation}, a member organisation.", organisation=ctx.actor.organisation_name
        )
    dialog = await dialogs.current(ctx.session, ctx.incoming.platform, ctx.incoming.sender_id)
    answers = dict(dialog.answers) if dialog and dialog.kind == DIALOG else {}
    form = {key: value for key, option in FORM.items() if (value := call.get(option)) is not None}
    resumed = bool(answers) and not form
    for step in _steps(ctx):
        given = _from_form(step.key, form, ctx)
        if given is not None:
            answers[step.key] = await step.read(ctx, given)
    return await _next(ctx, answers, resumed=resumed)


def _from_form(key: str, options: dict[str, str], ctx: Context) -> str | None:
    """The one-line form's answer for a dialog step, if given."""
    if key == "organisation":
        return options.get("name")
    if key.startswith("eligibility_"):
        answers = [a.strip() for a in options.get("eligibility", "").split(",") if a.strip()]
        if not answers:
            return None
        if len(answers) != len(ctx.settings.membership.eligibility):
            raise Misread(
                n_words(
                    "eligibility= needs {count} answer ({yes} or {no}), one per criterion in order; "
                    "/apply without it asks them one by one.",
                    "eligibility= needs {count} answers ({yes} or {no}), one per criterion in order; "
                    "/apply without it asks them one by one.",
                    len(ctx.settings.membership.eligibility),
                    yes=Words("yes"),
                    no=Words("no"),
                )
            )
        return answers[int(key.split("_")[1])]
    return options.get(key)


async def continue_application(ctx: Context, text: str) -> Reply:
    """The next answer of the guided dialog."""
    dialog = await dialogs.current(ctx.session, ctx.incoming.platform, ctx.incoming.sender_id)
    if dialog is None:
        raise Refused("You have no application in progress; /apply starts one.")
    answers = dict(dialog.answers)
    step = next(s for s in _steps(ctx) if s.key not in answers)
    try:
        answers[step.key] = await step.read(ctx, text)
    except Refused as refusal:
        raise Refused("{refusal} {question}", refusal=refusal.words, question=step.question(ctx)) from None
    return await _next(ctx, answers)


async def _next(ctx: Context, answers: dict[str, Any], resumed: bool = False) -> Reply:
    """Ask the first unanswered question, or submit when everything is answered."""
    platform, user_id = ctx.incoming.platform, ctx.incoming.sender_id
    missing = [s for s in _steps(ctx) if s.key not in answers]
    if missing:
        first = not await dialogs.current(ctx.session, platform, user_id)
        await dialogs.save(ctx.session, platform, user_id, DIALOG, answers)
        asked = missing[0].question(ctx)
        if resumed:
            asked = ctx.reader._("Welcome back — let's continue. {question}", question=asked)
        if first or resumed:
            hint = ctx.reader._("(Answer each question in a message; /apply cancel stops, and /apply resumes later.)")
            asked = f"{asked}\n{hint}"
        return Reply(asked)
    questions = ctx.settings.membership.eligibility
    form = membership.ApplicationForm(
        organisation=answers["organisation"],
        country=answers["country"],
        kind=OrganisationKind(answers["kind"]),
        groups=tuple(answers["groups"]),
        contact=answers["contact"],
        eligibility=tuple(
            (answers[f"eligibility_{n}"]["question"], answers[f"eligibility_{n}"]["answer"])
            for n in range(len(questions))
        ),
        declaration_sha256=answers["declaration"]["sha256"],
        declaration_accepted_at=datetime.fromisoformat(answers["declaration"]["accepted_at"]),
    )
    application = await membership.submit(
        ctx.session, form, platform=platform, user_id=user_id, actor=ctx.actor.label, language=ctx.reader.code
    )
    await dialogs.end(ctx.session, platform, user_id)
    known = await membership.standing(ctx.session, application)
    secretariat = ctx.alliance_language
    news = secretariat._(
        "New membership application #{id}: {organisation} ({country}, {kind}).",
        id=application.id,
        organisation=application.organisation_name,
        country=application.country,
        kind=secretariat.say(organisations.kind_words(application.kind)),
    )
    await notices.to_secretariat(
        ctx.session,
        "\n".join(
            [
                news,
                *(secretariat.say(line) for line in known.describe()),
                secretariat._("The Commission decides with /approve or /reject."),
            ]
        ),
    )
    return Reply(
        ctx.reader._(
            "Thank you. Application #{id} for {organisation} is submitted ({country}, {kind}; groups: {groups}). "
            "The European Commission decides on membership; you will be told here.",
            id=application.id,
            organisation=application.organisation_name,
            country=application.country,
            kind=ctx.reader.say(organisations.kind_words(application.kind)),
            groups=", ".join(application.groups),
        )
    )


async def cancel(ctx: Context, call: Call) -> Reply:
    """Drop an application in progress."""
    if await dialogs.end(ctx.session, ctx.incoming.platform, ctx.incoming.sender_id):
        return Reply(ctx.lang._("Your application in progress is cancelled; nothing was submitted."))
    return Reply(ctx.lang._("You have no application in progress."))


async def show_declaration(ctx: Context, call: Call) -> Reply:
    """Show the Declaration applicants accept, with its version."""
    text = ctx.settings.membership.declaration_text().strip()
    return Reply(f"{text}\n\n" + ctx.lang._("(version {version})", version=_declaration_sha256(ctx)[:12]))


async def applications(ctx: Context, call: Call) -> Reply:
    """List pending applications, or show one in full."""
    wanted = call.get(SOME_APPLICATION)
    if wanted is not None:
        application = await membership.find_application(ctx.session, wanted)
        standing = await membership.standing(ctx.session, application)
        decider = await people.name_of(ctx.session, application.decided_by) if application.decided_by else ""
        return Reply(_in_full(ctx, application, standing, decider))
    pending = await membership.pending_applications(ctx.session)
    lang = ctx.lang
    if not pending:
        return Reply(lang._("No application is pending."))
    lines = [lang.n_("{count} pending application:", "{count} pending applications:", len(pending))]
    for a in pending:
        lines.append(
            lang._(
                "#{id} {organisation} ({country}, {kind}) → {groups}; contact {contact}; applied {when}",
                id=a.id,
                organisation=a.organisation_name,
                country=a.country,
                kind=lang.say(organisations.kind_words(a.kind)),
                groups=", ".join(a.groups),
                contact=a.contact_name,
                when=lang.moment(a.created_at, ctx.zone),
            )
        )
    lines.append(lang._("/applications <id> shows one in full; /approve <id> or /reject <id> <reason> decides."))
    return Reply("\n".join(lines))


def _in_full(ctx: Context, a: MembershipApplication, known: membership.Standing, decider: str) -> str:
    lang = ctx.lang
    lines = [
        lang._("Application #{id} — {status}", id=a.id, status=lang.say(state(a.status.value, of="application"))),
        lang._(
            "Organisation: {organisation} ({country}, {kind})",
            organisation=a.organisation_name,
            country=a.country,
            kind=lang.say(organisations.kind_words(a.kind)),
        ),
        *(lang.say(line) for line in known.describe()),
        lang._("Working groups: {groups}", groups=", ".join(a.groups)),
        lang._(
            "Contact: {contact} ({platform} {user})",
            contact=a.contact_name,
            platform=a.applicant_platform,
            user=a.applicant_user_id,
        ),
        lang._(
            "Declaration accepted {when}, version {version}",
            when=lang.moment(a.declaration_accepted_at, ctx.zone),
            version=a.declaration_sha256[:12],
        ),
        lang._("Eligibility:"),
        *(f"  {e['answer'].upper():3} {e['question']}" for e in a.eligibility),
        lang._("Applied {when}", when=lang.moment(a.created_at, ctx.zone)),
    ]
    if a.decided_at:
        decided = {"when": lang.moment(a.decided_at, ctx.zone), "who": decider}
        lines.append(
            lang._("Decided {when} by {who}: {reason}", reason=a.reason, **decided)
            if a.reason
            else lang._("Decided {when} by {who}", **decided)
        )
    return "\n".join(lines)


async def approve(ctx: Context, call: Call) -> Reply:
    """Approve an application: the organisation becomes a member."""
    application = await membership.approve(ctx.session, call[APPLICATION], ctx.actor, ctx.now, say=ctx.say)
    return Reply(
        ctx.lang._(
            "Approved #{id}: {organisation} is a member, in {groups}. The applicant and the groups' rooms are told.",
            id=application.id,
            organisation=application.organisation_name,
            groups=", ".join(application.groups),
        )
    )


async def reject(ctx: Context, call: Call) -> Reply:
    """Reject an application, with the reason the applicant is told."""
    application = await membership.reject(ctx.session, call[APPLICATION], ctx.actor, call[REASON], ctx.now, say=ctx.say)
    return Reply(
        ctx.lang._(
            "Rejected #{id} ({organisation}); the applicant is told why.",
            id=application.id,
            organisation=application.organisation_name,
        )
    )


COMMANDS = [
    Command(
        "apply",
        "apply for membership for your organisation (in a private chat)",
        apply,
        options=tuple(FORM.values()),
        anywhere=True,
        details=N_("Without options it asks one question at a time; answers given as options are not asked again."),
    ),
    Command("apply cancel", "drop your application in progress", cancel, anywhere=True),
    Command("declaration", "show the Declaration members accept", show_declaration, anywhere=True),
    Command(
        "applications",
        "list pending membership applications, or show one",
        applications,
        Access.COMMISSION,
        params=(SOME_APPLICATION,),
        anywhere=True,
    ),
    Command(
        "approve", "approve a membership application", approve, Access.COMMISSION, params=(APPLICATION,), anywhere=True
    ),
    Command(
        "reject",
        "reject a membership application, with the reason",
        reject,
        Access.COMMISSION,
        params=(APPLICATION, REASON),
        anywhere=True,
    ),
]

AREA = Area("membership", COMMANDS, conversations={DIALOG: continue_application}, title=N_("Membership"))
