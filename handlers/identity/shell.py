"""The people at the shell: `wgbot person add|list|link|unlink|merge`, and what a person may ask
of their data: `wgbot person export` (GDPR art. 15) and `wgbot person erase` (art. 17)."""

from __future__ import annotations

import json
from argparse import Namespace

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.shell import Declined, ShellAction, admin, database, operator, write
from storage import audit, groups, merging, organisations, people, personal_data


async def person_add(session: AsyncSession, actor: str, args: Namespace) -> None:
    organisation = await organisations.find_organisation(session, args.org) if args.org else None
    try:
        person = await people.add_person(
            session, actor=actor, name=args.name, organisation=organisation, same_name_ok=args.same_name_ok
        )
    except people.SameName as same:
        known = same.existing
        where = f"for {organisation.name}" if organisation else "with no organisation"
        account = args.account[0] if args.account else "<platform:user>"
        raise Declined(
            f"{known.name} (#{known.id}) is already known {where}: nothing was added. To give them another "
            f"account: wgbot person link '#{known.id}' {account}. If this is another person of the same name, "
            "add --same-name-ok."
        ) from None
    for text in args.role:
        role, group_ref = people.parse_role(text)
        group = await groups.find_group(session, group_ref) if group_ref else None
        await people.assign_role(session, actor=actor, person=person, role=role, group=group)
    for text in args.account:
        platform, user_id = people.parse_account(text)
        await people.add_account(session, actor=actor, person=person, platform=platform, user_id=user_id)
    print(f"added person #{person.id} {person.name}")


async def person_list(session: AsyncSession, actor: str, args: Namespace) -> None:
    for person in await people.list_people(session):
        org = person.organisation.name if person.organisation else "-"
        roles = ", ".join(f"chair:{r.group.slug}" if r.group else r.role.value for r in person.roles)
        accounts = ", ".join(f"{a.platform}:{a.platform_user_id}" for a in person.accounts)
        print(f"#{person.id}\t{person.name}\t{org}\t{roles or '-'}\t{accounts or '-'}")


async def person_link(session: AsyncSession, actor: str, args: Namespace) -> None:
    person = await people.find_person(session, args.person)
    platform, user_id = people.parse_account(args.account)
    owner = await people.owner_of(session, platform, user_id)
    if owner is not None and owner.id == person.id:
        print(f"{platform}:{user_id} is already {person.name}'s (#{person.id}); nothing to do")
        return
    if owner is not None:
        raise Declined(
            f"{platform}:{user_id} belongs to {owner.name} (#{owner.id}). If that is the same person: "
            f"wgbot person merge '#{person.id}' '#{owner.id}'"
        )
    await people.add_account(session, actor=actor, person=person, platform=platform, user_id=user_id)
    print(f"linked {platform}:{user_id} to {person.name} (#{person.id})")


async def person_unlink(session: AsyncSession, actor: str, args: Namespace) -> None:
    person = await people.find_person(session, args.person)
    platform, user_id = people.parse_account(args.account)
    owner = await people.owner_of(session, platform, user_id)
    if owner is None or owner.id != person.id:
        whose = f"{owner.name}'s (#{owner.id})" if owner else "nobody's"
        raise Declined(f"{platform}:{user_id} is not {person.name}'s (#{person.id}) but {whose}; nothing was changed")
    await people.unlink_account(session, actor=actor, person=person, platform=platform, user_id=user_id)
    print(f"unlinked {platform}:{user_id} from {person.name} (#{person.id})")


async def person_merge(session: AsyncSession, actor: str, args: Namespace) -> None:
    keep = await people.find_person(session, args.keep)
    other = await people.find_person(session, args.other)
    try:
        merged = await merging.merge(session, actor=actor, keep=keep, other=other, force=args.force)
    except merging.Conflict:
        raise Declined(
            f"#{keep.id} and #{other.id} represent different organisations; nothing was merged. If #{keep.id}'s "
            f"organisation is the right one, run again with --force (#{other.id}'s chairs end)."
        ) from None
    print(f"merged #{merged.other_id} into {keep.name} (#{keep.id})")
    for table, count in sorted(merged.moved.items()):
        print(f"  moved\t{table}\t{count}")
    for table, count in sorted(merged.dropped.items()):
        print(f"  held by both, #{keep.id}'s kept\t{table}\t{count}")
    for note in merged.notes:
        print(f"  {note}")


async def person_export(settings: Settings, args: Namespace) -> int:
    async with database(settings) as db, db.transaction() as session:
        person = await people.find_person(session, args.person)
        held = await personal_data.export(session, person)
        await audit.record(session, actor=operator(), action="person.exported", subject=f"person:{person.id}")
    return write((json.dumps(held, indent=2, ensure_ascii=False) + "\n").encode(), args.output)


async def person_erase(settings: Settings, args: Namespace) -> int:
    async with database(settings) as db:
        async with db.sessions() as session:
            person = await people.find_person(session, args.person)
            who = f"{person.name} (#{person.id})"
            erased = await personal_data.erase(session, person)
            await (session.commit() if args.yes else session.rollback())
        if args.yes:
            await db.forget_overwritten()
    if not args.yes:
        print(f"Would erase {who}; nothing was changed. Run again with --yes to do it.")
        print(erased.describe(only_shown=True))
        return 1
    print(erased.describe())
    return 0


SHELL: dict[str, ShellAction] = {
    "person_add": admin(person_add),
    "person_list": admin(person_list),
    "person_link": admin(person_link),
    "person_unlink": admin(person_unlink),
    "person_merge": admin(person_merge),
    "person_export": person_export,
    "person_erase": person_erase,
}
