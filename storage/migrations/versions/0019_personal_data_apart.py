"""Personal data leaves the audit chain's hashed payload, so that a person can be erased

Before this, an entry named its actor as "person:12 Jana Novak via telegram:4711" and some held
a name or an account in their details, all covered by the entry's hash: erasing the name would
have broken the chain. From now on (storage/audit.py) such data is kept in `audit_personal` and
an entry holds its token instead.

The entries already written are reformatted the same way, without rehashing the chain: every
checkpoint posted before must still hold.

1. The whole entry must still match its hash; one that does not is left as it is, for `wgbot
   audit verify` to report.
2. Its names and accounts are swapped for tokens, and the entry is sealed: `sealed` is the hash
   of its content as kept now.
3. An "audit.reformatted" entry records how many entries were sealed and a digest of their seals
   in order. The chain after it vouches for the seals.

`verify` puts the personal data back into a sealed entry and checks its first hash. Once the
data is erased, the seal vouches for the entry instead. Going down is refused while any personal
data is kept apart: it would be lost (restore the backup taken before upgrading instead).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 08:30:00
"""

import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from storage import audit

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# How entries named people before this migration (frozen here: the code that wrote them is gone).
_LABEL = re.compile(r"(person:(\d+)|stranger) (.+) via ([a-z]+):(\S+)", re.S)
_LINKING = re.compile(r"person:(\d+) (.+) with a link code", re.S)
_NAME_IN_DETAILS = {"person.added": "name", "representative.removed": "name"}

_LOG = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("subject", sa.String),
    sa.column("details", sa.JSON),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
    sa.column("sealed", sa.String),
)
_KEPT = sa.table(
    "audit_personal",
    sa.column("token", sa.String),
    sa.column("value", sa.Text),
    sa.column("salt", sa.String),
    sa.column("person_id", sa.Integer),
    sa.column("account", sa.String),
)
_ENTRIES = (
    sa.select(
        _LOG.c.id,
        sa.type_coerce(_LOG.c.at, sa.String),
        _LOG.c.actor,
        _LOG.c.action,
        _LOG.c.subject,
        sa.cast(_LOG.c.details, sa.Text),
        _LOG.c.prev_hash,
        _LOG.c.hash,
    )
    .where(_LOG.c.id > sa.bindparam("after"))
    .order_by(_LOG.c.id)
    .limit(2000)
)


