"""The votes at the shell: `wgbot votes export` (one vote's whole record, for review) and
`wgbot decisions export` (the register, as handlers/votes/register.py draws it)."""

from __future__ import annotations

import json
from argparse import Namespace
from typing import Any

from bot.config import Settings
from bot.shell import ShellAction, database, write
from handlers import exports
from handlers.votes import register
from storage import votes


async def votes_export(settings: Settings, args: Namespace) -> int:
    async with database(settings) as db, db.transaction() as session:
        record = await votes.export_record(session, args.id)
    if args.format == "json":
        return write((json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode(), args.output)
    return write(_as_csv(record), args.output)


def _as_csv(record: dict[str, Any]) -> bytes:
    """One row per electorate organisation: its counted ballot (blank for a secret vote)."""
    counted = {b["organisation_id"]: b["option"] for b in record.get("ballots", [])}
    last = {c["organisation_id"]: c for c in record.get("casts", [])}
    columns = ("vote", "organisation_id", "organisation", "ballot", "cast_by", "platform", "cast_at")
    rows = []
    for member in record["electorate"]:
        cast = last.get(member["organisation_id"], {})
        rows.append(
            (
                record["vote"]["id"],
                member["organisation_id"],
                member["organisation"],
                counted.get(member["organisation_id"], ""),
                cast.get("cast_by", ""),
                cast.get("platform", ""),
                cast.get("cast_at", ""),
            )
        )
    return exports.as_csv(columns, rows)


async def decisions_export(settings: Settings, args: Namespace) -> int:
    async with database(settings) as db, db.transaction() as session:
        scope = await register.resolve_scope(session, args.group, args.year)
        content = register.as_file(await register.register(session, scope), args.format)
    return write(content, args.output)


SHELL: dict[str, ShellAction] = {"votes_export": votes_export, "decisions_export": decisions_export}
