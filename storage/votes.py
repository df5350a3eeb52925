"""Member-only votes: open, cast, close — one ballot per organisation, enforced by the database.

The electorate is frozen when the vote opens. A ballot is an upsert on the unique
(vote, organisation) pair, so two representatives of one organisation voting at the same
instant leave exactly one ballot; every cast is kept in the history. The deadline is checked
against the clock, so a ballot a second after it is refused even before the vote is closed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, String, bindparam, cast, delete, func, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import audit, ballot_record, checkpoints, deliverables, groups, mandates, notices
from storage.errors import RecordedRefusal, Refused
from storage.models import (
    AuditEntry,
    Ballot,
    BallotCast,
    ButtonPairs,
    ChatAccount,
    ElectorateMember,
    Mandate,
    Organisation,
    OrganisationStatus,
    Participation,
    Person,
    TransportState,
    UTCDateTime,
    Vote,
    VoteChase,
    VoteNudge,
    VoteStatus,
    WorkingGroup,
    table_of,
)
from storage.platforms import OPENED_BY_THE_PERSON, private_chat_key
from storage.rules import mandates as mandate_rules
from storage.rules.access import Actor, voting_right
from storage.rules.text import N_, OneOf, Say, Words, as_record, choice, in_english, quote, state
from storage.rules.voting import Majority, Outcome, decide, look_alikes, option_key

MAX_OPTIONS = 10  # Matrix shows choices as the reactions 1️⃣…🔟
OPTION_LIMIT = 60  # characters: a button's label


@dataclass(frozen=True)
class VoteRules:
    question: str
    options: tuple[str, ...]
    closes_at: datetime
    quorum: float
    majority: Majority
    secret: bool = False
    hidden: bool = False
    abstentions_count: bool = False
    action: dict[str, Any] | None = None  # what passing it does, e.g. {"create_group": {...}}


async def open_vote(
    session: AsyncSession, *, actor: Actor, group: WorkingGroup | None, rules: VoteRules, now: datetime
) -> Vote:
    question = " ".join(rules.question.split())
    if not question:
        raise Refused("A vote needs a question.")
    options = tuple(o.strip() for o in rules.options if option_key(o))
    same = look_alikes(options)
    if same:
        first, second = same[0]
        raise Refused(
            "The options {first} and {second} read as the same option; give each a different name.",
            first=quote(first),
            second=quote(second),
        )
    if len(options) < 2:
        raise Refused("A vote needs at least two different options.")
    if any(len(o) > OPTION_LIMIT for o in options):
        raise Refused(
            "An option is at most {OPTION_LIMIT} characters, so every platform can show it as a button.",
            OPTION_LIMIT=OPTION_LIMIT,
        )
    if len(options) > MAX_OPTIONS:
        raise Refused(
            "A vote offers at most {MAX_OPTIONS} options, so every platform can show each as a button.",
            MAX_OPTIONS=MAX_OPTIONS,
        )
    if rules.closes_at <= now:
        raise Refused("The deadline has to be in the future.")
    if not 0 <= rules.quorum <= 1:
        raise Refused("The quorum is a share of the electorate, from 0% to 100%.")
    electorate = await _electorate(session, group)
    if not electorate:
        where = group.name if group else "the alliance"
        raise Refused("{where} has no member organisation to vote.", where=where)
    vote = Vote(
        group_id=group.id if group else None,
        question=question,
        options=list(options),
        quorum=rules.quorum,
        majority=rules.majority.value,
        abstentions_count=rules.abstentions_count,
        secret=rules.secret,
        seal_key=ballot_record.new_seal_key() if rules.secret else None,
        hidden=rules.hidden or rules.secret,
        status=VoteStatus.OPEN,
        opened_by=actor.label,
        opener_person_id=actor.person_id,
        opened_at=now,
        closes_at=rules.closes_at,
        action=rules.action,
    )
    session.add(vote)
    await session.flush()
    session.add_all(ElectorateMember(vote_id=vote.id, organisation_id=i, organisation_name=n) for i, n in electorate)
    await audit.record(
        session,
        actor=actor.label,
        action="vote.opened",
        subject=f"vote:{vote.id}",
        details={
            "group": group.slug if group else None,
            "question": question,
            "options": list(options),
            "closes_at": rules.closes_at.isoformat(),
            "quorum": rules.quorum,
            "majority": rules.majority.value,
            "secret": vote.secret,
            "hidden": vote.hidden,
            "electorate": sorted(i for i, _ in electorate),
            "action": rules.action,
        },
    )
    return vote


async def _electorate(session: AsyncSession, group: WorkingGroup | None) -> list[tuple[int, str]]:
    query = select(Organisation.id, Organisation.name).where(Organisation.status == OrganisationStatus.MEMBER)
    if group is not None:
        query = query.join(Participation, Participation.organisation_id == Organisation.id).where(
            Participation.group_id == group.id
        )
    return list((await session.execute(query.order_by(Organisation.name_key))).tuples())


_NO_VOTE = N_("No vote '{id}'; /vote list shows them.")
_NO_LONGER = {
    VoteStatus.CLOSED: N_("Vote #{id} is closed; ballots are no longer taken."),
    VoteStatus.CANCELLED: N_("Vote #{id} is cancelled; ballots are no longer taken."),
    VoteStatus.HELD: N_("Vote #{id} is held; ballots are no longer taken."),
}


async def find_vote(session: AsyncSession, vote_id: int, *, lock: bool = False, share: bool = False) -> Vote:
    """By number. `lock` for changing the vote itself (closing); `share` for casting a ballot:
    casts proceed together, but a close waits for casts in flight and casts wait for a close,
    so no ballot can land after the tally was taken."""
    row_lock = {"read": True} if share else lock
    if lock:  # whoever locks a vote appends to the log: its turn first, as a cast takes it (no deadlock)
        await audit.take_turn(session)
    vote = await session.get(Vote, vote_id, with_for_update=row_lock, populate_existing=bool(row_lock))
    if vote is None:
        shell = f"no vote {vote_id}; `wgbot decisions export` lists the closed ones"
        raise Refused(_NO_VOTE, id=vote_id, shell=shell)
    return vote


@dataclass(frozen=True)
class Cast:
    vote_id: int
    organisation_name: str
    option: str
    replaced: tuple[str, str] | None  # (option, person name) of the ballot this one replaces
    replaced_secretly: bool = False  # it replaces a ballot of a secret vote, which names neither
    discreet: bool = False  # a secret or hidden vote: its receipt is for the voter only
    replaced_person_id: int | None = None  # who cast the ballot this one replaces (None: unknown or secret)
    mandate_id: int | None = None  # this ballot was cast by mandate, for `organisation_name`
    overrode_mandate: int | None = None  # the giver's own ballot replaced one cast by this mandate


# The ballot's hot path reads everything it checks in one statement: the vote, whether the
# organisation is in its electorate, and the ballot (and who cast it) that this one replaces.
_PREVIOUS = aliased(Person)
_BALLOT_CONTEXT = (
    select(
        Vote.status,
        Vote.closes_at,
        Vote.options,
        Vote.secret,
        Vote.hidden,
        Vote.seal_key,
        Vote.opened_at,
        ElectorateMember.organisation_name,
        Ballot.option,
        _PREVIOUS.name,
        Ballot.person_id,
        Ballot.mandate_id,
    )
    .outerjoin(
        ElectorateMember, (ElectorateMember.vote_id == Vote.id) & (ElectorateMember.organisation_id == bindparam("org"))
    )
    .outerjoin(Ballot, (Ballot.vote_id == Vote.id) & (Ballot.organisation_id == bindparam("org")))
    .outerjoin(_PREVIOUS, _PREVIOUS.id == Ballot.person_id)
    .where(Vote.id == bindparam("vote"))
)
# Casts proceed together, but a close waits for casts in flight and casts wait for a close,
# so no ballot can land after the tally was taken (SQLite's write lock already orders them).
_BALLOT_CONTEXT_SHARED = _BALLOT_CONTEXT.with_for_update(read=True, of=Vote)
_CAST_FIELDS = ("option", "person_id", "platform", "cast_at", "mandate_id")
_MANDATE_ENDED = select(Mandate.ended_at).where(Mandate.id == bindparam("id"))
_RECORD_CAST = insert(table_of(BallotCast))
# The upsert is SQL that SQLite and PostgreSQL both speak, so it is compiled once (a dialect's
# on_conflict insert has no cache key and would be compiled anew for every ballot).
_UPSERT = text(
    "INSERT INTO ballots (vote_id, organisation_id, option, person_id, platform, cast_at, mandate_id) "
    "VALUES (:vote_id, :organisation_id, :option, :person_id, :platform, :cast_at, :mandate_id) "
    "ON CONFLICT (vote_id, organisation_id) DO UPDATE SET "
    + ", ".join(f"{field} = excluded.{field}" for field in _CAST_FIELDS)
).bindparams(bindparam("cast_at", type_=UTCDateTime()))
# On PostgreSQL, where each statement is a round trip, the upsert and the cast's record are one.
_UPSERT_AND_RECORD_PG = text(
    f"WITH upserted AS ({_UPSERT.text} RETURNING 1) "
    "INSERT INTO ballot_casts (vote_id, organisation_id, option, person_id, platform, cast_at, mandate_id) "
    "VALUES (:vote_id, :organisation_id, :option, :person_id, :platform, :cast_at, :mandate_id)"
).bindparams(bindparam("cast_at", type_=UTCDateTime()))


async def cast_ballot(
    session: AsyncSession,
    vote_id: int,
    option: str,
    actor: Actor,
    now: datetime,
    aliases: Mapping[str, str] | None = None,
    by_mandate: mandates.ByMandate | None = None,
) -> Cast:
    """Cast or change the organisation's ballot: its upsert, the cast kept in the history and
    the audit line, in the caller's transaction. Plain statements run as one synchronous unit:
    every press of a vote button comes through here. `aliases` are other words for the bot's
    own choices (by `option_key`: "ja" → "yes"), taken where the vote has no option of that name.
    `by_mandate`: the ballot is the giver's, cast by the actor's organisation."""
    return await session.run_sync(
        lambda sync: _cast_on(sync.connection(), vote_id, option, actor, now, aliases or {}, by_mandate)
    )


def _cast_on(
    connection: Connection,
    vote_id: int,
    option: str,
    actor: Actor,
    now: datetime,
    aliases: Mapping[str, str],
    by_mandate: mandates.ByMandate | None = None,
) -> Cast:
    postgres = connection.dialect.name == "postgresql"
    # On PostgreSQL, two representatives of one organisation casting at the same instant from two
    # processes would each read "no ballot yet" (READ COMMITTED) and each be told they replaced
    # nothing. A cast appends to the audit log, whose appenders take turns until they commit: the
    # cast takes its turn before it reads, so the second reads what the first committed and each
    # receipt says what the database holds. (SQLite's BEGIN IMMEDIATE orders them already.)
    audit.take_turn_on(connection)
    query = _BALLOT_CONTEXT_SHARED if postgres else _BALLOT_CONTEXT
    ballot_of = by_mandate.giver_id if by_mandate else actor.organisation_id
    found = connection.execute(query, {"vote": vote_id, "org": ballot_of}).first()
    if found is None:
        raise Refused(_NO_VOTE, id=vote_id)
    (
        status,
        closes_at,
        options,
        secret,
        hidden,
        seal_key,
        opened_at,
        organisation_name,
        previous,
        previous_by,
        previous_person,
        previous_mandate,
    ) = found
    if status != VoteStatus.OPEN:
        raise Refused(_NO_LONGER[status], id=vote_id)
    if now >= closes_at:
        raise Refused("Vote #{id} closed at its deadline; ballots are no longer taken.", id=vote_id)
    refusal = voting_right(actor)
    if refusal:
        raise Refused("You cannot vote: {reason}.", reason=refusal)
    if organisation_name is None:
        raise Refused(
            "{organisation} is not in the electorate of vote #{id}.",
            organisation=by_mandate.giver_name if by_mandate else actor.organisation_name,
            id=vote_id,
        )
    if by_mandate:  # read under the turn: a revocation or the giver's own ballot that just came counts
        if previous is not None and previous_mandate is None:
            raise Refused(mandate_rules.refusal_to_cast_words(by_mandate.giver_name))
        if connection.execute(_MANDATE_ENDED, {"id": by_mandate.mandate_id}).scalar() is not None:
            raise Refused("You hold no mandate from {giver} for this vote.", giver=by_mandate.giver_name)
    key = option_key(option)
    chosen = next((o for o in options if option_key(o) == key), None)
    if chosen is None and aliases.get(key) in options:
        chosen = aliases[key]
    if chosen is None:
        raise Refused(
            "{option} is not an option of vote #{id}: {options}.",
            option=quote(option),
            id=vote_id,
            options=OneOf(tuple(choice(o) for o in options)),
        )
    assert ballot_of is not None  # voting_right said so
    values = dict(
        vote_id=vote_id,
        organisation_id=ballot_of,
        option=chosen,
        # A secret ballot keeps no trace of who cast it, from where, or when.
        person_id=None if secret else actor.person_id,
        platform=None if secret else actor.platform,
        cast_at=opened_at if secret else now,
        mandate_id=by_mandate.mandate_id if by_mandate else None,
    )
    if secret:  # the history of casts, by whom: never for a secret vote
        connection.execute(_UPSERT, values)
    elif postgres:
        connection.execute(_UPSERT_AND_RECORD_PG, values)
    else:
        connection.execute(_UPSERT, values)
        connection.execute(_RECORD_CAST, values)
    audit.append_on(
        connection,
        turn_taken=True,
        actor=actor.label,
        action="ballot.cast",
        subject=f"vote:{vote_id}",
        details=ballot_record.cast_details(seal_key, ballot_of, chosen, by_mandate.mandate_id if by_mandate else None),
    )
    mandate_id = by_mandate.mandate_id if by_mandate else None
    overrode = None if by_mandate else previous_mandate  # the giver's own ballot wins: its holder is told
    if secret:
        return Cast(
            vote_id,
            organisation_name,
            chosen,
            None,
            replaced_secretly=previous is not None,
            discreet=True,
            mandate_id=mandate_id,
            overrode_mandate=overrode,
        )
    replaced = (previous, previous_by) if previous is not None else None
    return Cast(
        vote_id,
        organisation_name,
        chosen,
        replaced,
        discreet=hidden,
        replaced_person_id=previous_person,
        mandate_id=mandate_id,
        overrode_mandate=overrode,
    )


async def electorate_size(session: AsyncSession, vote: Vote) -> int:
    counted = await session.scalar(
        select(func.count()).select_from(ElectorateMember).where(ElectorateMember.vote_id == vote.id)
    )
    return counted or 0


def receipt_topic(vote_id: int) -> str:
    """Private receipts of a vote's ballots: those of a secret vote are deleted when it closes."""
    return f"receipt:{vote_id}"


