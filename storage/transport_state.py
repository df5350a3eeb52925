"""A small persistent memory for transports, kept in the database with everything else."""

from __future__ import annotations

from storage.db import Database
from storage.models import TransportState, utcnow


class TransportMemory:
    """Key-value state of one platform's transport; each write commits on its own."""

    def __init__(self, db: Database, platform: str) -> None:
        self.db = db
        self.platform = platform

    async def get(self, key: str) -> str | None:
        async with self.db.transaction() as session:
            row = await session.get(TransportState, (self.platform, key))
            return row.value if row else None

    async def put(self, key: str, value: str) -> None:
        async with self.db.transaction() as session:
            row = await session.get(TransportState, (self.platform, key))
            if row is None:
                session.add(TransportState(platform=self.platform, key=key, value=value))
            else:
                row.value, row.updated_at = value, utcnow()
