"""A real Synapse homeserver on 127.0.0.1 for the Matrix tests.

Synapse lives in its own virtualenv (`.venv-synapse`, made by `.ci/run`, or the python named by
WGBOT_SYNAPSE_PYTHON) so its pinned libraries never enter the bot's. The config is written here
rather than generated: SQLite, one client listener, no federation, cheap password hashing, and —
unless `default_rate_limits` — rate limits out of the way of functional tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
_FREE = "{per_second: 10000, burst_count: 100000}"
# Every rate limit Synapse applies to a client, in the shape its config expects.
RELAXED_RATE_LIMITS = [
    f"rc_message: {_FREE}",
    f"rc_registration: {_FREE}",
    f"rc_login: {{address: {_FREE}, account: {_FREE}, failed_attempts: {_FREE}}}",
    f"rc_joins: {{local: {_FREE}, remote: {_FREE}}}",
    f"rc_joins_per_room: {_FREE}",
    f"rc_invites: {{per_room: {_FREE}, per_user: {_FREE}, per_issuer: {_FREE}}}",
    f"rc_room_creation: {_FREE}",
    f"rc_media_create: {_FREE}",
    f"rc_admin_redaction: {_FREE}",
    f"rc_3pid_validation: {_FREE}",
]


def synapse_python() -> Path:
    return Path(os.environ.get("WGBOT_SYNAPSE_PYTHON", REPO / ".venv-synapse" / "bin" / "python"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class MatrixUser:
    user_id: str
    access_token: str
    password: str


class Synapse:
    def __init__(self, workdir: Path, default_rate_limits: bool = False) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.shared_secret = secrets.token_hex(16)
        self.default_rate_limits = default_rate_limits
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        config = self._write_config()
        self.log = (self.workdir / "synapse.out").open("wb")
        self.process = subprocess.Popen(
            [str(synapse_python()), "-m", "synapse.app.homeserver", "-c", str(config)],
            cwd=self.workdir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Synapse exited early; see {self.workdir / 'synapse.out'}")
            try:
                with urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Synapse did not answer within {timeout}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()

    async def register(self, name: str | None = None, admin: bool = False) -> MatrixUser:
        """A new user through the shared-secret admin API (unique names keep tests apart)."""
        name = name or f"u{secrets.token_hex(5)}"
        password = secrets.token_hex(8)
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        async with aiohttp.ClientSession() as http:
            async with http.get(endpoint) as response:
                nonce = (await response.json())["nonce"]
            mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
            mac.update(b"\x00".join([nonce.encode(), name.encode(), password.encode()]))
            mac.update(b"\x00admin" if admin else b"\x00notadmin")
            body = {
                "nonce": nonce,
                "username": name,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            }
            async with http.post(endpoint, json=body) as response:
                answer = await response.json()
                if response.status != 200:
                    raise RuntimeError(f"registering {name} failed: {answer}")
        return MatrixUser(answer["user_id"], answer["access_token"], password)

    def _write_config(self) -> Path:
        key = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        (self.workdir / "signing.key").write_text(f"ed25519 a_test {key}\n")
        (self.workdir / "log.yaml").write_text(
            "version: 1\n"
            "formatters: {plain: {format: '%(asctime)s %(levelname)s %(name)s %(message)s'}}\n"
            "handlers: {file: {class: logging.FileHandler, filename: homeserver.log, formatter: plain}}\n"
            "root: {level: WARNING, handlers: [file]}\n"
            "disable_existing_loggers: false\n"
        )
        lines = [
            "server_name: localhost",
            f"public_baseurl: {self.url}/",
            "listeners:",
            f"  - {{port: {self.port}, bind_addresses: ['127.0.0.1'], type: http, tls: false,"
            " x_forwarded: false, resources: [{names: [client], compress: false}]}",
            "database: {name: sqlite3, args: {database: homeserver.db}}",
            "enable_registration: false",
            f"registration_shared_secret: {self.shared_secret}",
            f"macaroon_secret_key: {secrets.token_hex(16)}",
            f"form_secret: {secrets.token_hex(16)}",
            "report_stats: false",
            "trusted_key_servers: []",
            "suppress_key_server_warning: true",
            "presence: {enabled: false}",
            "signing_key_path: signing.key",
            "log_config: log.yaml",
            "media_store_path: media",
            "bcrypt_rounds: 4",
            "encryption_enabled_by_default_for_room_type: 'off'",
        ]
        if not self.default_rate_limits:
            lines += RELAXED_RATE_LIMITS
        config = self.workdir / "homeserver.yaml"
        config.write_text("\n".join(lines) + "\n")
        return config