def upgrade() -> None:
    op.create_table(
        "audit_personal",
        sa.Column("token", sa.String(length=48), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("account", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_audit_personal")),
    )
    with op.batch_alter_table("audit_personal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_personal_account"), ["account"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_personal_person_id"), ["person_id"], unique=False)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed", sa.String(length=64), nullable=True))
    _reformat(op.get_bind())


class _Tokens:
    """Personal values swapped for tokens, one token per value and owner."""

    def __init__(self) -> None:
        self.made: dict[tuple[str, int | None, str | None], str] = {}
        self.rows: list[dict[str, Any]] = []

    def __call__(self, value: str, person_id: int | None = None, account: str | None = None) -> str:
        key = (value, person_id, account)
        if key not in self.made:
            salt = secrets.token_hex(16)
            self.made[key] = audit.token_of(salt, value)
            self.rows.append(
                {"token": self.made[key], "value": value, "salt": salt, "person_id": person_id, "account": account}
            )
        return self.made[key]


def _apart(tokens: _Tokens, actor: str, action: str, subject: str, details: Any) -> tuple[str, str, Any]:
    """The entry with its personal data swapped for tokens, by the rules it was written under."""
    if found := _LABEL.fullmatch(actor):
        who, person, name, platform, user = found.groups()
        person_id = int(person) if person else None
        account = f"{platform}:{user}"
        actor = f"{who} {tokens(name, person_id)} via {platform}:{tokens(user, person_id, account)}"
    elif found := _LINKING.fullmatch(actor):
        person, name = found.groups()
        actor = f"person:{person} {tokens(name, int(person))} with a link code"
    if action == "link.refused" and subject.startswith("account:"):
        account = subject.removeprefix("account:")
        actor, subject = tokens(actor, account=account), tokens(subject, account=account)
    person_id = int(subject[7:]) if re.fullmatch(r"person:\d+", subject) else None
    if isinstance(details, dict):
        key = _NAME_IN_DETAILS.get(action)
        if key and isinstance(details.get(key), str):
            details = details | {key: tokens(details[key], person_id)}
        if action == "account.linked" and isinstance(details.get("user_id"), str):
            account = f"{details.get('platform')}:{details['user_id']}"
            details = details | {"user_id": tokens(details["user_id"], person_id, account)}
    return actor, subject, details


def _details_bind(connection: sa.Connection, name: str) -> Any:
    text = sa.type_coerce(sa.bindparam(name), sa.Text)
    return sa.cast(text, sa.JSON) if connection.dialect.name == "postgresql" else text


def _reformat(connection: sa.Connection) -> None:
    tokens = _Tokens()
    seals = hashlib.sha256()
    sealed = 0
    last_hash = audit.GENESIS_HASH
    rewrite = (
        _LOG.update()
        .where(_LOG.c.id == sa.bindparam("entry"))
        .values(
            actor=sa.bindparam("new_actor"),
            subject=sa.bindparam("new_subject"),
            details=_details_bind(connection, "new_details"),
            sealed=sa.bindparam("seal"),
        )
    )
    after = 0
    while batch := connection.execute(_ENTRIES, {"after": after}).all():
        changes = []
        for entry_id, at, actor, action, subject, details, prev_hash, hash_ in batch:
            after, last_hash = entry_id, hash_
            iso = audit._iso(at)
            parsed = json.loads(details)
            new_actor, new_subject, new_details = _apart(tokens, actor, action, subject, parsed)
            if (new_actor, new_subject, new_details) == (actor, subject, parsed):
                continue
            if not audit._holds(prev_hash, iso, actor, action, subject, details, hash_):
                continue  # already changed: left for `verify` to report, not vouched for
            new_json = audit.canonical(new_details)
            seal = audit._hash_of(prev_hash, iso, new_actor, action, new_subject, new_json)
            seals.update(seal.encode())
            sealed += 1
            changes.append(
                {
                    "entry": entry_id,
                    "new_actor": new_actor,
                    "new_subject": new_subject,
                    "new_details": new_json,
                    "seal": seal,
                }
            )
        if changes:
            connection.execute(rewrite, changes)
    if tokens.rows:
        connection.execute(_KEPT.insert(), tokens.rows)
    if sealed:
        at = datetime.now(UTC)
        details = audit.canonical({"entries": sealed, "sealed": seals.hexdigest()})
        actor, action, subject = "wgbot db upgrade", audit.REFORMATTED, "audit:0019"
        digest = audit._hash_of(last_hash, at.isoformat(timespec="microseconds"), actor, action, subject, details)
        connection.execute(
            _LOG.insert().values(details=_details_bind(connection, "details")),
            {
                "at": at,
                "actor": actor,
                "action": action,
                "subject": subject,
                "details": details,
                "prev_hash": last_hash,
                "hash": digest,
            },
        )


def downgrade() -> None:
    connection = op.get_bind()
    if connection.scalar(sa.select(sa.func.count()).select_from(_KEPT)):
        raise RuntimeError(
            "The audit log keeps personal data apart from its hashed entries since 0019; going below it "
            "would lose that data (and putting it back into old entries would need their seals). Restore "
            "a backup taken before the upgrade instead."
        )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("sealed")
    with op.batch_alter_table("audit_personal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_personal_person_id"))
        batch_op.drop_index(batch_op.f("ix_audit_personal_account"))
    op.drop_table("audit_personal")
