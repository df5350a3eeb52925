"""The append-only, hash-chained audit log of governance acts.

Each row's hash covers its content and the previous row's hash, so changing or deleting any row
breaks every link after it, and `verify` names the first broken one. Rows are appended inside
the transaction of the act they record: the act and its audit line commit together or not at
all.

Personal data never enters the hashed payload. An actor is named by reference ("person:12 via
telegram"), and a name or an account an entry must hold is passed as `Personal`: it is kept in
`audit_personal` and the entry holds its token, "personal:" and a salted digest. Erasing a person
deletes those rows; the chain, which hashed the token, still verifies.

Entries written before that (migration 0019) hashed names as they were. The migration swapped
them for tokens and sealed each such entry: `sealed` is the hash of its content as kept now, and
the migration's own entry, "audit.reformatted", records a digest of every seal in order. While
the personal data is there, `verify` puts it back and checks the entry's original hash, so every
checkpoint posted before still holds; once it is erased, the seal vouches for the entry, and the
chain after the migration vouches for the seals.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import JSON, Connection, String, Text, bindparam, cast, insert, select, text, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, AuditPersonal, table_of, utcnow
from storage.rules.text import counted

GENESIS_HASH = "0" * 64
_LAST_HASH = select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
# One entry's insert, by dialect: the details go in as their canonical text itself (JSON on
# PostgreSQL keeps its input as given), which `verify` hashes as it reads it.
_DETAILS_TEXT = type_coerce(bindparam("details"), Text)
APPEND = {
    "sqlite": insert(table_of(AuditEntry)).values(details=_DETAILS_TEXT),
    "postgresql": insert(table_of(AuditEntry)).values(details=cast(_DETAILS_TEXT, JSON)),
}
# Any fixed number: the key of the PostgreSQL advisory lock that serialises appends.
_APPEND_LOCK = text(f"SELECT pg_advisory_xact_lock({0x77676F74})")
_KEEP_APART = insert(table_of(AuditPersonal))
TOKEN = re.compile(r"personal:[0-9a-f]{32}")
REFORMATTED = "audit.reformatted"


@dataclass(frozen=True)
class Personal:
    """Personal data an entry names (a name, a chat account): kept apart, the entry holds its
    token. `person_id` or `account` ("telegram:12345") says whose it is, for erasure."""

    value: str
    person_id: int | None = None
    account: str | None = None


def token_of(salt: str, value: str) -> str:
    return "personal:" + hashlib.sha256(f"{salt}{value}".encode()).hexdigest()[:32]


class _KeptApart:
    """The personal data of one entry, swapped for tokens as the entry is written."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def swap(self, value: Any) -> Any:
        if isinstance(value, Personal):
            salt = secrets.token_hex(16)
            token = token_of(salt, value.value)
            self.rows.append(
                {
                    "token": token,
                    "value": value.value,
                    "salt": salt,
                    "person_id": value.person_id,
                    "account": value.account,
                }
            )
            return token
        if isinstance(value, Mapping):
            return {key: self.swap(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.swap(item) for item in value]
        return value


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, subject: str, details: dict[str, Any]) -> str:
    """SHA-256 of the entry's canonical JSON: {"action", "actor", "at", "details", "prev",
    "subject"}, keys sorted, no spaces, UTF-8 (`canonical`)."""
    return _hash_of(prev_hash, at.isoformat(timespec="microseconds"), actor, action, subject, canonical(details))


