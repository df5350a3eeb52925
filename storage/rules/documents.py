"""Which files a draft may be: PDF, DOCX, ODT, Markdown or plain text, told by name and content.

The name's extension says what the sender meant; the bytes must agree (a PDF starts with
%PDF-, DOCX and ODT are zip packages with their own markers, text is UTF-8), so a renamed
executable is not accepted as a "report.pdf". Pure functions.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from pathlib import PurePosixPath

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
BY_EXTENSION = {".pdf": PDF, ".docx": DOCX, ".odt": ODT, ".md": MARKDOWN, ".markdown": MARKDOWN, ".txt": TEXT}
ALLOWED = "PDF, DOCX, ODT, Markdown (.md) or plain text (.txt)"
MAX_MEMBERS = 10_000  # a document package has dozens of parts; more is a trap
NAME_LIMIT = 120
_UNSAFE = re.compile(r"[\\/:*?\"<>|]")


class NotADraft(ValueError):
    """The file cannot be a draft; the message says why."""


def classify(name: str, data: bytes) -> str:
    """The media type of an acceptable draft file, or NotADraft."""
    if not data:
        raise NotADraft(f"{name} is empty.")
    media_type = BY_EXTENSION.get(PurePosixPath(name).suffix.lower())
    if media_type is None:
        raise NotADraft(f"{name} is not a draft type: send {ALLOWED}.")
    if not _content_is(media_type, data):
        raise NotADraft(f"{name} does not contain what its name says ({media_type}).")
    return media_type


def safe_name(name: str) -> str:
    """A file name safe to write anywhere and to put in a zip: its base name only (no folder,
    no `..`, no backslash either, for Windows extractors), no control or direction characters,
    no characters a file system refuses, no leading dots, at most NAME_LIMIT characters."""
    visible = "".join(c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C")
    base = re.split(r"[\\/]", visible)[-1]
    cleaned = _UNSAFE.sub("_", base).strip().lstrip(".").strip()
    if len(cleaned) > NAME_LIMIT:
        stem, dot, extension = cleaned.rpartition(".")
        keep = extension if dot and len(extension) <= 10 else ""
        cleaned = cleaned[: NAME_LIMIT - len(keep) - 1] + ("." + keep if keep else "")
    return cleaned or "file"


def _content_is(media_type: str, data: bytes) -> bool:
    if media_type == PDF:
        return data.startswith(b"%PDF-")
    if media_type in (DOCX, ODT):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as package:
                if len(package.infolist()) > MAX_MEMBERS:
                    return False
                names = set(package.namelist())
                if media_type == DOCX:
                    return "word/document.xml" in names
                if "mimetype" not in names:
                    return False
                with package.open("mimetype") as marker:  # a bounded read: never inflate more
                    return marker.read(len(ODT) + 2).strip() == ODT.encode()
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError):
            return False
    try:
        return "\x00" not in data.decode("utf-8")
    except UnicodeDecodeError:
        return False
