"""Who someone is to the alliance: /whoami, /link, /tz and /lang in `commands`; the people at the
shell (add, link, merge, and a person's data exported or erased) in `shell`."""

from bot.areas import Area
from handlers.identity import commands, shell
from storage.rules.text import N_

AREA = Area("identity", commands.COMMANDS, title=N_("You"), shell=shell.SHELL)
