"""The deliverables at the shell: `wgbot deliverable export`, the zip `/deliverable export` sends."""

from __future__ import annotations

from argparse import Namespace

from bot.config import Settings
from bot.shell import ShellAction, database, write_file
from storage import deliverables
from storage.files import FileStore
from storage.rules.text import counted


async def deliverable_export(settings: Settings, args: Namespace) -> int:
    async with database(settings) as db, db.transaction() as session:
        item = await deliverables.find(session, args.id)
        archive = await deliverables.export_archive(session, item, FileStore(settings.files.path))
        count = len(await deliverables.versions(session, item.id))
    write_file(args.output, archive)
    print(
        f"wrote {args.output}: deliverable {item.id} ({item.title}), {counted(count, 'version')}, "
        f"{counted(len(archive), 'byte')}"
    )
    return 0


SHELL: dict[str, ShellAction] = {"deliverable_export": deliverable_export}
