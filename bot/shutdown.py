"""How a wgbot process ends when asked to (SIGINT: Ctrl-C, SIGTERM: systemd, a container): at
any moment, with no traceback, nothing half-written, and an exit status that says why.

From the first line of `wgbot`, a signal is noted instead of raising KeyboardInterrupt in the
middle of whatever runs (an import, a migration, a transaction): an admin command finishes its
one transaction, and a running bot (`App.run`) stops between commands. A second signal ends the
process at once: what was committed is in the database, what was not is not (SQLite's journal
and PostgreSQL roll an unfinished transaction back). The status is 128 + the signal's number
(130 for SIGINT, 143 for SIGTERM), as shells report a process a signal ended.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_asked: list[int] = []  # the signals received, first first
_listeners: list[Callable[[], None]] = []


def install() -> None:
    """Note SIGINT and SIGTERM from now on, instead of their default effect."""
    for signum in SIGNALS:
        signal.signal(signum, _noted)


def _noted(signum: int, frame: FrameType | None) -> None:
    note(signum)


def note(signum: int) -> None:
    """A signal came: the first asks to stop (every listener is told), a second ends the process now."""
    if _asked:
        sys.stderr.flush()
        os._exit(128 + _asked[0])
    _asked.append(signum)
    for listener in list(_listeners):
        listener()


def asked() -> bool:
    return bool(_asked)


def listen(listener: Callable[[], None]) -> Callable[[], None]:
    """Tell `listener` when a stop is asked for (now, if it was already); returns how to stop listening."""
    _listeners.append(listener)
    if _asked:
        listener()
    return lambda: _listeners.remove(listener)


def exit_status(status: int) -> int:
    """`status`, or 128 + the signal that asked the process to stop."""
    return 128 + _asked[0] if _asked else status
