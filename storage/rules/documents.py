"""Which files a draft may be: PDF, DOCX, ODT, Markdown or plain text, told by name and content.

The name's extension says what the sender meant; the bytes must agree (a PDF starts with
%PDF-, DOCX and ODT are zip packages with their own markers, text is UTF-8), so a renamed
executable is not accepted as a "report.pdf". Pure functions.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
BY_EXTENSION = {".pdf": PDF, ".docx": DOCX, ".odt": ODT, ".md": MARKDOWN, ".markdown": MARKDOWN, ".txt": TEXT}
ALLOWED = "PDF, DOCX, ODT, Markdown (.md) or plain text (.txt)"


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


def _content_is(media_type: str, data: bytes) -> bool:
    if media_type == PDF:
        return data.startswith(b"%PDF-")
    if media_type in (DOCX, ODT):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as package:
                names = set(package.namelist())
                if media_type == DOCX:
                    return "word/document.xml" in names
                return "mimetype" in names and package.read("mimetype").strip() == ODT.encode()
        except zipfile.BadZipFile:
            return False
    try:
        return "\x00" not in data.decode("utf-8")
    except UnicodeDecodeError:
        return False
