"""Votes: one ballot per member organisation. Commands in `commands`, the deadlines and
reminders to non-voters in `deadlines`, how a vote is told in `wording`, its live message in
`live`, the register of decisions in `register`, the shell's `wgbot votes|decisions export` in `shell`, mandates in `mandates`; the transactions in storage/votes.py, the counting rules in storage/rules/voting.py."""

from bot.areas import Area
from handlers.votes import commands, deadlines, live, mandates, register, shell
from storage.rules.text import N_

AREA = Area(
    "votes",
    commands.COMMANDS + mandates.COMMANDS + register.COMMANDS,
    planners=[deadlines.vote_deadlines, mandates.mandate_dates],
    live=[live.LIVE],
    title=N_("Votes"),
    shell=shell.SHELL,
)
