"""The deployment files as an operator installs them: the systemd unit and its drop-ins, run
the way systemd runs them (credentials, environment, ExecStartPre, ExecStart) against
PostgreSQL as the least-privileged role the README creates; and what `.gitignore` keeps out of
a commit."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from bot.config import Settings, stray_variables
from tests.conftest import _pg_admin, _require_postgres, free_port, pg_url
from tests.telegram_emulator import BotApiEmulator
from tests.wgbot_process import WGBOT

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "wgbot.service"
DROP_INS = ROOT / "deploy" / "wgbot.service.d"
INSTALLED = "/opt/wgbot/bin/wgbot"  # where the unit's steps install wgbot
GROUP = -1001234567890


@dataclass
class Unit:
    """What systemd makes of a service unit and its drop-ins: later assignments win, as there."""

    environment: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, Path] = field(default_factory=dict)
    start_pre: list[list[str]] = field(default_factory=list)
    start: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, *files: Path) -> Unit:
        unit = cls()
        for file in files:
            section = ""
            for line in file.read_text().splitlines():
                if not line.strip() or line.startswith(("#", ";")):
                    continue
                if line.startswith("["):
                    section = line.strip("[]")
                    continue
                key, _, value = line.partition("=")
                if section == "Service":
                    unit._assign(key, value)
        return unit

    def _assign(self, key: str, value: str) -> None:
        if key == "Environment":
            self.environment.update(word.split("=", 1) for word in shlex.split(value))  # type: ignore[misc]
        elif key == "LoadCredential":
            name, _, path = value.partition(":")
            self.credentials[name] = Path(path)
        elif key == "ExecStartPre":
            self.start_pre.append(shlex.split(value))
        elif key == "ExecStart":
            self.start = shlex.split(value)


def test_the_unit_and_each_platform_drop_in_pass_systemd_analyze_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: .ci/run installs Debian's systemd package")
        pytest.skip("systemd-analyze is not installed (Debian's systemd package)")
    installed = (ROOT / ".venv" / "bin" / "wgbot").resolve() if (ROOT / ".venv").exists() else Path(WGBOT)
    unit = tmp_path / "wgbot.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED, str(installed)))  # verify checks the program exists
    for platforms in (["telegram.conf"], ["matrix.conf"], ["telegram.conf", "matrix.conf"]):
        drop_ins = tmp_path / "wgbot.service.d"
        shutil.rmtree(drop_ins, ignore_errors=True)
        drop_ins.mkdir()
        for name in platforms:
            shutil.copy(DROP_INS / name, drop_ins / name)
        checked = subprocess.run(
            ["systemd-analyze", "verify", "wgbot.service"],
            cwd=tmp_path,
            env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert checked.returncode == 0 and checked.stdout + checked.stderr == "", (platforms, checked)


def test_each_drop_in_names_every_secret_of_its_platform_as_a_file():
    """A platform's secrets come as credentials; what the drop-ins set is a real setting."""
    base = Unit.read(UNIT)
    assert base.environment["WGBOT_DATABASE__URL_FILE"] == "%d/database_url" and "WGBOT_CONFIG" not in base.environment
    telegram = Unit.read(DROP_INS / "telegram.conf")
    assert telegram.environment == {"WGBOT_TELEGRAM__TOKEN_FILE": "%d/telegram_token"}
    assert set(telegram.credentials) == {"telegram_token"}
    matrix = Unit.read(DROP_INS / "matrix.conf")
    assert set(matrix.credentials) == {"matrix_password", "matrix_store_key"}
    for name in matrix.credentials:
        assert matrix.environment[f"WGBOT_MATRIX__{name.removeprefix('matrix_').upper()}_FILE"] == f"%d/{name}"
    setting = {**base.environment, **telegram.environment, **matrix.environment}
    assert stray_variables(setting) == []  # each one a setting wgbot reads


