"""Meetings: scheduling, RSVPs, agendas, minutes, guests, reminders and calendars. Commands in
`commands` and `attendance`, reminders in `reminders`, how a meeting is told in `wording`, the
.ics files in `calendar`; the transactions in storage/meetings.py, recurrence in
storage/rules/recurrence.py."""

from bot.areas import Area
from handlers.meetings import attendance, commands, reminders
from storage.rules.text import N_

AREA = Area(
    "meetings",
    [*commands.COMMANDS, *attendance.COMMANDS],
    planners=[reminders.meeting_reminders],
    title=N_("Meetings"),
    topics={
        "meeting": N_("your group's meetings: when, agenda, minutes, calendar"),
        "guest": N_("guests from outside the alliance at a meeting"),
    },
)
