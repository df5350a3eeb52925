"""The house keeps its shape: the bot's machinery knows no area, the areas know no chat
library, and the rules are pure computation. Read from the source, so a new import that
breaks a layer fails here before anyone has to notice it in review."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Collection

import pytest

from tests.conftest import REPO

COMPOSITION_ROOT = {"bot/main.py"}  # the one bot/ module that hands the areas to the bot
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