class BallotsDisagree(RecordedRefusal):
    """The ballots of a vote differ from its audited casts: it is held, not closed."""


async def outcome(session: AsyncSession, vote: Vote) -> Outcome:
    """How the vote stands: counted from its ballots while open, as recorded once closed (a
    secret vote keeps only its totals)."""
    if vote.status == VoteStatus.CLOSED and vote.result:
        return _recorded(vote, vote.result)
    counted = await session.execute(
        select(Ballot.option, func.count(), func.count(Ballot.mandate_id))
        .where(Ballot.vote_id == vote.id)
        .group_by(Ballot.option)
    )
    rows = counted.tuples().all()
    ballots = {option: int(n) for option, n, _ in rows}
    electorate = await electorate_size(session, vote)
    decided_now = decide(
        vote.options, ballots, electorate, vote.quorum, Majority(vote.majority), vote.abstentions_count
    )
    return dataclasses.replace(decided_now, by_mandate=sum(int(m) for _, _, m in rows))


def _recorded(vote: Vote, result: dict[str, Any]) -> Outcome:
    tally: dict[str, int] = result["tally"]
    counted = sum(n for o, n in tally.items() if vote.abstentions_count or o != "abstain")
    return Outcome(
        result["electorate"],
        result["turnout"],
        result["quorum_needed"],
        tally,
        counted,
        result["winner"],
        result["passed"],
        result.get("by_mandate", 0),
    )