@asynccontextmanager
async def least_privileged_role(password: str) -> AsyncIterator[str]:
    """The README's role and database: a login owning only its database, no superuser."""
    await _require_postgres()
    name = f"wgbot_{uuid.uuid4().hex[:8]}"
    literal = password.replace("'", "''")
    await _pg_admin(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{literal}' NOSUPERUSER NOCREATEDB NOCREATEROLE")
    await _pg_admin(f'CREATE DATABASE "{name}" OWNER "{name}"')
    try:
        yield name
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await _pg_admin(f'DROP ROLE IF EXISTS "{name}"')


async def test_the_unit_as_systemd_runs_it_brings_up_a_telegram_bot_on_postgresql_as_its_own_role(tmp_path):
    password = "p@ss:w/rd?#%"  # every character a URL gives a meaning to
    emulator = BotApiEmulator()
    await emulator.start()
    jana = emulator.person(1001, "Jana")
    emulator.group(GROUP, "PFAS", jana)
    health = free_port()
    own = tmp_path / "own.conf"  # the operator's own drop-in: this machine's port, the emulator
    own.write_text(
        "[Service]\n"
        f"Environment=WGBOT_HTTP__LISTEN=127.0.0.1:{health}\n"
        f'Environment="WGBOT_TELEGRAM__API_URL={emulator.base_url}" WGBOT_TELEGRAM__POLL_TIMEOUT=1\n'
    )
    unit = Unit.read(UNIT, DROP_INS / "telegram.conf", own)
    credentials, state = tmp_path / "credentials", tmp_path / "var-lib-wgbot"
    credentials.mkdir(mode=0o700)
    state.mkdir(mode=0o700)
    try:
        async with least_privileged_role(password) as role:
            url = pg_url(role).replace("postgres@", f"{role}:{quote(password, safe='')}@", 1)
            secrets = {"database_url": url, "telegram_token": emulator.token}
            assert set(unit.credentials) == set(secrets)
            for name, value in secrets.items():
                (credentials / name).write_text(value)
            environment = {k: v for k, v in os.environ.items() if not k.startswith("WGBOT_")}
            environment |= {k: v.replace("%d", str(credentials)) for k, v in unit.environment.items()}

            def command(words: list[str]) -> list[str]:
                assert words[0] == INSTALLED
                return [WGBOT, *words[1:]]

            async def done(words: list[str]) -> str:
                """A command as the unit's user runs it: what it printed, once it succeeded."""
                process = await asyncio.create_subprocess_exec(
                    *words, cwd=state, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
                )
                out, err = await process.communicate()
                assert process.returncode == 0, err.decode()
                return out.decode()

            for step in unit.start_pre:
                assert (await done(command(step))).startswith("applied 0001")
            for setup in (  # the README's first steps, as the same role
                ["org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry", "--group", "pfas"],
                ["person", "add", "Jana Novak", "--org", "ACME GmbH", "--account", "telegram:1001"],
                ["room", "bind", f"telegram:{GROUP}", "--group", "pfas"],
            ):
                await done([WGBOT, *setup])
            log = (tmp_path / "journal").open("wb")
            bot = await asyncio.create_subprocess_exec(
                *command(unit.start), cwd=state, env=environment, stdout=log, stderr=log
            )
            try:
                reply = await emulator.answer_to(await emulator.say(jana, GROUP, "/whoami"), timeout=30)
                assert reply.text.startswith("You are Jana Novak"), (tmp_path / "journal").read_text()
                async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{health}/healthz") as answer:
                    assert answer.status == 200, await answer.text()
                bot.terminate()  # systemctl stop
                assert await asyncio.wait_for(bot.wait(), 20) == 0  # a stop asked for is no failure to restart
            finally:
                if bot.returncode is None:
                    bot.kill()
                    await bot.wait()
                log.close()
            await done([WGBOT, "audit", "verify"])
            journal = (tmp_path / "journal").read_text()
            assert "Traceback" not in journal and password not in journal and quote(password, safe="") not in journal
    finally:
        await emulator.stop()


def test_git_keeps_the_bot_s_data_and_secrets_out_of_a_commit(tmp_path):
    """`git add .` in a checkout where wgbot ran must not commit members' drafts, downloads,
    the database, the crypto store or the secrets."""
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    defaults = Settings()
    written = [
        defaults.files.path / "1" / "draft.docx",
        defaults.console.downloads / "members.csv",
        Path("matrix-store") / "RECOVERY-KEY.txt",
        Path("wgbot.sqlite3"),
        Path("wgbot.sqlite3-wal"),
        Path("wgbot.sqlite3.lead"),
        Path("config.toml"),
        Path(".env"),
        Path("secrets") / "telegram_token",
    ]
    for path in written:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("private")
    staged = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path, capture_output=True, text=True
    )
    assert staged.stdout.splitlines() == ["?? .gitignore"]


