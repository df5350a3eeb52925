"""The house keeps its shape: the bot's machinery knows no area, the areas know no chat
library, and the rules are pure computation. Read from the source, so a new import that
breaks a layer fails here before anyone has to notice it in review."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Collection

import pytest

from tests.conftest import REPO

COMPOSITION_ROOT = {"bot/main.py"}  # the one bot/ module that hands the areas to the bot (their list)
# Pure computation the rules may lean on: RFC 5545 recurrence is dateutil's, not ours to write.
PURE_LIBRARIES = {"dateutil"}


def imported(source: str, package: str) -> set[str]:
    """Every module a source imports, absolute (relative imports resolved against its package)."""
    tree = ast.parse(source)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            else:
                found.add(node.module or "")
    return found


def top(module: str) -> str:
    return module.split(".")[0]


def offenders(
    folder: str, forbidden: Callable[[str], bool], allowed_files: Collection[str] = ()
) -> dict[str, list[str]]:
    """file → the modules it imports that its layer forbids."""
    found = {}
    for path in sorted((REPO / folder).rglob("*.py")):
        name = path.relative_to(REPO).as_posix()
        if name in allowed_files:
            continue
        package = ".".join(path.relative_to(REPO).parts[:-1])
        bad = sorted(m for m in imported(path.read_text(), package) if forbidden(m))
        if bad:
            found[name] = bad
    return found


def test_the_bot_machinery_imports_no_area_but_in_its_composition_root():
    assert offenders("bot", lambda m: top(m) == "handlers", COMPOSITION_ROOT) == {}


def test_the_composition_root_takes_the_area_list_and_nothing_else_of_the_areas():
    """bot/main.py hands the areas to the bot: it imports their list, never one area's records."""
    [root] = COMPOSITION_ROOT
    areas = {m for m in imported((REPO / root).read_text(), "bot") if top(m) == "handlers"}
    assert areas == {"handlers"}


def test_only_the_transports_import_a_chat_library():
    chat = lambda m: top(m) in {"telegram", "nio"}  # noqa: E731
    assert (
        offenders("bot", chat, [p.relative_to(REPO).as_posix() for p in (REPO / "bot/transports").rglob("*.py")]) == {}
    )
    assert offenders("storage", chat) == {}  # and handlers/: test_the_areas_never_import_a_chat_library


def test_every_shell_command_has_exactly_one_owner():
    """Each command the command line can produce is carried out by the program (bot/main.py) or by
    exactly one area's `shell`; none is owned twice, none is owned without a way to call it."""
    import argparse

    from bot import cli, main
    from handlers import AREAS

    parsed: list[str] = []

    def walk(parser: argparse.ArgumentParser) -> None:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers:
            parsed.append(parser.get_default("action"))
        for child in subparsers[0].choices.values() if subparsers else ():
            walk(child)

    walk(cli._parser())
    owners = [*main.PROGRAM, *(name for area in AREAS for name in area.shell)]
    assert sorted(owners) == sorted(parsed) and len(set(owners)) == len(owners)
    assert set(main.commands()) == set(parsed)


def test_the_areas_never_import_a_chat_library():
    assert offenders("handlers", lambda m: top(m) in {"telegram", "nio"}) == {}


def test_the_rules_import_only_the_standard_library():
    assert offenders("storage/rules", _foreign_to_rules) == {}


def _foreign_to_rules(module: str) -> bool:
    return top(module) not in sys.stdlib_module_names | PURE_LIBRARIES and not module.startswith("storage.rules")


@pytest.mark.parametrize(
    ("source", "package", "forbidden"),
    [
        ("from handlers.votes import commands\n", "bot", lambda m: top(m) == "handlers"),
        ("import nio.crypto\n", "handlers.votes", lambda m: top(m) in {"telegram", "nio"}),
        ("from ..models import Vote\n", "storage.rules", _foreign_to_rules),
        ("import sqlalchemy\n", "storage.rules", _foreign_to_rules),
    ],
)
def test_the_checks_see_a_broken_layer(source, package, forbidden):
    assert any(forbidden(module) for module in imported(source, package))