async def close_vote(
    session: AsyncSession, vote_id: int, *, by: str, now: datetime, say: Say = in_english
) -> tuple[Vote, Outcome] | None:
    """Close a vote and record its result, once; None if it was no longer open. Its ballots
    are checked against its audited casts first: if they differ, the vote is held instead and
    the secretariat is told (BallotsDisagree), in the alliance's language as `say` says it."""
    vote = await find_vote(session, vote_id, lock=True)
    if vote.status != VoteStatus.OPEN:
        return None
    problems = await ballot_record.disagreements(session, vote)
    if problems:
        await _hold(session, vote, problems, by, now, say)
    result = await outcome(session, vote)
    vote.status, vote.closed_at = VoteStatus.CLOSED, now
    vote.result = {
        "electorate": result.electorate,
        "turnout": result.turnout,
        "quorum_needed": result.quorum_needed,
        "quorum_met": result.quorum_met,
        "tally": result.tally,
        "winner": result.winner,
        "passed": result.passed,
        "by_mandate": result.by_mandate,
    }
    await audit.record(session, actor=by, action="vote.closed", subject=f"vote:{vote.id}", details=vote.result)
    await mandates.end_for_vote(session, vote.id, now, actor=by)
    if vote.secret:  # only the totals outlive a secret vote: no ballot, no key, no receipt
        await session.execute(delete(Ballot).where(Ballot.vote_id == vote.id))
        await notices.erase(session, receipt_topic(vote.id), "a secret ballot's receipt, erased when its vote closed")
        vote.seal_key = None
    if result.passed and vote.action:
        await _carry_out(session, vote, vote.action, now, say)
    await checkpoints.publish(session, Words("vote #{id} closed", {"id": vote.id}), say)
    return vote, result


