"""The `wgbot` program's first lines: signals are noted (bot/shutdown.py) before anything else
loads, so even Ctrl-C while the program is still starting ends it without a traceback."""

from __future__ import annotations

from bot import shutdown


def main() -> int:
    shutdown.install()
    from bot.cli import main as command_line

    return command_line()
