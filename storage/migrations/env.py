"""Alembic environment: always run on a connection handed over by storage.migrate."""

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from storage.models import Base, UTCDateTime


def render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write the zone-keeping datetime as the plain column type it is in the database."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `wgbot db upgrade`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite can only ALTER a table by copying it
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