async def _hold(session: AsyncSession, vote: Vote, problems: list[str], by: str, now: datetime, say: Say) -> None:
    vote.status = VoteStatus.HELD
    await audit.record(
        session, actor=by, action="vote.held", subject=f"vote:{vote.id}", details={"problems": problems}, at=now
    )
    # TRANSLATORS: {problems} are the audit check's own findings, in English, for the record.
    held = Words(
        "Vote #{id} ({question}) was NOT closed: its ballots disagree with the audit log — {problems}. It is "
        "held and nothing was announced; `wgbot audit verify` shows the record.",
        {"id": vote.id, "question": vote.question, "problems": "; ".join(problems)},
    )
    await notices.to_secretariat(session, say(held, None))
    raise BallotsDisagree(
        f"Vote #{vote.id} was not closed: its ballots disagree with the audit log. It is held, and the "
        "secretariat is told."
    )


async def _carry_out(session: AsyncSession, vote: Vote, action: dict[str, Any], now: datetime, say: Say) -> None:
    """Do what the passed vote decided, in the transaction that closes it."""
    approval = action.get("approve_version")
    if approval is not None:
        done = await deliverables.approve(
            session,
            approval["deliverable"],
            approval["version"],
            approval["sha256"],
            by=f"vote:{vote.id}",
            now=now,
        )
        _did(vote, done)
        return
    proposal = action.get("create_group")
    if proposal is None:
        return
    try:
        async with session.begin_nested():
            group = await groups.add_group(
                session, actor=f"vote:{vote.id}", name=proposal["name"], mandate=proposal.get("mandate", "")
            )
    except Refused as refusal:  # e.g. a group of that name was created meanwhile
        _did(vote, Words("not carried out: {refusal}", {"refusal": refusal.words}))
        failed = Words(
            "Vote #{id} passed, but its group was not created: {refusal}", {"id": vote.id, "refusal": refusal.words}
        )
        await notices.to_secretariat(session, say(failed, None))
        return
    _did(vote, Words("created working group {slug}", {"slug": group.slug}))
    created = Words(
        "Vote #{id} created the working group {name} ({slug}). Please bind its rooms: send /room bind {slug} in "
        "each (the alliance's Matrix Space, once set up, gets its room by itself).",
        {"id": vote.id, "name": group.name, "slug": group.slug},
    )
    await notices.to_secretariat(session, say(created, None))


