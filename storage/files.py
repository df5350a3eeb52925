"""A content-addressed store for drafts and minutes: each file is kept once, under its SHA-256.

The database holds what a file is (name, media type, who, when) and its hash; the bytes live on
disk. A file is written to a temporary name and renamed, so a reader never sees half of one,
and a file written by a transaction that then rolls back is removed again, unless it was
already there before (then another record uses it).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @staticmethod
    def hash(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, session: AsyncSession, data: bytes) -> tuple[str, bool]:
        """Keep `data`; returns its SHA-256 and whether it is new to the store."""
        sha256 = self.hash(data)
        target = self.path(sha256)
        if target.exists():
            return sha256, False
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        event.listen(session.sync_session, "after_rollback", lambda _: target.unlink(missing_ok=True), once=True)
        return sha256, True

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()
