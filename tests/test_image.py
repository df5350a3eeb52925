"""The container image, built from the Dockerfile and run, on a machine with no image registry:
its base is made here (mmdebstrap: Debian with python3, imported into podman), the image
built with the Dockerfile as it is (`--build-arg BASE=`), then run as compose runs it: the
schema upgraded by a one-shot container, the bot with its secrets as files, answering on
Telegram (the tests' Bot API emulator), its /healthz and HEALTHCHECK green, a console inside.

It takes about two minutes and needs root, podman, runc and mmdebstrap, so it runs when asked:
WGBOT_IMAGE_TEST=1 (see README, "In a container")."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import _throwaway_postgres, free_port
from tests.telegram_emulator import BotApiEmulator

ROOT = Path(__file__).resolve().parent.parent
GROUP = -1001234567890
# What these machines need of podman: buildah's chroot isolation and runc (crun refuses their
# hybrid cgroups), open-file and process limits within the sandbox's own.
RUN = ["--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "host"]

pytestmark = pytest.mark.skipif(
    not os.environ.get("WGBOT_IMAGE_TEST"), reason="builds a base and the image (about 2 min): WGBOT_IMAGE_TEST=1"
)


def podman(*args: str, stdin: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False)


async def meanwhile(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """podman, while the emulator in this event loop goes on answering the bot."""
    return await asyncio.to_thread(podman, *args, stdin=stdin)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.args}: {done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    for program in ("podman", "runc", "mmdebstrap"):
        assert shutil.which(program), f"{program} is missing (Debian's package of that name)"
    work = tmp_path_factory.mktemp("image")
    tag = uuid.uuid4().hex[:8]
    base, built = f"localhost/wgbot-base-{tag}", f"localhost/wgbot-{tag}"
    # The machine's own certificate authorities go into the base, as an operator's would: pip
    # inside the build reaches PyPI through the same network as the host.
    subprocess.run(
        [
            "mmdebstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
            "--customize-hook=copy-in /usr/local/share/ca-certificates /usr/local/share",
            '--customize-hook=chroot "$1" update-ca-certificates',
            "bookworm", str(work / "base.tar"),
        ],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    ok(podman("import", str(work / "base.tar"), base))
    ok(
        podman(
            "build",
            "--format",
            "docker",
            "--isolation",
            "chroot",
            "--network",
            "host",
            "--build-arg",
            f"BASE={base}",
            "-t",
            built,
            str(ROOT),
        )  # fmt: skip
    )
    yield built
    podman("rmi", "-f", built, base)


async def test_the_image_migrates_then_runs_the_bot_with_its_secrets_as_files(image, tmp_path):
    emulator = BotApiEmulator()
    await emulator.start()
    jana = emulator.person(1001, "Jana")
    emulator.group(GROUP, "PFAS", jana)
    health = free_port()
    name = f"wgbot-{uuid.uuid4().hex[:8]}"
    secrets: list[str] = []
    try:
        async with _throwaway_postgres() as url:
            for secret, value in (("database_url", url), ("telegram_token", emulator.token)):
                (tmp_path / secret).write_text(value)
                secrets.append(f"{name}-{secret}")
                ok(await meanwhile("secret", "create", secrets[-1], str(tmp_path / secret)))
            given = [arg for s in secrets for arg in ("--secret", f"{s},target={s.removeprefix(name + '-')}")]
            environment = [
                "-e", "WGBOT_DATABASE__URL_FILE=/run/secrets/database_url",
                "-e", "WGBOT_TELEGRAM__TOKEN_FILE=/run/secrets/telegram_token",
                "-e", f"WGBOT_TELEGRAM__API_URL={emulator.base_url}",
                "-e", f"WGBOT_HTTP__LISTEN=127.0.0.1:{health}",
            ]  # fmt: skip
            migrated = ok(await meanwhile(*RUN, "run", "--rm", *LIMITS, *given, *environment, image, "db", "upgrade"))
            assert migrated.startswith("applied 0001")
            setup = [
                ["org", "add", "ACME GmbH", "--country", "DE", "--kind", "industry", "--group", "pfas"],
                ["person", "add", "Jana Novak", "--org", "ACME GmbH", "--account", "telegram:1001"],
                ["room", "bind", f"telegram:{GROUP}", "--group", "pfas"],
            ]
            for words in setup:
                ok(await meanwhile(*RUN, "run", "--rm", *LIMITS, *given, *environment, image, *words))
            ok(await meanwhile(*RUN, "run", "-d", "--name", name, *LIMITS, *given, *environment, image))
            reply = await emulator.answer_to(await emulator.say(jana, GROUP, "/whoami"), timeout=60)
            assert reply.text.startswith("You are Jana Novak")
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{health}/healthz") as answer:
                assert answer.status == 200
            inspected = ok(
                await meanwhile("inspect", "--format", "{{.Config.User}} {{.Config.Healthcheck.Test}}", name)
            )
            assert inspected.startswith("10001:10001 ") and "/healthz" in inspected
            console = ok(await meanwhile("exec", "-i", name, "wgbot", "console", stdin="/wg list\n"))
            assert "3 working groups" in console and "this console neither schedules nor delivers" in console
            ok(await meanwhile("stop", "--time", "20", name))
            assert ok(await meanwhile("inspect", "--format", "{{.State.ExitCode}}", name)).strip() == "0"
            logs = await meanwhile("logs", name)
            said = logs.stdout + logs.stderr
            assert "Traceback" not in said and emulator.token not in said, said
    finally:
        await meanwhile("rm", "-f", name)
        for secret in secrets:
            await meanwhile("secret", "rm", secret)
        await emulator.stop()