def _did(vote: Vote, done: Words) -> None:
    """What the vote's action did, kept with its result: in English for the record, and as words
    each room and reader is told in their language (handlers/votes/wording.consequence)."""
    vote.result = {**(vote.result or {}), "action": str(done), "action_words": as_record(done)}


async def non_voters(session: AsyncSession, vote: Vote) -> list[tuple[int, str]]:
    """Electorate organisations without a ballot yet: (id, name)."""
    voted = select(Ballot.organisation_id).where(Ballot.vote_id == vote.id)
    return list(
        (
            await session.execute(
                select(ElectorateMember.organisation_id, ElectorateMember.organisation_name).where(
                    ElectorateMember.vote_id == vote.id, ElectorateMember.organisation_id.not_in(voted)
                )
            )
        ).tuples()
    )


# A message about the vote for one reader: given their zone and language (None where they set none).
Wording = Callable[[Vote, str | None, str | None], str]

CHASE_EVERY = timedelta(hours=12)  # an organisation is reminded by hand at most this often


@dataclass(frozen=True)
class Representative:
    """Someone who could vote for an organisation, and whether a private message reaches them."""

    name: str
    reachable: bool  # a private message goes out now, on one of their accounts at least
    must_open: bool  # else one waits until they open a private chat (Telegram: they press Start)


@dataclass(frozen=True)
class Waiting:
    """An organisation of the electorate that has not voted, and who could vote for it."""

    organisation_id: int
    organisation: str
    representatives: list[Representative]

    @property
    def reachable(self) -> bool:
        return any(r.reachable for r in self.representatives)

    @property
    def waiting(self) -> bool:
        """Reachable once a representative opens a private chat, not before."""
        return not self.reachable and any(r.must_open for r in self.representatives)


