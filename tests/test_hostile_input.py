"""Every input of the shell and of the web view, fed what breaks programs: numbers out of range,
huge integers, NUL and bytes that are not UTF-8. The answer is one line (exit 2 for a value
written wrong, 1 for one that names nothing) or a 400/404 page; never a traceback, never a 500.

The shell's inputs are read from its own argparse tables, so a command added later is fed too."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import cli
from bot.areas import Services
from bot.http import HttpServer
from handlers import web
from tests.alliance import member_organisation, person
from tests.conftest import free_port
from tests.test_web import settings_for

pytestmark = pytest.mark.sqlite_only  # the edges are under test; storage is tested on both elsewhere

HOSTILE = ["-1", "0", "0000", "99999999999", "9" * 25, "#" + "9" * 25, "x\x00y", "\udcff\udcfe", "", " "]
# Commands left out: they serve (run, console), write developer files (db revision), or act on a
# Matrix account (none is configured here, and they refuse in one line before reading anything).
SERVING = {"run", "console", "db_revision", "matrix_cross_sign", "matrix_setup"}


def leaf_commands() -> list[tuple[list[str], argparse.ArgumentParser]]:
    """Every command the shell has, as (its words, its parser)."""
    found = []

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers:
            if parser.get_default("action") not in SERVING:
                found.append((words, parser))
            return
        for name, child in subparsers[0].choices.items():
            walk(child, [*words, name])

    walk(cli._parser(), [])
    return found


def inputs(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction) and a.nargs != 0]


CONFIG = next(a for a in cli._parser()._actions if "--config" in a.option_strings)  # every command has it


class Shell:
    """`wgbot` run in this process (as `bot.cli.main`), in a directory with its own database."""

    def __init__(self, home: Path, capsys, monkeypatch) -> None:
        self.home, self.capsys = home, capsys
        monkeypatch.chdir(home)
        monkeypatch.setenv("WGBOT_LOGGING__LEVEL", "WARNING")
        for name in ("WGBOT_CONFIG", "WGBOT_DATABASE__URL"):
            monkeypatch.delenv(name, raising=False)
        (home / "members.csv").write_text("organisation,country,kind\nACME GmbH,DE,industry\n")

    def good(self, action: argparse.Action) -> list[str]:
        """A value that is right for `action`, so that only the hostile one is wrong."""
        dest = action.dest
        value = {
            "name": "Test Org",
            "country": "DE",
            "kind": "industry",
            "role": ["secretariat"],
            "account": ["telegram:424242"] if action.option_strings else "telegram:424242",
            "room": "telegram:-1004242",
            "group": ["pfas"] if action.option_strings and action.nargs else "pfas",
            "file": str(self.home / "members.csv"),
            "dir": str(self.home / "backup-dir"),
            "output": str(self.home / "out.bin"),
            "list": "members",
            "keep": "#1",
            "other": "#2",
            "message": "m",
            "checkpoint": "1:" + "0" * 64,
        }.get(dest, "1")
        return value if isinstance(value, list) else [value]

    def run(self, argv: list[str]) -> tuple[int, str]:
        before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            status = cli.main(argv)
        except SystemExit as ended:
            status = ended.code if isinstance(ended.code, int) else 2
        finally:
            for signum, handler in before.items():
                signal.signal(signum, handler)
        return status, self.capsys.readouterr().err


@pytest.fixture
def shell(tmp_path, capsys, monkeypatch) -> Shell:
    shell = Shell(tmp_path, capsys, monkeypatch)
    for argv in (
        ["db", "upgrade"],
        ["org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry", "--group", "pfas"],
        ["person", "add", "Jana Novak", "--org", "#1", "--account", "console:jana"],
        ["person", "add", "Piet Jansen", "--org", "#1"],
    ):
        assert shell.run(argv)[0] == 0
    return shell


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_shell_input_fed_hostile_values_answers_in_one_line(shell, data):
    words, parser = data.draw(st.sampled_from(leaf_commands()), label="command")
    target = data.draw(st.sampled_from([CONFIG, *inputs(parser)]), label="input")
    hostile = data.draw(st.sampled_from(HOSTILE), label="value")
    argv = ["--config", hostile, *words] if target is CONFIG else list(words)
    for action in inputs(parser):
        if action is target:
            argv += [*action.option_strings[:1], hostile]
        elif action.required or not action.option_strings:
            argv += [*action.option_strings[:1], *shell.good(action)]
    status, errors = shell.run(argv)
    assert "Traceback" not in errors and "Error" not in errors.split(":")[0], errors
    assert status in (0, 1, 2), (argv, status, errors)
    lines = errors.strip().splitlines()
    assert len(lines) <= 1 and (status != 2 or len(lines) == 1), (argv, status, errors)  # 1: also a report
    assert all(line.startswith("wgbot") for line in lines), errors


@pytest.fixture
async def site(db):
    acme = await member_organisation(db, "ACME GmbH", joins=("pfas",))
    await person(db, "Jana Novak", organisation=acme, accounts=("console:jana",), roles=("chair:pfas",))
    port = free_port()
    settings_ = settings_for(port, "public")
    server = HttpServer(
        settings_.http,
        db,
        expected=list,
        ready=lambda: True,
        pages=web.AREA.pages,
        services=Services(db, settings_, changed=lambda change: None),
    )
    await server.start()
    yield f"http://127.0.0.1:{port}"
    await server.stop()


WEB_HOSTILE = ["-1", "0", "0000", "99999999999999999999", "9" * 25, "%00", "a%00b", "%FF%FE", "%C3", "%ED%A0%80"]
PAGES = ["/", "/decisions", "/groups/{v}", "/audit", "/calendar/{v}.ics"]
PARAMETERS = ["year", "group", "lang", "token"]


async def test_every_web_page_fed_hostile_parameters_answers_400_or_404_never_500(site):
    """Each page, each query parameter (and each path parameter), each hostile value."""
    asked = []
    for page in PAGES:
        for value in WEB_HOSTILE:
            path = page.format(v=value) if "{v}" in page else page
            asked += [f"{path}?{parameter}={value}" for parameter in PARAMETERS]
            if "{v}" in page:
                asked.append(path)
    async with aiohttp.ClientSession() as http:

        async def status(path: str) -> tuple[str, int, str]:
            async with http.get(f"{site}{path}") as answer:
                return path, answer.status, await answer.text()

        answered = await asyncio.gather(*(status(path) for path in asked))
    for path, code, body in answered:
        assert code in (200, 400, 404), (path, code, body[:300])
        assert "Traceback" not in body
    assert {code for _, code, _ in answered} >= {200, 400, 404}
    with contextlib.suppress(StopIteration):
        year_zero = next(code for path, code, _ in answered if path == "/decisions?year=0000")
        assert year_zero == 400
