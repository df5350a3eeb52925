"""The Matrix device's access token, kept in transport_state, sealed with the store key

An upgrade run by the bot itself ([database] upgrade_on_start, the default) knows the store key
and seals the token here. `wgbot db upgrade` at an admin's shell has no store key (admin
commands never get the bot's secrets): the token then stays as it was until the bot's next
start, which seals it (storage/transport_state.py). Going down opens it again, given the key.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 23:00:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op

from storage.sealing import is_sealed, seal_text, unseal_text

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATE = sa.table("transport_state", sa.column("platform"), sa.column("key"), sa.column("value"))
_CREDENTIALS = (_STATE.c.platform == "matrix") & (_STATE.c.key == "access_token")


def upgrade() -> None:
    _rewrite(lambda value, key: value if is_sealed(value) else seal_text(value, key))


def downgrade() -> None:
    _rewrite(lambda value, key: unseal_text(value, key) if is_sealed(value) else value)


def _rewrite(change: Callable[[str, str], str]) -> None:
    store_key = context.config.attributes.get("store_key") or ""
    if not store_key:
        return
    connection = op.get_bind()
    for value in connection.execute(sa.select(_STATE.c.value).where(_CREDENTIALS)).scalars().all():
        connection.execute(_STATE.update().where(_CREDENTIALS).values(value=change(value, store_key)))