async def waiting(session: AsyncSession, vote: Vote) -> list[Waiting]:
    """The organisations that have not voted yet, by name, with their representatives and how
    each can be reached privately. Turnout is not the ballot: this holds for secret votes too."""
    missing = await non_voters(session, vote)
    opened = (TransportState.platform == ChatAccount.platform) & (
        TransportState.key == literal(private_chat_key("")) + ChatAccount.platform_user_id
    )
    accounts = (
        await session.execute(
            select(Person.id, Person.organisation_id, Person.name, ChatAccount.platform, TransportState.key)
            .outerjoin(ChatAccount, ChatAccount.person_id == Person.id)
            .outerjoin(TransportState, opened)
            .where(Person.organisation_id.in_([org_id for org_id, _ in missing]))
            .order_by(Person.name, Person.id)
        )
    ).tuples()
    people: dict[int, tuple[int, str, list[tuple[str | None, bool]]]] = {}
    for person_id, org_id, name, platform, chat in accounts:
        if org_id is not None:  # the query asked for these organisations only
            people.setdefault(person_id, (org_id, name, []))[2].append((platform, chat is not None))
    by_organisation: dict[int, list[Representative]] = {}
    for org_id, name, held in people.values():
        reachable = any(p is not None and (p not in OPENED_BY_THE_PERSON or chat) for p, chat in held)
        must_open = any(p in OPENED_BY_THE_PERSON and not chat for p, chat in held)
        by_organisation.setdefault(org_id, []).append(Representative(name, reachable, must_open))
    return sorted(
        (Waiting(org_id, org_name, by_organisation.get(org_id, [])) for org_id, org_name in missing),
        key=lambda w: w.organisation.casefold(),
    )


@dataclass(frozen=True)
class Chase:
    """What `/vote remind` did, organisation by organisation."""

    reminded: list[str]  # organisations whose representatives were sent a reminder now
    messages: int  # how many private messages that took
    recently: list[tuple[str, datetime]]  # reminded within CHASE_EVERY: (organisation, when)
    unreachable: list[str]  # no representative on any chat platform
    # Reminded, but it waits until a representative opens a private chat: (organisation, names)
    held: list[tuple[str, list[str]]] = field(default_factory=list)


async def chase(session: AsyncSession, vote_id: int, *, actor: Actor, now: datetime, wording: Wording) -> Chase:
    """Remind, privately and now, the representatives of every organisation that has not voted,
    each organisation at most once per CHASE_EVERY (also when two people ask at once: the vote
    is locked while the reminders are counted)."""
    vote = await find_vote(session, vote_id, lock=True)
    if vote.status != VoteStatus.OPEN or now >= vote.closes_at:
        raise Refused("Vote #{id} is no longer open; there is no one to remind.", id=vote.id)
    last = dict(
        (
            await session.execute(
                select(VoteChase.organisation_id, VoteChase.sent_at).where(VoteChase.vote_id == vote.id)
            )
        )
        .tuples()
        .all()
    )
    reminded, recently, unreachable, messages = [], [], [], 0
    held: list[tuple[str, list[str]]] = []
    for organisation in await waiting(session, vote):
        before = last.get(organisation.organisation_id)
        if before is not None and now - before < CHASE_EVERY:
            recently.append((organisation.organisation, before))
        elif not (organisation.reachable or organisation.waiting):
            unreachable.append(organisation.organisation)
        else:
            messages += await notices.to_representatives(
                session, organisation.organisation_id, lambda zone, language: wording(vote, zone, language)
            )
            await session.merge(VoteChase(vote_id=vote.id, organisation_id=organisation.organisation_id, sent_at=now))
            if organisation.reachable:
                reminded.append(organisation.organisation)
            else:
                names = [r.name for r in organisation.representatives if r.must_open]
                held.append((organisation.organisation, names))
    await audit.record(
        session,
        actor=actor.label,
        action="vote.reminded",
        subject=f"vote:{vote.id}",
        details={
            "organisations": reminded,
            "waiting_for_a_private_chat": [name for name, _ in held],
            "messages": messages,
            "recently": len(recently),
            "unreachable": unreachable,
        },
        at=now,
    )
    return Chase(reminded, messages, recently, unreachable, held)


async def _remind(session: AsyncSession, vote: Vote, wording: Wording) -> int:
    """Tell the representatives of every organisation that has not voted; returns how many."""
    return sum(
        [
            await notices.to_representatives(session, org_id, lambda zone, language: wording(vote, zone, language))
            for org_id, _ in await non_voters(session, vote)
        ]
    )


