"""One person, many chat accounts: one-time link codes.

A code is a secret: it is shown once, in a private chat, and kept only as its SHA-256. Guessing
is bounded: an account that sent `ACCOUNT_LIMIT` wrong codes within `WINDOW` waits, and so does
everyone once the whole alliance has seen `ALLIANCE_LIMIT` wrong codes in that time (a wrong
code names no person, so many accounts guessing together are held back there). Every refusal
is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, people
from storage.errors import RecordedRefusal, Refused
from storage.models import ChatAccount, LinkCode, LinkFailure, Person
from storage.rules.text import n_words, quote

CODE_LIFETIME = timedelta(minutes=10)  # between one's own two accounts
WELCOME_CODE_LIFETIME = timedelta(days=7)  # from the secretariat to a new representative
# No 0/O, 1/I/L: codes are read on one screen and typed on another. Letters and digits only,
# so a code also fits a Telegram deep link (/start link_<code>).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
WINDOW = timedelta(hours=1)
ACCOUNT_LIMIT = 5  # wrong codes from one account within WINDOW
ALLIANCE_LIMIT = 50  # wrong codes from all accounts together within WINDOW


@dataclass(frozen=True)
class IssuedCode:
    code: str  # in clear, for the person to see once; the database keeps only its hash
    expires_at: datetime


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def issue_code(
    session: AsyncSession, person: Person, now: datetime, lifetime: timedelta = CODE_LIFETIME
) -> IssuedCode:
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(LinkCode(code_sha256=_digest(code), person_id=person.id, created_at=now, expires_at=now + lifetime))
    await session.flush()
    return IssuedCode(code, now + lifetime)


async def redeem(session: AsyncSession, text: str, platform: str, user_id: str, now: datetime) -> Person:
    """Link the account (platform, user_id) to the person the code was issued for."""
    await _within_limits(session, platform, user_id, now)
    typed = "".join(text.split()).replace("-", "").upper()
    code = await session.get(LinkCode, _digest(typed), with_for_update=True)
    if code is None:
        await _failed(session, platform, user_id, now, "not a link code")
        raise RecordedRefusal(
            "{text} is not a link code. Send /link on your other account to get one.", text=quote(text)
        )
    if code.used_at is not None:
        await _failed(session, platform, user_id, now, "used before")
        raise RecordedRefusal("That link code was already used; each code works once. Send /link again for a new one.")
    if now >= code.expires_at:
        await _failed(session, platform, user_id, now, "expired")
        raise RecordedRefusal("That link code has expired. Send /link on your other account for a new one.")
    person = await session.get_one(Person, code.person_id)
    owner = await session.scalar(
        select(Person)
        .join(ChatAccount)
        .where(ChatAccount.platform == platform, ChatAccount.platform_user_id == user_id)
    )
    if owner is not None and owner.id == person.id:
        raise Refused("This {platform} account is already linked to you.", platform=platform)
    if owner is not None:
        raise Refused(
            "This {platform} account already belongs to {name}; the secretariat can merge the two.",
            platform=platform,
            name=owner.name,
        )
    code.used_at = now
    await people.add_account(
        session,
        actor=f"person:{person.id} with a link code",
        person=person,
        platform=platform,
        user_id=user_id,
    )
    return person


async def _within_limits(session: AsyncSession, platform: str, user_id: str, now: datetime) -> None:
    """Refuse, before any code is looked at, while this account or the alliance is over its limit."""
    since = now - WINDOW
    recent = select(func.count(), func.min(LinkFailure.at)).where(LinkFailure.at > since)
    mine_count, mine_first = (
        await session.execute(recent.where(LinkFailure.platform == platform, LinkFailure.user_id == user_id))
    ).one()
    if mine_count >= ACCOUNT_LIMIT:
        await _refused(session, platform, user_id, now, "too many wrong codes from this account")
        raise RecordedRefusal(
            n_words(
                "Too many wrong link codes from this account; try again in {count} minute.",
                "Too many wrong link codes from this account; try again in {count} minutes.",
                _minutes(mine_first + WINDOW - now),
            )
        )
    all_count, all_first = (await session.execute(recent)).one()
    if all_count >= ALLIANCE_LIMIT:
        await _refused(session, platform, user_id, now, "too many wrong codes alliance-wide")
        raise RecordedRefusal(
            n_words(
                "Too many wrong link codes were sent lately; linking is paused for everyone. Try again in {count} minute.",
                "Too many wrong link codes were sent lately; linking is paused for everyone. Try again in {count} minutes.",
                _minutes(all_first + WINDOW - now),
            )
        )


async def _failed(session: AsyncSession, platform: str, user_id: str, now: datetime, reason: str) -> None:
    session.add(LinkFailure(platform=platform, user_id=user_id, at=now))
    await _refused(session, platform, user_id, now, reason)


async def _refused(session: AsyncSession, platform: str, user_id: str, now: datetime, reason: str) -> None:
    await audit.record(
        session,
        actor=audit.Personal(f"{platform}:{user_id}", account=f"{platform}:{user_id}"),
        action="link.refused",
        subject=audit.Personal(f"account:{platform}:{user_id}", account=f"{platform}:{user_id}"),
        details={"reason": reason},
        at=now,
    )


def _minutes(left: timedelta) -> int:
    """The wait in whole minutes, rounded up: "try again in 0 minutes" would be a lie."""
    return max(1, -(-int(left.total_seconds()) // 60))
