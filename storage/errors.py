"""The one exception the rest of wgbot turns into a one-line answer."""

from storage.rules.text import Words


class Refused(Exception):
    """An act refused for a reason the person can understand and fix.

    Its message goes back to the person, so it must say what was wrong in their words. Written
    as a template with named values (`Refused("No vote {id}.", id=7)`), it is said in the
    reader's language; an f-string is said as it is, in English. Everything the act wrote is
    undone.
    """

    keep = False  # whether what was written before the refusal is kept (see RecordedRefusal)

    def __init__(self, message: str | Words, *, shell: str | None = None, **values: object) -> None:
        self.words = message if isinstance(message, Words) else Words(message, values)
        # How the operator's shell says it, when the chat's words point to chat commands ("/vote
        # list shows them"): the shell names its own commands, in English.
        self.shell = shell
        super().__init__(str(self.words))


class RecordedRefusal(Refused):
    """A refusal that is itself recorded: what was written before it (a failed attempt that
    counts against a limit, the audit line of the refusal) is committed, nothing else was."""

    keep = True


class Misread(Refused):
    """Words that cannot be read as what the command wants there: a time, a time zone, a number,
    one word of a fixed list. The command was not written as its usage line says, so the answer
    ends with that line (a refusal of what a well-written command asks does not)."""
