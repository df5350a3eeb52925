"""What a command changed that the running bot must follow up once the transaction commits.

Each kind of change is made once, by the part of an area that reads it (the vote deadlines'
planner makes `DEADLINES`, the vote's live message makes `STANDING`), and imported by the
handlers that cause it. A misspelt kind is an import error, never a re-planning silently
skipped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, eq=False)
class Changes:
    """One kind of change, e.g. "the open votes' deadlines". Two kinds are never equal, even
    with the same name: the object itself is the key."""

    name: str  # for logs

    def of(self, key: int) -> Change:
        """A change to one thing of this kind (a vote, a meeting)."""
        return Change(self, key)

    @property
    def every(self) -> Change:
        """A change that may touch anything of this kind."""
        return Change(self, None)


@dataclass(frozen=True)
class Change:
    kind: Changes
    key: int | None  # None: the whole kind

    def __str__(self) -> str:
        return self.kind.name if self.key is None else f"{self.kind.name}:{self.key}"
