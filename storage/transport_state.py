"""A small persistent memory for transports, kept in the database with everything else."""

from __future__ import annotations

import logging

from storage.db import Database
from storage.models import TransportState, utcnow
from storage.sealing import WrongStoreKey, is_sealed, seal_text, unseal_text

log = logging.getLogger(__name__)


class TransportMemory:
    """Key-value state of one platform's transport; each write commits on its own.

    A credential (the Matrix device's access token) is kept sealed with the store key, when
    one is configured (`get_secret`, `put_secret`): whoever reads the table or a backup of it
    without the store key cannot act as the bot."""

    def __init__(self, db: Database, platform: str, store_key: str = "") -> None:
        self.db = db
        self.platform = platform
        self.store_key = store_key

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

    async def get_secret(self, key: str) -> str | None:
        """A credential as it was put; one an older wgbot kept in clear is sealed now (with a
        store key). None when it is sealed under another store key, or there is none to open it."""
        kept = await self.get(key)
        if kept is None:
            return None
        if not is_sealed(kept):
            if self.store_key:
                await self.put_secret(key, kept)
            return kept
        if not self.store_key:
            log.warning("%s: the stored %s is sealed, and no store key is configured to open it", self.platform, key)
            return None
        try:
            return unseal_text(kept, self.store_key)
        except WrongStoreKey:
            log.warning("%s: the stored %s was sealed under another store key; it is not used", self.platform, key)
            return None

    async def put_secret(self, key: str, value: str) -> None:
        await self.put(key, seal_text(value, self.store_key) if self.store_key else value)
