"""Guided conversations in progress, kept in the database so they survive restarts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Dialog, utcnow


async def current(session: AsyncSession, platform: str, user_id: str) -> Dialog | None:
    return await session.get(Dialog, (platform, user_id))


async def save(session: AsyncSession, platform: str, user_id: str, kind: str, answers: dict[str, Any]) -> Dialog:
    dialog = await session.get(Dialog, (platform, user_id))
    if dialog is None:
        dialog = Dialog(platform=platform, user_id=user_id, kind=kind, answers=answers)
        session.add(dialog)
    else:
        # A new dict, so the JSON column sees the change.
        dialog.kind, dialog.answers, dialog.updated_at = kind, dict(answers), utcnow()
    await session.flush()
    return dialog


async def end(session: AsyncSession, platform: str, user_id: str) -> bool:
    dialog = await session.get(Dialog, (platform, user_id))
    if dialog is None:
        return False
    await session.delete(dialog)
    return True