async def settle_at_deadline(
    session: AsyncSession,
    vote_id: int,
    *,
    now: datetime,
    extend_on_failed_quorum: bool,
    extend_by: timedelta,
    extension_notice: Wording,
    say: Say = in_english,
) -> tuple[str, Vote, Outcome] | None:
    """At the deadline: close the vote, or extend it once when its quorum was not met (if the
    alliance's rule says so), telling the organisations that have not voted. None when the vote
    is no longer open."""
    vote = await find_vote(session, vote_id, lock=True)
    if vote.status != VoteStatus.OPEN or now < vote.closes_at:
        return None
    result = await outcome(session, vote)
    if result.quorum_met or not extend_on_failed_quorum or vote.extended:
        closed = await close_vote(session, vote_id, by="deadline", now=now, say=say)
        return None if closed is None else ("closed", *closed)
    vote.closes_at, vote.extended = vote.closes_at + extend_by, True
    await audit.record(
        session,
        actor="deadline",
        action="vote.extended",
        subject=f"vote:{vote.id}",
        details={
            "closes_at": vote.closes_at.isoformat(),
            "turnout": result.turnout,
            "quorum_needed": result.quorum_needed,
        },
    )
    await _remind(session, vote, extension_notice)
    return ("extended", vote, result)


async def nudge(
    session: AsyncSession, vote_id: int, hours_before: float, now: datetime, reminder: Wording
) -> int | None:
    """Remind non-voters once for this offset; None when already done or no longer relevant."""
    vote = await find_vote(session, vote_id, lock=True)
    if vote.status != VoteStatus.OPEN or now >= vote.closes_at:
        return None
    if await session.get(VoteNudge, (vote.id, hours_before)) is not None:
        return None
    session.add(VoteNudge(vote_id=vote.id, hours_before=hours_before, sent_at=now))
    told = await _remind(session, vote, reminder)
    await audit.record(
        session,
        actor="deadline",
        action="vote.nudged",
        subject=f"vote:{vote.id}",
        details={"hours_before": hours_before, "messages": told},
    )
    return told


async def cancel_vote(session: AsyncSession, vote_id: int, *, actor: Actor, now: datetime) -> Vote:
    vote = await find_vote(session, vote_id, lock=True)
    if vote.status != VoteStatus.OPEN:
        raise Refused("Vote #{id} is already {value}.", id=vote.id, value=state(vote.status.value, of="vote"))
    vote.status, vote.closed_at = VoteStatus.CANCELLED, now
    await audit.record(session, actor=actor.label, action="vote.cancelled", subject=f"vote:{vote.id}")
    await mandates.end_for_vote(session, vote.id, now, actor=actor.label)
    return vote


@dataclass(frozen=True)
class Schedule:
    vote_id: int
    opened_at: datetime
    closes_at: datetime
    nudged: frozenset[float]  # the offsets already reminded


async def open_schedules(session: AsyncSession, ids: Collection[int] | None = None) -> list[Schedule]:
    """The deadlines and reminders still to come: of every open vote, or of those of `ids`."""
    query = select(Vote.id, Vote.opened_at, Vote.closes_at).where(Vote.status == VoteStatus.OPEN)
    nudges = select(VoteNudge.vote_id, VoteNudge.hours_before)
    if ids is not None:
        query, nudges = query.where(Vote.id.in_(ids)), nudges.where(VoteNudge.vote_id.in_(ids))
    rows = (await session.execute(query)).all()
    sent = (await session.execute(nudges)).tuples()
    done: dict[int, set[float]] = {}
    for vote_id, hours in sent:
        done.setdefault(vote_id, set()).add(hours)
    return [Schedule(i, o, c, frozenset(done.get(i, ()))) for i, o, c in rows]


async def list_votes(session: AsyncSession, group: WorkingGroup | None, limit: int = 20) -> list[Vote]:
    query = select(Vote).order_by(Vote.id.desc()).limit(limit)
    if group is not None:
        query = query.where(Vote.group_id == group.id)
    return list(await session.scalars(query))


async def announce_to_group(
    session: AsyncSession,
    vote: Vote,
    text: str | notices.Worded,
    buttons: ButtonPairs | notices.WordedButtons | None = None,
    topic: str | None = None,
) -> None:
    """To every room of the vote's group (or, alliance-wide, to every bound room). A secret or
    hidden vote's buttons are offered only where pressing one stays private."""
    private = vote.secret or vote.hidden
    if vote.group_id is not None:
        await notices.to_group(session, vote.group_id, text, buttons=buttons, topic=topic, private_buttons=private)
    else:
        await notices.to_every_room(session, text, buttons=buttons, topic=topic, private_buttons=private)


