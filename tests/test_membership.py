"""Membership as the alliance's rules have it, on SQLite and PostgreSQL, through the router:
apply → Declaration → Commission → representative → one identity on two platforms."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from storage import audit, organisations
from storage.errors import Refused
from storage.models import (
    ApplicationStatus,
    Dialog,
    LinkCode,
    MembershipApplication,
    Notice,
    Organisation,
    OrganisationKind,
    OrganisationStatus,
    Participation,
    Vote,
    utcnow,
)
from tests.alliance import member_organisation, message, person

ONE_LINE = (
    '/apply name="Silicon Café GmbH" country=DE kind=industry groups=pfas,skills contact="Jana Novak" '
    "declaration=accept eligibility=yes,yes,yes"
)


@pytest.fixture
async def reviewers(db):
    await person(db, "Clara Commission", accounts=("console:clara",), roles=("commission",))
    await person(db, "Sam Secretariat", accounts=("console:sam",), roles=("secretariat",))


def dm(text: str, sender: str, platform: str = "telegram", **kwargs):
    """`sender` writes in their private chat with the bot."""
    return message(text, sender=sender, room=f"dm-{sender}", platform=platform, direct=True, **kwargs)


async def count(db, model, *where) -> int:
    async with db.transaction() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def notices_to(db, target: str) -> list[str]:
    async with db.transaction() as session:
        return list(await session.scalars(select(Notice.text).where(Notice.target == target).order_by(Notice.id)))


async def test_the_whole_story_from_application_to_one_identity_on_two_platforms(say, db, reviewers):
    # An applicant on Telegram answers the guided dialog.
    answers = [
        ("/apply", "What is your organisation's name?"),
        ("Silicon Café GmbH", "In which country"),
        ("Germany", "What kind of organisation"),
        ("industry", "Which working groups"),
        ("pfas, Skills", "Who is its contact person"),
        ("Jana Novak", "# Declaration of the members of the Alliance"),
        ("I accept", "Eligibility 1/3"),
        ("yes", "Eligibility 2/3"),
        ("yes", "Eligibility 3/3"),
    ]
    for text, expected in answers:
        assert (await say(dm(text, "501"))).startswith(expected), text
    submitted = await say(dm("yes", "501"))
    assert submitted.startswith(
        "Thank you. Application #1 for Silicon Café GmbH is submitted (DE, industry; groups: pfas, skills)"
    )
    assert await count(db, Dialog) == 0

    # The Commission sees it in full, with the Declaration's version and the eligibility answers.
    full = await say(dm("/applications 1", "clara", platform="console"))
    assert "Declaration accepted" in full and "YES Is your organisation legally established" in full

    approved = await say(dm("/approve 1", "clara", platform="console"))
    assert approved.startswith("Approved #1: Silicon Café GmbH is a member, in pfas, skills.")
    async with db.transaction() as session:
        organisation = await session.scalar(select(Organisation))
        assert organisation.status == OrganisationStatus.MEMBER
        assert await session.scalar(select(func.count()).select_from(Participation)) == 2
    assert (await notices_to(db, "501"))[0].startswith("Your application #1 is approved")
    assert (await notices_to(db, "pfas"))[0].startswith("Welcome to Silicon Café GmbH (DE, industry)")

    # The new representative links a Matrix account with a one-time code.
    code = (await say(dm("/link", "501"))).split("Your link code is ")[1][:8]
    linked = await say(dm(f"/link {code}", "@jana:example.org", platform="matrix"))
    assert linked.startswith("Linked: this matrix account now belongs to Jana Novak.")
    on_matrix = await say(dm("/whoami", "@jana:example.org", platform="matrix"))
    on_telegram = await say(dm("/whoami", "501"))
    for text in (on_matrix, on_telegram):
        assert "You are Jana Novak (person #3)." in text
        assert "Organisation: Silicon Café GmbH (DE, industry), member." in text
        assert "Linked accounts: telegram 501, matrix @jana:example.org." in text
        assert "Voting rights: yes" in text

    async with db.transaction() as session:
        actions = [e.action for e in await session.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.id))]
        assert (await audit.verify(session)).intact
    assert actions[-8:] == [
        "application.submitted",
        "organisation.added",
        "person.added",
        "account.linked",
        "group.joined",
        "group.joined",
        "application.approved",
        "account.linked",  # the Matrix account, by link code
    ]


async def test_guests_and_strangers_have_no_voting_rights(say, db, reviewers):
    visitor_org = await member_organisation(db, "Visiting Institute", status=OrganisationStatus.NON_MEMBER)
    await person(db, "Gus Guest", organisation=visitor_org, accounts=("console:gus",))
    guest = await say(dm("/whoami", "gus", platform="console"))
    stranger = await say(dm("/whoami", "nobody", platform="console"))
    assert "Voting rights: none — Visiting Institute is not a member organisation (non-member)." in guest
    assert "Voting rights: none — you are not known to the alliance." in stranger


async def test_a_one_line_application_asks_only_for_what_is_missing(say, db):
    reply = await say(dm('/apply name="Quantum BV" country=nl kind=research groups=skills', "601"))
    assert reply.startswith("Who is its contact person")
    assert (await say(dm("Piet Jansen", "601"))).startswith("# Declaration")
    assert await count(db, MembershipApplication) == 0


async def test_an_abandoned_dialog_is_resumed_or_cancelled(say, db):
    await say(dm("/apply", "701"))
    await say(dm("Chiplet SpA", "701"))
    resumed = await say(dm("/apply", "701"))
    assert resumed.startswith("Welcome back — let's continue. In which country")
    assert (await say(dm("/apply cancel", "701"))).startswith("Your application in progress is cancelled")
    assert await say(dm("Italy", "701")) == "I answer commands; send /help to see them."


@pytest.mark.parametrize(
    "form, reason, misread",
    [
        (ONE_LINE.replace("country=DE", "country=Atlantis"), "Unknown country 'Atlantis'", True),
        (ONE_LINE.replace("kind=industry", "kind=startup"), "Unknown kind 'startup'", True),
        (ONE_LINE.replace("groups=pfas,skills", "groups=chips"), "No working group 'chips'", False),
        (ONE_LINE.replace("declaration=accept", "declaration=no"), "Membership needs the Declaration accepted", False),
        (ONE_LINE.replace("eligibility=yes,yes,yes", "eligibility=yes"), "eligibility= needs 3 answers", True),
    ],
)
async def test_a_bad_application_is_refused_in_one_line_and_writes_nothing(say, db, form, reason, misread):
    reply = await say(dm(form, "801"))
    assert reply.startswith(reason) and reply.count("\n") == int(misread) and ("Usage: /apply" in reply) == misread
    assert await count(db, MembershipApplication) == 0
    assert await count(db, Dialog) == 0


async def test_members_and_pending_applications_cannot_apply_again(say, db):
    await member_organisation(db, "Silicon Cafe GmbH")
    assert (await say(dm(ONE_LINE.replace("Café", "CAFÉ"), "901"))).startswith(
        "Silicon Cafe GmbH is already a member of the alliance."
    )
    other = ONE_LINE.replace("Silicon Café GmbH", "Fab Nord AS")
    assert (await say(dm(other, "902"))).startswith("Thank you. Application #1")
    assert (await say(dm(other.replace("Fab Nord AS", "fab  nord as"), "903"))).startswith(
        "An application for Fab Nord AS is already pending (#1)."
    )


async def test_applying_happens_in_private(say, db):
    reply = await say(message(ONE_LINE, sender="jana", room="pfas"))
    assert reply.startswith("Apply in a private chat with me")


async def test_an_applicant_cannot_approve_their_own_application(say, db, reviewers):
    await say(dm(ONE_LINE, "clara", platform="console"))
    refused = await say(dm("/approve 1", "clara", platform="console"))
    assert refused.startswith("You cannot decide on an application you made yourself.")
    assert await count(db, MembershipApplication, MembershipApplication.status == ApplicationStatus.PENDING) == 1


async def test_only_the_commission_decides_and_a_rejection_gives_its_reason(say, db, reviewers):
    await say(dm(ONE_LINE, "501"))
    assert (await say(dm("/approve 1", "sam", platform="console"))).startswith(
        "Only the Commission's reviewers may do this."
    )
    assert (await say(dm("/reject 1", "clara", platform="console"))).startswith("Missing <reason>")
    rejected = await say(dm("/reject 1 not established in the EU", "clara", platform="console"))
    assert rejected.startswith("Rejected #1 (Silicon Café GmbH)")
    assert (await notices_to(db, "501"))[-1].endswith("Reason: not established in the EU")
    assert (await say(dm("/approve 1", "clara", platform="console"))).startswith("Application #1 was already rejected.")


async def test_two_reviewers_approving_at_the_same_instant_approve_once(say, db, reviewers):
    await person(db, "Colin Commission", accounts=("console:colin",), roles=("commission",))
    await say(dm(ONE_LINE, "501"))
    replies = await asyncio.gather(
        say(dm("/approve 1", "clara", platform="console")),
        say(dm("/approve 1", "colin", platform="console")),
    )
    assert sorted(r.split(":")[0].split(" #")[0] for r in replies) == ["Application", "Approved"]
    assert await count(db, Organisation) == 1
    assert await count(db, audit.AuditEntry, audit.AuditEntry.action == "application.approved") == 1


async def test_link_codes_work_once_and_only_for_ten_minutes(say, db):
    acme = await member_organisation(db, "ACME GmbH")
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:501",))
    code = (await say(dm("/link", "501"))).split("Your link code is ")[1][:8]
    assert (await say(dm(f"/link {code.lower()}", "@jana:m.org", platform="matrix"))).startswith("Linked")
    reused = await say(dm(f"/link {code}", "@other:m.org", platform="matrix"))
    assert reused.startswith("That link code was already used")

    stale = (await say(dm("/link", "501"))).split("Your link code is ")[1][:8]
    async with db.transaction() as session:
        await session.execute(
            update(LinkCode)
            .where(LinkCode.code_sha256 == hashlib.sha256(stale.encode()).hexdigest())
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await say(dm(f"/link {stale}", "@late:m.org", platform="matrix"))).startswith("That link code has expired")
    assert (await say(dm("/link NOTACODE", "@x:m.org", platform="matrix"))).startswith("'NOTACODE' is not a link code")
    assert (await say(dm("/link", "stranger"))).startswith("You are not known to the alliance yet")


async def test_the_secretariat_manages_representatives_chairs_and_standing(db, reviewers, say):
    await member_organisation(db, "ACME GmbH", joins=("pfas",))
    added = await say(dm('/member add "ACME GmbH" Piet Jansen', "sam", platform="console"))
    assert added.startswith("Added Piet Jansen (#3) for ACME GmbH.")
    code = added.split("/link ")[1][:8]
    await say(dm(f"/link {code}", "1002"))
    assert "Voting rights: yes" in await say(dm("/whoami", "1002"))

    assert await say(dm("/member chair pfas #3", "sam", platform="console")) == "Piet Jansen chairs PFAS."
    assert "Roles: chair of PFAS." in await say(dm("/whoami", "1002"))

    suspended = await say(dm('/member suspend "ACME GmbH" unpaid contribution', "sam", platform="console"))
    assert suspended.startswith("ACME GmbH is suspended")
    assert "Voting rights: none — ACME GmbH is suspended." in await say(dm("/whoami", "1002"))
    assert (await notices_to(db, "1002"))[-1].startswith("ACME GmbH's membership is suspended: unpaid contribution.")
    assert (await say(dm("/member reinstate ACME GmbH", "sam", platform="console"))).startswith(
        "ACME GmbH is a member again."
    )
    removed = await say(dm("/member remove telegram:1002", "sam", platform="console"))
    assert removed == "Piet Jansen no longer represents ACME GmbH."
    assert "Roles: none." in await say(dm("/whoami", "1002"))
    assert (await say(dm("/member add Nowhere Bob", "1002"))).startswith("Only the secretariat may do this.")


async def test_a_proposed_working_group_is_created_when_the_alliance_votes_for_it(db, reviewers, say):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    fab = await member_organisation(db, "Fab Nord AS", joins=("skills",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",))
    await person(db, "Ola Nordmann", organisation=fab, accounts=("console:ola",))
    proposed = await say(
        dm('/wg propose "Chips Act" Follow the implementation of the Chips Act', "jana", platform="console")
    )
    assert proposed.startswith("Your proposal is vote #1")
    async with db.transaction() as session:
        posted = list(
            await session.scalars(select(Notice.target).where(Notice.text.like("Vote #1 (the whole alliance)%")))
        )
    assert sorted(posted) == ["pfas", "plenary", "secretariat", "skills", "supply-chains"]  # every bound room
    assert (await say(dm("/wg propose PFAS again", "ola", platform="console"))).startswith(
        "The working group PFAS (pfas) already exists."
    )
    await say(dm("/vote 1 yes", "jana", platform="console"))
    await say(dm("/vote 1 yes", "ola", platform="console"))
    await say(dm("/vote close 1", "sam", platform="console"))
    listed = await say(dm("/wg info chips-act", "ola", platform="console"))
    assert listed.startswith("Chips Act (chips-act)\nMandate: Follow the implementation of the Chips Act")
    assert any(
        n.startswith("Vote #1 created the working group Chips Act (chips-act). Please bind its rooms")
        for n in await notices_to(db, "secretariat")
    )


async def test_guessing_link_codes_is_held_back_audited_and_never_finds_a_code_in_the_database(say, db):
    acme = await member_organisation(db, "ACME GmbH")
    await person(db, "Jana Novak", organisation=acme, accounts=("telegram:501",))
    code = (await say(dm("/link", "501"))).split("Your link code is ")[1][:8]
    async with db.transaction() as session:
        kept = list(await session.scalars(select(LinkCode.code_sha256)))
    assert kept == [hashlib.sha256(code.encode()).hexdigest()]  # never the code itself

    for n in range(5):
        wrong = await say(dm(f"/link WRONG{n:03}", "@mallory:m.org", platform="matrix"))
        assert wrong.startswith(f"'WRONG{n:03}' is not a link code")
    held = await say(dm(f"/link {code}", "@mallory:m.org", platform="matrix"))
    assert held.startswith("Too many wrong link codes from this account; try again in 60 minutes.")
    assert "not yet known to the alliance" in await say(dm("/whoami", "@mallory:m.org", platform="matrix"))
    assert await count(db, audit.AuditEntry, audit.AuditEntry.action == "link.refused") == 6

    for account in range(9):  # many accounts guessing together: 45 more wrong codes
        for n in range(5):
            await say(dm(f"/link WRONG{n:03}", f"@sock{account}:m.org", platform="matrix"))
    paused = await say(dm(f"/link {code}", "@jana:m.org", platform="matrix"))
    assert paused.startswith("Too many wrong link codes were sent lately; linking is paused for everyone.")


async def test_a_link_code_asked_for_in_a_room_goes_only_to_the_private_chat(say, db):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",))
    answer = await say("/link", sender="jana", room="pfas")
    assert answer.startswith("I have sent your link code to you in a private chat.")
    assert not any(c in answer for c in "0123456789")
    sent = await notices_to(db, "jana")
    assert len(sent) == 1 and sent[0].startswith("Your link code is ")


async def test_one_person_can_post_to_the_whole_alliance_only_so_often(say, db, reviewers):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",))
    for n in range(5):
        assert (await say(dm(f'/wg propose "Group {n}" A mandate', "jana", platform="console"))).startswith(
            "Your proposal is vote #"
        )
    refused = await say(dm('/wg propose "Group 5" A mandate', "jana", platform="console"))
    assert refused.startswith("You have posted to the whole alliance 5 times in the last 24 hours")
    assert "the next is possible" in refused
    assert await count(db, Vote) == 5  # the refused one opened nothing
    assert (await say(dm("/announce pfas Drafts are due", "sam", platform="console"))).startswith("Announcement #1")


def apply_for(name: str) -> str:
    return (
        f'/apply name="{name}" country=DE kind=industry groups=pfas contact="Mallory Mask" '
        "declaration=accept eligibility=yes,yes,yes"
    )


async def test_applying_under_a_suspended_organisation_never_reinstates_it(say, db, reviewers):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await say(dm('/member suspend "ACME GmbH" unpaid contribution', "sam", platform="console"))
    assert (await say(dm(apply_for("ACME GmbH"), "666"))).startswith("Thank you. Application #1")
    shown = await say(dm("/applications 1", "clara", platform="console"))
    assert "Existing organisation: ACME GmbH (#1), suspended." in shown
    refused = await say(dm("/approve 1", "clara", platform="console"))
    assert refused.startswith("ACME GmbH already exists (#1, suspended), and approving an application never changes")
    async with db.transaction() as session:
        assert (await session.get_one(Organisation, acme.id, populate_existing=True)).status == "suspended"
    assert "not yet known to the alliance" in await say(dm("/whoami", "666"))

    confirmed = await say(dm("/member confirm 1", "sam", platform="console"))
    assert confirmed.startswith("Mallory Mask now represents ACME GmbH, whose standing stays suspended")
    assert "by Sam" in (await say(dm("/applications 1", "clara", platform="console"))).splitlines()[-1]
    whoami = await say(dm("/whoami", "666"))
    assert "ACME GmbH" in whoami and "Voting rights: none" in whoami
    async with db.transaction() as session:
        assert (await session.get_one(Organisation, acme.id, populate_existing=True)).status == "suspended"
    standing_changes = audit.AuditEntry.action == "organisation.status"
    assert await count(db, audit.AuditEntry, standing_changes) == 1  # the suspension, and nothing else
    assert await count(db, audit.AuditEntry, audit.AuditEntry.action == "application.confirmed_as_representative") == 1


@pytest.mark.parametrize("look_alike", ["АСМЕ GmbH", "ACME\u200b GmbH", "ACME GmbH\u202e", "AСME GmbH"])
async def test_a_name_that_only_looks_like_a_member_is_flagged_to_the_commission(say, db, reviewers, look_alike):
    await member_organisation(db, "ACME GmbH", joins=("pfas",))
    assert (await say(dm(apply_for(look_alike), "666"))).startswith("Thank you. Application #1")
    shown = await say(dm("/applications 1", "clara", platform="console"))
    assert "⚠ Its name reads like ACME GmbH (#1, member): check it is not posing as it." in shown
    [told] = await notices_to(db, "secretariat")
    assert "⚠ Its name reads like ACME GmbH (#1, member)" in told
    async with db.transaction() as session:
        with pytest.raises(Refused, match="reads like ACME GmbH"):
            await organisations.add_organisation(
                session, actor="t", name=look_alike, country="DE", kind=OrganisationKind.INDUSTRY, status="member"
            )
