"""How people write a record's number: "12" or "#12", within what the databases hold."""

LARGEST_ID = 2**31 - 1  # the databases' integer ids; a larger number names nothing


def record_number(ref: str) -> int | None:
    """ "12" or "#12" as a record's number (1 to LARGEST_ID); None when the text is no number
    at all; 0, which names no record, when it is a number out of that range."""
    digits = ref.strip().removeprefix("#")
    if not digits.isascii() or not digits.isdigit():
        return None
    return int(digits) if len(digits) <= 10 and 1 <= int(digits) <= LARGEST_ID else 0