def _hash_of(prev_hash: str, at: str, actor: str, action: str, subject: str, details_json: str) -> str:
    """`entry_hash` with the time in ISO 8601 and the details in canonical JSON, as the database
    keeps them: the payload is put together as `canonical` would write it, nothing parsed."""
    payload = (
        f'{{"action":{_string(action)},"actor":{_string(actor)},"at":"{at}","details":{details_json},'
        f'"prev":{_string(prev_hash)},"subject":{_string(subject)}}}'
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def canonical(value: Any) -> str:
    """JSON with sorted keys, no spaces and text as itself: one spelling for one value. An
    entry's details are stored so, so that read back as text they are exactly what its hash
    covers, and `verify` need not parse them."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# A JSON string as `canonical` writes it (ensure_ascii=False escapes only what JSON must).
_string = encode_basestring


async def record(
    session: AsyncSession,
    *,
    actor: str | Personal,
    action: str,
    subject: str | Personal,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one act to the log, in the caller's transaction."""
    return await session.run_sync(
        lambda sync: append_on(sync.connection(), actor=actor, action=action, subject=subject, details=details, at=at)
    )


async def take_turn(session: AsyncSession) -> None:
    """Wait for this transaction's turn to append (see `take_turn_on`)."""
    await session.run_sync(lambda sync: take_turn_on(sync.connection()))


def take_turn_on(connection: Connection) -> None:
    """On PostgreSQL, wait until no other transaction may append to the log before this one
    commits. Appending takes the turn anyway; a transaction takes it earlier when what it reads
    must not change before it appends (a ballot's previous ballot), and whoever takes it takes
    it before any row lock, so two never wait for each other. SQLite's write lock is the turn."""
    if connection.dialect.name == "postgresql":
        connection.execute(_APPEND_LOCK)


def append_on(
    connection: Connection,
    *,
    actor: str | Personal,
    action: str,
    subject: str | Personal,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
    turn_taken: bool = False,
) -> AuditEntry:
    """`record` on a synchronous connection, for a hot path that runs its statements as one unit
    (`turn_taken`: it took its turn already, which saves PostgreSQL a round trip)."""
    if not turn_taken:  # concurrent appenders wait here rather than fail on the unique prev_hash
        take_turn_on(connection)
    prev_hash = connection.scalar(_LAST_HASH) or GENESIS_HASH
    at = at or utcnow()
    apart = _KeptApart()
    named, about, details = apart.swap(actor), apart.swap(subject), apart.swap(details or {})
    if apart.rows:
        connection.execute(_KEEP_APART, apart.rows)
    details_json = canonical(details)
    digest = _hash_of(prev_hash, at.isoformat(timespec="microseconds"), named, action, about, details_json)
    row = dict(at=at, actor=named, action=action, subject=about, prev_hash=prev_hash, hash=digest)
    # A plain insert, not a unit of work: the log is written on every ballot, and this is its
    # hot path. The statement is built once.
    inserted = connection.execute(APPEND[connection.dialect.name], row | {"details": details_json})
    (entry_id,) = inserted.inserted_primary_key or (None,)
    return AuditEntry(id=entry_id, details=details, **row)


@dataclass(frozen=True)
class ChainReport:
    rows: int
    broken_at: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None

    def describe(self) -> str:
        if self.intact:
            return f"audit log intact: {counted(self.rows, 'entry', 'entries')}, every link verified"
        return f"audit log broken at entry {self.broken_at}: {self.problem}"


async def verify(session: AsyncSession) -> ChainReport:
    """Walk the chain from the first row and report the first link that does not hold.

    Plain rows, read in batches by id in one synchronous unit: the log grows with every ballot,
    and loading it as ORM objects one await at a time cost ten times the hashing itself."""
    return await session.run_sync(lambda sync: _verify_on(sync.connection()))


_VERIFY_BATCH = 5000
_CHAIN = (
    select(
        AuditEntry.id,
        type_coerce(AuditEntry.at, String),  # as stored (see _iso)
        AuditEntry.actor,
        AuditEntry.action,
        AuditEntry.subject,
        cast(AuditEntry.details, Text),  # as stored: hashed without being parsed
        AuditEntry.prev_hash,
        AuditEntry.hash,
        AuditEntry.sealed,
    )
    .where(AuditEntry.id > bindparam("after"))
    .order_by(AuditEntry.id)
    .limit(_VERIFY_BATCH)
)
_KEPT = select(AuditPersonal.token, AuditPersonal.value, AuditPersonal.salt)


def _iso(stored: str | datetime) -> str:
    """The entry's time as its hash has it (ISO 8601, microseconds, UTC). SQLite keeps it as
    "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, rewritten here without parsing; PostgreSQL's driver
    gives an aware datetime."""
    if isinstance(stored, str):
        return f"{stored[:10]}T{stored[11:26]}+00:00"
    return stored.astimezone(UTC).isoformat(timespec="microseconds")


def _holds(prev: str, iso: str, actor: str, action: str, subject: str, details: str, digest: str) -> bool:
    return _hash_of(prev, iso, actor, action, subject, details) == digest or (
        # Written before details were stored canonically (or changed): parsed, then judged.
        _hash_of(prev, iso, actor, action, subject, canonical(json.loads(details))) == digest
    )


def reveal(text: str, kept: Mapping[str, str], *, in_json: bool = False) -> str:
    """`text` with each token whose personal data is kept put back (as a JSON string's content
    when `in_json`); an erased one stays a token."""

    def value(found: re.Match[str]) -> str:
        token = found.group()
        if token not in kept:
            return token
        return _string(kept[token])[1:-1] if in_json else kept[token]

    return TOKEN.sub(value, text) if "personal:" in text else text


class _Seals:
    """The seals of the entries migration 0019 reformatted, checked against its own entry."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.count = 0
        self.first: int | None = None
        self.closed = False

    def add(self, entry_id: int, sealed: str) -> None:
        self.digest.update(sealed.encode())
        self.count += 1
        self.first = self.first or entry_id

    def match(self, details: str) -> bool:
        recorded: dict[str, object] = json.loads(details)
        self.closed = True
        return recorded.get("sealed") == self.digest.hexdigest() and recorded.get("entries") == self.count


def _verify_on(connection: Connection) -> ChainReport:
    kept, altered = {}, set()
    for token, value, salt in connection.execute(_KEPT):
        if token_of(salt, value) == token:
            kept[token] = value
        else:
            altered.add(token)
    seals = _Seals()
    expected_prev = GENESIS_HASH
    rows, after = 0, 0
    while batch := connection.execute(_CHAIN, {"after": after}).all():
        for entry_id, at, actor, action, subject, details, prev_hash, hash_, sealed in batch:
            rows += 1
            if prev_hash != expected_prev:
                return ChainReport(
                    rows,
                    entry_id,
                    "it does not follow the entry before it (an entry was removed or reordered)",
                )
            iso = _iso(at)
            changed = ChainReport(rows, entry_id, f"its content ({action} {subject}) was changed")
            named = f"{actor} {subject} {details}"
            tokens = set(TOKEN.findall(named)) if "personal:" in named else set()
            if altered.intersection(tokens):
                return ChainReport(rows, entry_id, f"the personal data it names ({action} {subject}) was changed")
            if sealed is None:
                if not _holds(prev_hash, iso, actor, action, subject, details, hash_):
                    return changed
            else:
                if seals.closed or _hash_of(prev_hash, iso, actor, action, subject, details) != sealed:
                    return changed
                seals.add(entry_id, sealed)
                # With its personal data still kept, the entry's hash as first written must hold
                # too; once some is erased, the seal vouches for it.
                if kept.keys() >= tokens and not _holds(
                    prev_hash,
                    iso,
                    reveal(actor, kept),
                    action,
                    reveal(subject, kept),
                    reveal(details, kept, in_json=True),
                    hash_,
                ):
                    return changed
            if action == REFORMATTED and not seals.closed and not seals.match(details):
                return ChainReport(rows, entry_id, "an entry it sealed (written before migration 0019) was changed")
            expected_prev = hash_
        after = batch[-1][0]
    if seals.count and not seals.closed:
        return ChainReport(rows, seals.first, "it is sealed, but no record of the migration that sealed it follows")
    return ChainReport(rows)
