"""A person's data: erased on request everywhere, while the audit chain still verifies and still
proves what their organisation did; and the migration that took names out of the chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from storage import audit, checkpoints, identity, mandates, migrate, notices, people, personal_data
from storage.db import Database
from storage.inventory import INVENTORY, Fate, unaccounted
from storage.models import AuditEntry, AuditPersonal, Ballot, Base
from storage.platforms import private_chat_key
from storage.transport_state import TransportMemory
from tests.alliance import member_organisation, message, person

NAME, TELEGRAM_ID = "Jana Novak", "987654321"


async def everything(db: Database) -> str:
    """Every row of every table, as text: what a reader of the database could find."""
    rows = []
    async with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows += [repr(tuple(row)) for row in await connection.execute(select(table))]
    return "\n".join(rows).lower()


async def test_an_erased_person_is_found_nowhere_and_the_chain_still_proves_their_organisation_s_vote(db, router, say):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(
        db, NAME, organisation=acme, accounts=("console:jana", f"telegram:{TELEGRAM_ID}"), roles=("chair:pfas",)
    )
    await person(db, "Sam", accounts=("console:sam",), roles=("secretariat",))
    assert (await say('/vote open "Adopt the roadmap?"')).startswith("Vote #1")
    assert await say("/vote 1 yes") == "Recorded: yes for ACME GmbH"
    await say('/meeting schedule "2099-01-12 10:00" Budget')
    await say("/rsvp 1 yes")
    await say('/meeting agenda 1 add "Budget 2027"')
    await say("/tz Europe/Prague", room="dm-jana", direct=True)
    wrong = message("/link 123456", sender=TELEGRAM_ID, platform="telegram", room=TELEGRAM_ID, direct=True)
    await router.handle(wrong)
    assert NAME.lower() in await everything(db) and TELEGRAM_ID in await everything(db)

    async with db.transaction() as session:
        erased = await personal_data.erase(session, await people.find_person(session, "console:jana"))
    assert erased.still_named == [], erased.describe()
    held = await everything(db)
    assert NAME.lower() not in held and "jana" not in held and TELEGRAM_ID not in held

    async with db.transaction() as session:
        report = await audit.verify(session)
        assert report.intact, report.describe()
        # What ACME did still stands: its ballot, and the log's record of the vote.
        assert await session.scalar(select(func.count()).select_from(Ballot).where(Ballot.vote_id == 1)) == 1
        acts = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.subject == "vote:1")))
        assert acts[:2] == ["vote.opened", "ballot.cast"]
        assert set(await session.scalars(select(AuditPersonal.value))) == {"Sam", "sam"}  # only Sam's is left
    # The account is a stranger's now: nobody can act as the erased person.
    assert "not yet known to the alliance" in await say("/whoami")


async def test_erasing_leaves_other_people_s_data_alone(db, say):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, NAME, organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Ola Nordmann", organisation=acme, accounts=("console:ola",))
    async with db.transaction() as session:
        await personal_data.erase(session, await people.find_person(session, "console:jana"))
    async with db.transaction() as session:
        ola = await people.find_person(session, "console:ola")
        assert (ola.name, ola.organisation_id) == ("Ola Nordmann", acme.id)
        assert await session.scalar(select(AuditPersonal.value).where(AuditPersonal.person_id == ola.id)) == (
            "Ola Nordmann"
        )
        assert (await audit.verify(session)).intact


async def test_an_audited_text_that_names_the_person_is_reported_not_hidden(db, say):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, NAME, organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await say('/meeting schedule "2099-01-12 10:00" Budget')
    await say(f'/meeting agenda 1 add "Thank {NAME} for chairing"')
    async with db.transaction() as session:
        erased = await personal_data.erase(session, await people.find_person(session, "console:jana"))
    # The agenda item is pseudonymised; its copy in the audit log is hashed into the chain, and
    # changing it would break the chain: the operator is told where it is.
    assert "thank erased person #1 for chairing" in await everything(db)
    assert erased.still_named == ["audit_log.details: 1 row"]
    assert "still written in" in erased.describe()


# --- One inventory for export and erasure (storage/inventory.py) -----------------------------


async def _jana_everywhere(db: Database, router, say) -> None:
    """Jana Novak, chair of PFAS, with a record of every kind the inventory lists."""
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    jana = await person(
        db, NAME, organisation=acme, accounts=("console:jana", f"telegram:{TELEGRAM_ID}"), roles=("chair:pfas",)
    )
    await person(db, "Sam Secretary", accounts=("console:sam",), roles=("secretariat",))
    assert (await say('/vote open "Adopt the roadmap?"')).startswith("Vote #1")
    assert await say("/vote 1 yes") == "Recorded: yes for ACME GmbH"
    await say('/meeting schedule "2099-01-12 10:00" Budget')
    await say("/rsvp 1 yes")
    await say('/meeting agenda 1 add "Budget 2027"')
    await say('/deliverable new "Roadmap"')
    assert (await say("/draft 1 the plan")).startswith("Recorded as version 1")
    assert (await say('/comment 1 1 "Section 2 needs figures"')).startswith("Comment added")
    assert "vote #2" in await say('/wg propose "Quantum" "Quantum chips"')
    await router.handle(message("/link 123456", sender=TELEGRAM_ID, platform="telegram", room=TELEGRAM_ID, direct=True))
    async with db.transaction() as session:
        await identity.issue_code(session, jana, datetime.now(UTC))
        notices.queue(session, [notices.notice("telegram", TELEGRAM_ID, "Your vote is open.", direct=True)])
        await notices.to_room(session, "console", "pfas", f"{NAME} chairs PFAS now.")
    await TransportMemory(db, "telegram").put(private_chat_key(TELEGRAM_ID), TELEGRAM_ID)
    fab = await member_organisation(db, "Fab Nord AS", joins=("pfas",))
    async with db.transaction() as session:
        until = datetime.now(UTC) + timedelta(days=7)
        as_jana = await people.identify(session, "console", "jana", NAME)
        await mandates.give(session, actor=as_jana, holder=fab, now=datetime.now(UTC), limit=1, until=until)


async def test_the_export_lists_every_kind_of_record_and_erasure_does_to_each_what_the_inventory_says(db, router, say):
    await _jana_everywhere(db, router, say)
    async with db.transaction() as session:
        before = await personal_data.export(session, await people.find_person(session, "console:jana"))
    for key in (
        "accounts", "roles", "link_codes", "failed_link_attempts", "private_notices", "private_chats",
        "broadcasts", "casts", "standing_ballots", "mandates", "rsvps", "agenda_items", "drafts", "comments",
        "votes_opened", "records_of_their_acts", "texts_naming_them", "audit_entries", "audit_log_personal_data",
    ):  # fmt: skip
        assert before[key], f"the export lists no {key}"
    assert before["person"]["name"] == NAME and before["person"]["organisation"] == "ACME GmbH"
    assert len(before["accounts"]) == 2 and before["roles"] == [{"role": "chair", "group": "pfas"}]
    assert [n["text"] for n in before["private_notices"]] == ["Your vote is open."]
    assert before["private_chats"] == [{"platform": "telegram", "chat": TELEGRAM_ID}]
    assert [b["what"] for b in before["broadcasts"]] == ["working group proposal"]
    assert [c["text"] for c in before["comments"]] == ["Section 2 needs figures"]
    assert {"record": "notices", "id": before["private_notices"][0]["id"] + 1} in before["texts_naming_them"]
    assert "Sam Secretary" not in json.dumps(before)  # another person's data is not hers

    async with db.transaction() as session:
        erased = await personal_data.erase(session, await people.find_person(session, "console:jana"))
        after = await personal_data.export(session, await people.find_person(session, "#1"))
    assert erased.still_named == [], erased.describe()
    # Erasure did to each kind exactly what the inventory says, to the rows the export listed.
    for entry in INVENTORY:
        listed = before[entry.key]
        count = 1 if entry.one else sum(1 for row in listed if row.get("record", entry.table.name) == entry.table.name)
        if entry.fate == Fate.KEEP:
            assert erased.kept[entry.kind] == count, entry.kind
            assert after[entry.key][: len(listed)] == listed, f"{entry.key} is kept as it was"
        else:
            assert erased.done[entry.kind] >= count, entry.kind
    assert [e["action"] for e in after["audit_entries"][len(before["audit_entries"]) :]] == ["person.erased"]
    assert sum(erased.done[e.kind] for e in INVENTORY if e.key == "accounts") == 2
    for key in ("accounts", "roles", "link_codes", "failed_link_attempts", "private_notices", "private_chats",
                "broadcasts", "audit_log_personal_data"):  # fmt: skip
        assert after[key] == [], f"{key} is gone"
    assert after["person"]["name"] == "erased person #1" and after["person"]["organisation"] is None
    assert {d["author"] for d in after["drafts"]} == {c["author"] for c in after["comments"]} == {"erased person #1"}
    assert " via console" in json.dumps(before["records_of_their_acts"])
    assert all("person:1" in act.values() for act in after["records_of_their_acts"])  # the platform is gone
    assert after["texts_naming_them"] == before["texts_naming_them"]  # now naming the pseudonym
    held = await everything(db)
    assert NAME.lower() not in held and "jana" not in held and TELEGRAM_ID not in held


def test_every_column_that_can_name_a_person_is_in_the_inventory():
    missing = unaccounted(Base.metadata)
    assert missing == [], f"say in storage/inventory.py what export and erasure do with {', '.join(missing)}"


def test_a_new_column_that_can_name_a_person_is_caught_until_the_inventory_says_what_becomes_of_it():
    schema = sa.MetaData()
    sa.Table("people", schema, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "reviews",
        schema,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reviewer_id", sa.ForeignKey("people.id")),
        sa.Column("reviewer_name", sa.String(200)),
        sa.Column("notes", sa.Text),
        sa.Column("score", sa.Integer),
    )
    assert unaccounted(schema) == ["reviews.reviewer_id", "reviews.reviewer_name", "reviews.notes"]


# --- The migration (0019) of a log written before personal data was kept apart ---------------

_OLD_LOG = sa.table(
    "audit_log",
    *(sa.column(c) for c in ("id", "actor", "action", "subject", "prev_hash", "hash")),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("details", sa.JSON),
)
_PEOPLE = sa.table("people", sa.column("id"), sa.column("name"), sa.column("created_at", sa.DateTime(timezone=True)))
_ACCOUNTS = sa.table(
    "chat_accounts",
    *(sa.column(c) for c in ("id", "platform", "platform_user_id", "person_id")),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_BEFORE = [  # as wgbot wrote them before 0019: names and accounts in the hashed payload
    ("cli:ops", "person.added", "person:1", {"name": NAME, "organisation": None}),
    ("cli:ops", "account.linked", "person:1", {"platform": "telegram", "user_id": TELEGRAM_ID}),
    ("cli:ops", "org.added", "org:1", {"name": "ACME GmbH"}),
    (f"person:1 {NAME} via telegram:{TELEGRAM_ID}", "vote.opened", "vote:1", {"question": "Adopt the roadmap?"}),
    ("telegram:555", "link.refused", "account:telegram:555", {"reason": "wrong code"}),
    (f"person:1 {NAME} with a link code", "account.linked", "person:1", {"platform": "console", "user_id": "jana"}),
]


async def _old_log(db: Database) -> checkpoints.Checkpoint:
    """The entries of `_BEFORE`, chained as they were then; the checkpoint posted after them."""
    now = datetime(2026, 11, 1, 9, tzinfo=UTC)
    prev = audit.GENESIS_HASH
    async with db.transaction() as session:
        await session.execute(_PEOPLE.insert().values(name=NAME, created_at=now))
        await session.execute(
            _ACCOUNTS.insert().values(platform="telegram", platform_user_id=TELEGRAM_ID, person_id=1, created_at=now)
        )
        for number, (actor, action, subject, details) in enumerate(_BEFORE, 1):
            at = now + timedelta(minutes=number)
            digest = audit.entry_hash(prev, at, actor, action, subject, details)
            values = dict(at=at, actor=actor, action=action, subject=subject, details=details)
            await session.execute(_OLD_LOG.insert().values(**values, prev_hash=prev, hash=digest))
            prev = digest
    return checkpoints.Checkpoint(len(_BEFORE), prev)


async def _verified(db: Database, anchor: checkpoints.Checkpoint) -> audit.ChainReport:
    async with db.transaction() as session:
        report = await audit.verify(session)
        assert await checkpoints.holds(session, anchor) is None  # the checkpoint posted before still holds
        return report


async def _change(db: Database, statement) -> None:
    async with db.transaction() as session:
        await session.execute(statement)


async def test_the_migration_takes_names_out_of_the_chain_and_every_earlier_checkpoint_still_holds(
    empty_database_url,
):
    db = Database.connect(empty_database_url)
    try:
        await migrate.upgrade(db, "0018")
        anchor = await _old_log(db)
        await migrate.upgrade(db)

        log = await _log_text(db)
        assert NAME not in log and TELEGRAM_ID not in log and "telegram:555" not in log
        assert "org.added" in log and "ACME GmbH" in log  # an organisation's name is no personal data
        report = await _verified(db, anchor)
        assert report.intact and report.rows == len(_BEFORE) + 1, report.describe()

        # While kept, the personal data is checked against each entry's first hash.
        kept = AuditPersonal.__table__
        await _change(db, kept.update().where(kept.c.value == NAME).values(value="Somebody Else"))
        assert not (await _verified(db, anchor)).intact
        await _change(db, kept.update().where(kept.c.value == "Somebody Else").values(value=NAME))
        assert (await _verified(db, anchor)).intact

        async with db.transaction() as session:
            erased = await personal_data.erase(session, await people.find_person(session, "#1"))
        assert erased.still_named == []
        held = await everything(db)
        assert NAME.lower() not in held and TELEGRAM_ID not in held
        report = await _verified(db, anchor)
        assert report.intact and report.rows == len(_BEFORE) + 2, report.describe()  # + person.erased

        # Once erased, a sealed entry is vouched for by its seal, and the seals by the chain.
        entries = AuditEntry.__table__
        opened = entries.c.action == "vote.opened"
        await _change(db, entries.update().where(opened).values(subject="vote:2"))
        assert (await _verified(db, anchor)).broken_at == 4
        async with db.transaction() as session:
            row = (await session.execute(select(entries).where(opened))).one()
            reseal = audit._hash_of(
                row.prev_hash, row.at.isoformat(timespec="microseconds"), row.actor, row.action, "vote:2", "{}"
            )
        await _change(db, entries.update().where(opened).values(details={}, sealed=reseal))
        broken = await _verified(db, anchor)
        assert broken.broken_at == len(_BEFORE) + 1 and "sealed" in broken.problem
    finally:
        await db.close()


async def _log_text(db: Database) -> str:
    async with db.engine.connect() as connection:
        return "\n".join(repr(tuple(r)) for r in await connection.execute(select(AuditEntry.__table__)))


async def test_going_down_refuses_while_the_log_keeps_personal_data_apart(empty_database_url):
    db = Database.connect(empty_database_url)
    try:
        await migrate.upgrade(db, "0018")
        await _old_log(db)
        await migrate.upgrade(db)
        with pytest.raises(RuntimeError, match="personal data"):
            await migrate.downgrade(db, "0018")
        async with db.transaction() as session:
            assert (await audit.verify(session)).intact  # nothing was changed
    finally:
        await db.close()
