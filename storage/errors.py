"""The one exception the rest of wgbot turns into a one-line answer."""


class Refused(Exception):
    """An act refused for a reason the person can understand and fix.

    Its message goes back to the person as it is, so it must say what was wrong in their words.
    """
