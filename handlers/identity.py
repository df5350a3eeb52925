"""/whoami: who the alliance thinks you are."""

from __future__ import annotations

from bot.commands import Call, Command
from bot.context import Context
from bot.transports.base import Reply
from storage import people
from storage.models import RoleName


async def whoami(ctx: Context, call: Call) -> Reply:
    """Show the sender's person, organisation, roles and linked accounts."""
    actor = ctx.actor
    if not actor.is_known:
        return Reply(
            f"You are {actor.display_name} on {actor.platform} ({actor.platform_user_id}), "
            "not yet known to the alliance. If your organisation is a member, ask the "
            "secretariat to add you as a representative."
        )
    person = await people.load_person(ctx.session, actor.person_id)
    lines = [f"You are {person.name} (person #{person.id})."]
    if person.organisation:
        org = person.organisation
        lines.append(
            f"Organisation: {org.name} ({org.country}, {org.kind.value}), {org.status.value}."
        )
    else:
        lines.append("Organisation: none.")
    roles = [
        f"chair of {r.group.name}" if r.role == RoleName.CHAIR else r.role.value
        for r in person.roles
    ]
    lines.append(f"Roles: {', '.join(roles) or 'none'}.")
    accounts = [f"{a.platform} {a.platform_user_id}" for a in person.accounts]
    lines.append(f"Linked accounts: {', '.join(accounts)}.")
    lines.append(f"Time zone: {person.timezone or ctx.settings.alliance.timezone}.")
    return Reply("\n".join(lines))


COMMANDS = [
    Command("whoami", "show who you are to the alliance", whoami, anywhere=True),
]
