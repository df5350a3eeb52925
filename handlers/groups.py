"""/wg: the alliance's working groups."""

from __future__ import annotations

from bot.commands import Call, Command, Param
from bot.context import Context
from bot.transports.base import Reply
from storage import groups


async def wg_list(ctx: Context, call: Call) -> Reply:
    """List every working group with its members and chairs."""
    all_groups = await groups.list_groups(ctx.session)
    if not all_groups:
        return Reply("There are no working groups yet.")
    counts = await groups.member_counts(ctx.session)
    chairs = await groups.chairs_by_group(ctx.session)
    lines = [f"{len(all_groups)} working groups:"]
    for group in all_groups:
        members = counts.get(group.id, 0)
        chaired = ", ".join(chairs.get(group.id, [])) or "no chair yet"
        lines.append(
            f"• {group.name} ({group.slug}) — {members} member organisation"
            f"{'' if members == 1 else 's'}, chair: {chaired}"
        )
    lines.append("/wg info <group> for details.")
    return Reply("\n".join(lines))


async def wg_info(ctx: Context, call: Call) -> Reply:
    """Show one group's mandate, chairs, member organisations and rooms."""
    group = await groups.find_group(ctx.session, call.args["group"])
    view = await groups.overview(ctx.session, group)
    lines = [f"{group.name} ({group.slug})"]
    if group.mandate:
        lines.append(f"Mandate: {group.mandate}")
    lines.append(f"Chair: {', '.join(view.chairs) or 'none yet'}")
    lines.append(
        f"Member organisations ({len(view.members)}): {', '.join(view.members) or 'none yet'}"
    )
    lines.append(f"Rooms: {len(view.rooms)}")
    return Reply("\n".join(lines))


COMMANDS = [
    Command("wg list", "list the working groups", wg_list, anywhere=True),
    Command(
        "wg info",
        "show a working group's mandate, chairs and members",
        wg_info,
        params=(Param("group", rest=True),),
        anywhere=True,
    ),
]