def needed(program: str, package: str) -> str:
    found = shutil.which(program)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{program} is missing: .ci/run installs Debian's {package} package")
        pytest.skip(f"{program} is not installed (Debian's {package} package)")
    return found


@pytest.mark.parametrize("platforms", [("telegram",), ("matrix",), ("telegram", "matrix")])
def test_compose_with_each_platform_s_override_is_valid_and_hands_every_secret_over_as_a_file(platforms):
    import yaml

    files = ["compose.yaml", *(f"compose.{platform}.yaml" for platform in platforms)]
    made = subprocess.run(
        [needed("docker-compose", "docker-compose"), *(f"--file={name}" for name in files), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    compose = yaml.safe_load(made.stdout)
    bot, migrate = compose["services"]["wgbot"], compose["services"]["migrate"]
    handed = {secret["source"] for secret in bot["secrets"]}
    expected = (
        {"database_url"}
        | {"telegram": {"telegram_token"}, "matrix": {"matrix_password", "matrix_store_key"}}.get(platforms[0], set())
        | ({"telegram_token"} if "telegram" in platforms else set())
    )
    expected |= {"matrix_password", "matrix_store_key"} if "matrix" in platforms else set()
    assert handed == expected
    files_read = {k: v for k, v in bot["environment"].items() if k.endswith("_FILE")}
    assert sorted(files_read.values()) == sorted(f"/run/secrets/{name}" for name in handed)
    assert stray_variables(bot["environment"]) == []
    assert {s["source"] for s in migrate["secrets"]} == {"database_url"}  # migrations need only the database
    for name in handed:
        assert compose["secrets"][name]["file"] == str(ROOT / "secrets" / name)
    headers = "".join((ROOT / name).read_text().split("services:")[0] for name in files)
    assert all(name in headers for name in handed)  # each secret to write is named where the operator reads


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    text = "\n".join(line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.startswith("#"))
    joined = text.replace("\\\n", " ")
    return [(line.split(None, 1)[0], line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


def test_the_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).with_name("hadolint")  # the test extras install it beside wgbot
    linted = subprocess.run([hadolint, "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_dockerfile_installs_what_the_package_needs_and_runs_unprivileged():
    """Every package directory pyproject ships is copied in, the process is not root, its state
    is a volume, its health is asked, and a base made locally can stand in for Docker Hub's."""
    import tomllib

    instructions = dockerfile_instructions()
    copied = {source for verb, rest in instructions if verb == "COPY" for source in rest.split()[:-1]}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied, f"{pattern} is in the package but not copied into the image"
    assert {"pyproject.toml", "setup.py", "README.md"} <= copied
    users = [rest for verb, rest in instructions if verb == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert ("VOLUME", '["/var/lib/wgbot"]') in instructions
    assert any(verb == "HEALTHCHECK" and "/healthz" in rest for verb, rest in instructions)
    assert instructions[0] == ("ARG", "BASE=python:3.11-slim") and instructions[1] == ("FROM", "${BASE}")
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*" and {f"!{name}" for name in copied} <= set(ignored)  # nothing else reaches the build
