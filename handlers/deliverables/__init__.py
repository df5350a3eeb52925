"""Deliverables: drafts as numbered versions, comments, status, due-date reminders, export.
Commands in `commands`, the due-date reminders in `due_dates`, `wgbot deliverable export` in `shell`; the transactions in
storage/deliverables.py, what a draft may be in storage/rules/documents.py."""

from bot.areas import Area
from handlers.deliverables import commands, due_dates, shell
from storage.rules.text import N_

AREA = Area(
    "deliverables",
    commands.COMMANDS,
    planners=[due_dates.due_date_reminders],
    title=N_("Deliverables"),
    topics={"deliverable": N_("your group's deliverables: their drafts, versions and status")},
    shell=shell.SHELL,
)
