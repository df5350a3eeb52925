"""With a store key configured, the Matrix device's access token is kept sealed in the database:
a reader of the table (or of a backup) without the key cannot act as the bot. One written in
clear by an older wgbot is sealed by the migration (when the bot upgrades its own database) or
at the bot's next start (after `wgbot db upgrade` at a shell, which has no store key)."""

from __future__ import annotations

from sqlalchemy import select, text

from storage import migrate
from storage.db import Database
from storage.models import TransportState
from storage.sealing import SEALED
from storage.transport_state import TransportMemory

TOKEN = "syt_d2dib3Q_secretsecretsecret_0abcde"
STORE_KEY = "a store key of sixteen characters or more"


async def stored(db: Database) -> str | None:
    async with db.transaction() as session:
        return await session.scalar(
            select(TransportState.value).where(
                TransportState.platform == "matrix", TransportState.key == "access_token"
            )
        )


async def test_a_token_is_kept_sealed_and_read_back_only_with_its_store_key(db):
    memory = TransportMemory(db, "matrix", STORE_KEY)
    await memory.put_secret("access_token", TOKEN)
    kept = await stored(db)
    assert kept.startswith(SEALED) and "syt_" not in kept and "secret" not in kept
    assert await memory.get_secret("access_token") == TOKEN
    assert await TransportMemory(db, "matrix", "another store key, also long").get_secret("access_token") is None
    assert await TransportMemory(db, "matrix").get_secret("access_token") is None


async def test_a_token_an_older_wgbot_kept_in_clear_is_sealed_when_next_read(db):
    await TransportMemory(db, "matrix").put("access_token", TOKEN)  # as wgbot kept it before
    assert await TransportMemory(db, "matrix", STORE_KEY).get_secret("access_token") == TOKEN
    assert (await stored(db)).startswith(SEALED)


async def test_the_migration_seals_a_clear_token_when_the_bot_upgrades_with_its_store_key(empty_database_url):
    db = Database.connect(empty_database_url)
    try:
        await migrate.upgrade(db, "0022")
        async with db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO transport_state (platform, key, value, updated_at) VALUES "
                    "('matrix', 'access_token', :token, CURRENT_TIMESTAMP), "
                    "('matrix', 'next_batch', 's72594_4483', CURRENT_TIMESTAMP)"
                ),
                {"token": TOKEN},
            )
        await migrate.upgrade(db, "0023")  # `wgbot db upgrade` at a shell: no store key, nothing to seal with
        assert await stored(db) == TOKEN
        await migrate.downgrade(db, "0022")
        await migrate.upgrade(db, store_key=STORE_KEY)  # the bot upgrading its own database
        assert (await stored(db)).startswith(SEALED)
        assert await TransportMemory(db, "matrix", STORE_KEY).get_secret("access_token") == TOKEN
        assert await TransportMemory(db, "matrix").get("next_batch") == "s72594_4483"  # not a credential
        await migrate.downgrade(db, "0022", store_key=STORE_KEY)
        assert await stored(db) == TOKEN
    finally:
        await db.close()