async def export_record(session: AsyncSession, vote_id: int) -> dict[str, Any]:
    """Everything a reviewer needs to check a vote: its rules, electorate, ballots (never for a
    secret vote), result, and the hashes of its audit entries to verify against the chain."""
    vote = await find_vote(session, vote_id)
    electorate = (
        (
            await session.execute(
                select(ElectorateMember.organisation_id, ElectorateMember.organisation_name)
                .where(ElectorateMember.vote_id == vote.id)
                .order_by(ElectorateMember.organisation_name)
            )
        )
        .tuples()
        .all()
    )
    record: dict[str, Any] = {
        "vote": {
            "id": vote.id,
            "question": vote.question,
            "options": vote.options,
            "group": await session.scalar(select(WorkingGroup.slug).where(WorkingGroup.id == vote.group_id)),
            "quorum": vote.quorum,
            "majority": vote.majority,
            "abstentions_count": vote.abstentions_count,
            "secret": vote.secret,
            "hidden": vote.hidden,
            "status": vote.status.value,
            "opened_by": vote.opened_by,
            "opened_at": vote.opened_at.isoformat(),
            "closes_at": vote.closes_at.isoformat(),
            "extended": vote.extended,
            "closed_at": vote.closed_at.isoformat() if vote.closed_at else None,
        },
        "electorate": [{"organisation_id": i, "organisation": n} for i, n in electorate],
        "result": vote.result,
    }
    if not vote.secret:
        casts = (
            (
                await session.execute(
                    select(BallotCast, Person.name)
                    .join(Person, Person.id == BallotCast.person_id)
                    .where(BallotCast.vote_id == vote.id)
                    .order_by(BallotCast.id)
                )
            )
            .tuples()
            .all()
        )
        counted_rows = await session.execute(
            select(Ballot.organisation_id, Ballot.option).where(Ballot.vote_id == vote.id)
        )
        counted = dict(counted_rows.tuples().all())
        record["ballots"] = [{"organisation_id": o, "option": v} for o, v in sorted(counted.items())]
        record["casts"] = [
            {
                "organisation_id": cast.organisation_id,
                "option": cast.option,
                "cast_by": name,
                "platform": cast.platform,
                "cast_at": cast.cast_at.isoformat(),
                "mandate_id": cast.mandate_id,
            }
            for cast, name in casts
        ]
    if not vote.secret:  # both sides of the check the close makes: the ballots, and the audited casts
        audited = await ballot_record.audited(session, vote.id)
        record["audited_casts"] = [{"organisation_id": o, "option": v} for o, v in sorted(audited.items())]
    record["disagreements"] = await ballot_record.disagreements(session, vote) if not vote.secret else []
    record["mandates"] = await mandates.of_vote(session, vote.id)
    entries = await session.scalars(
        select(AuditEntry).where(AuditEntry.subject == f"vote:{vote.id}").order_by(AuditEntry.id)
    )
    record["audit"] = [{"entry": e.id, "action": e.action, "at": e.at.isoformat(), "hash": e.hash} for e in entries]
    return record


@dataclass(frozen=True)
class Decided:
    """A closed vote as the register of decisions lists it."""

    vote: Vote
    group: str | None  # the working group's name; None: an alliance-wide vote
    audit_hash: str | None  # of its "vote.closed" entry, to check against `wgbot audit verify`


async def decided(
    session: AsyncSession, *, group_id: int | None = None, alliance_wide: bool = False, year: int | None = None
) -> list[Decided]:
    """Every closed vote, newest first: of one group, or only the alliance-wide ones, or all;
    of one year (by its close, in UTC) or of every year."""
    closed_entry = (AuditEntry.action == "vote.closed") & (AuditEntry.subject == "vote:" + cast(Vote.id, String))
    query = (
        select(Vote, WorkingGroup.name, AuditEntry.hash)
        .outerjoin(WorkingGroup, WorkingGroup.id == Vote.group_id)
        .outerjoin(AuditEntry, closed_entry)
        .where(Vote.status == VoteStatus.CLOSED)
        .order_by(Vote.closed_at.desc(), Vote.id.desc())
    )
    if group_id is not None:
        query = query.where(Vote.group_id == group_id)
    elif alliance_wide:
        query = query.where(Vote.group_id.is_(None))
    if year is not None:
        start = datetime(year, 1, 1, tzinfo=UTC)
        query = query.where(Vote.closed_at >= start, Vote.closed_at < start.replace(year=year + 1))
    return [Decided(vote, group, digest) for vote, group, digest in (await session.execute(query)).tuples()]
