"""The one exception the rest of wgbot turns into a one-line answer."""


class Refused(Exception):
    """An act refused for a reason the person can understand and fix.

    Its message goes back to the person as it is, so it must say what was wrong in their words.
    Everything the act wrote is undone.
    """

    keep = False  # whether what was written before the refusal is kept (see RecordedRefusal)


class RecordedRefusal(Refused):
    """A refusal that is itself recorded: what was written before it (a failed attempt that
    counts against a limit, the audit line of the refusal) is committed, nothing else was."""

    keep = True
