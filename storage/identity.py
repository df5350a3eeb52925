"""One person, many chat accounts: one-time link codes."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import people
from storage.errors import Refused
from storage.models import ChatAccount, LinkCode, Person

CODE_LIFETIME = timedelta(minutes=10)  # between one's own two accounts
WELCOME_CODE_LIFETIME = timedelta(days=7)  # from the secretariat to a new representative
# No 0/O, 1/I/L: codes are read on one screen and typed on another. Letters and digits only,
# so a code also fits a Telegram deep link (/start link_<code>).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


async def issue_code(
    session: AsyncSession, person: Person, now: datetime, lifetime: timedelta = CODE_LIFETIME
) -> LinkCode:
    code = LinkCode(
        code="".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)),
        person_id=person.id,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(code)
    await session.flush()
    return code


async def redeem(session: AsyncSession, text: str, platform: str, user_id: str, now: datetime) -> Person:
    """Link the account (platform, user_id) to the person the code was issued for."""
    typed = "".join(text.split()).replace("-", "").upper()
    code = await session.get(LinkCode, typed, with_for_update=True)
    if code is None:
        raise Refused(f"{text!r} is not a link code. Send /link on your other account to get one.")
    if code.used_at is not None:
        raise Refused("That link code was already used; each code works once. Send /link again for a new one.")
    if now >= code.expires_at:
        raise Refused("That link code has expired. Send /link on your other account for a new one.")
    person = await session.get_one(Person, code.person_id)
    owner = await session.scalar(
        select(Person)
        .join(ChatAccount)
        .where(ChatAccount.platform == platform, ChatAccount.platform_user_id == user_id)
    )
    if owner is not None and owner.id == person.id:
        raise Refused(f"This {platform} account is already linked to you.")
    if owner is not None:
        raise Refused(f"This {platform} account already belongs to {owner.name}; the secretariat can merge the two.")
    code.used_at = now
    await people.add_account(
        session,
        actor=f"person:{person.id} {person.name} with a link code",
        person=person,
        platform=platform,
        user_id=user_id,
    )
    return person
