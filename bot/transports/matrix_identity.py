"""The bot's cross-signed identity on its homeserver: made once, kept, recovered.

On first start the bot creates its cross-signing keys and uploads them (a homeserver accepts an
account's first keys without a password prompt: MSC3967). It signs its own device with them and
keeps a copy in the account's secret storage under a new recovery key, which is written once
for the operator. Every later start finds the keys in the store and checks that the device is
still signed. If the store is lost while the keys stay on the homeserver, the bot stops with one
line that names the two ways out: the recovery key, or a reset that needs the account's
password.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from nio import Api, AsyncClient

from bot.transports.matrix_keys import (
    SECRET_NAMES,
    CrossSigningKeys,
    canonical_json,
    check_recovery_key,
    decrypt_secret,
    encrypt_secret,
    key_description,
    new_recovery_key,
    recovery_key_bytes,
    recovery_key_text,
)

log = logging.getLogger(__name__)
RECOVERY_KEY_FILE = "RECOVERY-KEY.txt"


class IdentityError(Exception):
    """The bot's cross-signing identity cannot be set up as things stand (one line for the operator)."""


class CrossSigning:
    def __init__(self, client: AsyncClient, store_path: Path, store_key: str, password: str = "") -> None:
        self.client = client
        self.store_path = store_path
        self.store_key = store_key
        self.password = password

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    @property
    def _sealed_file(self) -> Path:
        return self.store_path / f"{self.user_id}.cross-signing"

    # ── what start and `wgbot matrix cross-sign` do ──────────────────────────────────────────

    async def ensure(self) -> str | None:
        """Make sure this device is cross-signed; the recovery key's text when keys were made now."""
        published = await self._published()
        mine = self._kept()
        master = _only_key(published["master_keys"].get(self.user_id))
        if master is None:
            keys = mine or CrossSigningKeys.new()
            await self._upload(keys)
            recovery = await self._store_secrets(keys)
            self._keep(keys)
            await self._sign_device(keys, await self._published())
            log.info("matrix: made and published the bot's cross-signing keys (master %s)", keys.master.public)
            return recovery
        if mine is None or mine.master.public != master:
            raise IdentityError(
                f"matrix: {self.user_id} has cross-signing keys on the homeserver but they are not in the store "
                f"{self.store_path} (a lost or replaced store): run `wgbot matrix cross-sign --recover` once with "
                "the recovery key, or `wgbot matrix cross-sign --reset` (needs the account's password)"
            )
        if not self._device_signed(published, mine):
            await self._sign_device(mine, published)
            log.info("matrix: signed device %s with the bot's self-signing key", self.client.device_id)
        return None

    async def recover(self, recovery_key: str) -> None:
        """Take the keys back from secret storage (a new store, the same identity)."""
        key = recovery_key_bytes(recovery_key)
        default = await self._account_data("m.secret_storage.default_key")
        key_id = (default or {}).get("key")
        description = await self._account_data(f"m.secret_storage.key.{key_id}") if key_id else None
        if not description:
            raise IdentityError(f"matrix: {self.user_id} keeps no secret storage to recover from; use --reset")
        check_recovery_key(key, description)
        seeds = {}
        for name, secret_type in SECRET_NAMES.items():
            stored = await self._account_data(secret_type)
            encrypted = (stored or {}).get("encrypted", {}).get(key_id)
            if encrypted is None:
                raise IdentityError(f"matrix: the secret storage holds no {secret_type}; use --reset")
            seeds[name] = decrypt_secret(key, secret_type, encrypted)
        keys = CrossSigningKeys.from_seeds(seeds)
        published = await self._published()
        if _only_key(published["master_keys"].get(self.user_id)) != keys.master.public:
            raise IdentityError("matrix: the recovered master key is not the one the homeserver publishes; use --reset")
        self._keep(keys)
        await self._sign_device(keys, published)

    async def reset(self) -> str:
        """New keys replace the published ones (the homeserver asks for the password); new recovery key."""
        keys = CrossSigningKeys.new()
        await self._upload(keys, replacing=True)
        recovery = await self._store_secrets(keys)
        self._keep(keys)
        await self._sign_device(keys, await self._published())
        return recovery

    # ── kept in the store, sealed with the store key ─────────────────────────────────────────

    def _kept(self) -> CrossSigningKeys | None:
        if not self._sealed_file.exists():
            return None
        try:
            return CrossSigningKeys.unsealed(self._sealed_file.read_bytes(), self.store_key)
        except ValueError:
            raise IdentityError(
                f"matrix: the cross-signing keys in {self._sealed_file} do not open with this store key "
                "(WGBOT_MATRIX__STORE_KEY): give the key the store was made with"
            ) from None

    def _keep(self, keys: CrossSigningKeys) -> None:
        self.store_path.mkdir(parents=True, exist_ok=True)
        partial = self._sealed_file.with_suffix(".partial")
        partial.write_bytes(keys.sealed(self.store_key))
        partial.chmod(0o600)
        partial.replace(self._sealed_file)

    def write_recovery_key(self, recovery: str) -> Path:
        """At an unattended start: a file only the operator reads, never the log."""
        path = self.store_path / RECOVERY_KEY_FILE
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(
                f"Recovery key of {self.user_id}'s cross-signing identity (wgbot).\n"
                "Keep it somewhere safe, apart from the bot's store, then delete this file.\n"
                f"It restores the identity after a lost store: wgbot matrix cross-sign --recover\n\n{recovery}\n"
            )
        return path

    # ── the homeserver ───────────────────────────────────────────────────────────────────────

    async def _published(self) -> dict[str, Any]:
        status, body = await self._call("POST", ["keys", "query"], {"device_keys": {self.user_id: []}})
        if status != 200:
            raise IdentityError(f"matrix: could not read the bot's published keys (HTTP {status}: {_why(body)})")
        body.setdefault("master_keys", {})
        body.setdefault("self_signing_keys", {})
        return body

    async def _upload(self, keys: CrossSigningKeys, replacing: bool = False) -> None:
        body = keys.public_keys(self.user_id)
        status, answer = await self._call("POST", ["keys", "device_signing", "upload"], body)
        if status == 401 and "flows" in answer:  # replacing keys: the homeserver wants the password
            if not self.password:
                raise IdentityError(
                    "matrix: the homeserver asks for the account's password to replace its cross-signing keys: "
                    "set WGBOT_MATRIX__PASSWORD"
                )
            body["auth"] = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": self.user_id},
                "password": self.password,
                "session": answer.get("session"),
            }
            status, answer = await self._call("POST", ["keys", "device_signing", "upload"], body)
        if status != 200:
            verb = "replace" if replacing else "publish"
            raise IdentityError(f"matrix: could not {verb} the cross-signing keys (HTTP {status}: {_why(answer)})")

    async def _sign_device(self, keys: CrossSigningKeys, published: dict[str, Any]) -> None:
        """The self-signing key signs this device; the device signs the master key (as Element does)."""
        device_id = str(self.client.device_id)
        device = published.get("device_keys", {}).get(self.user_id, {}).get(device_id)
        if device is None:
            raise IdentityError(f"matrix: the homeserver does not know device {device_id}'s keys yet")
        master = keys.public_keys(self.user_id)["master_key"]
        olm = self.client.olm
        assert olm is not None, "cross-signing needs encryption on"
        master_signature = olm.sign_json(master)
        master["signatures"] = {self.user_id: {f"ed25519:{device_id}": master_signature}}
        body = {self.user_id: {device_id: keys.self_signing.sign(self.user_id, device), keys.master.public: master}}
        status, answer = await self._call("POST", ["keys", "signatures", "upload"], body)
        failures: dict[str, Any] = (answer.get("failures") or {}) if status == 200 else answer
        if status != 200 or failures:
            raise IdentityError(f"matrix: the homeserver refused the device's signature ({_why(failures)})")

    def _device_signed(self, published: dict[str, Any], keys: CrossSigningKeys) -> bool:
        device = published.get("device_keys", {}).get(self.user_id, {}).get(str(self.client.device_id), {})
        signed_by = device.get("signatures", {}).get(self.user_id, {})
        return keys.self_signing.key_id in signed_by and _only_key(
            published["self_signing_keys"].get(self.user_id)
        ) == (keys.self_signing.public)

    async def _store_secrets(self, keys: CrossSigningKeys) -> str:
        """The keys in secret storage under a new recovery key (its text, for the operator)."""
        recovery = new_recovery_key()
        key_id = secrets.token_urlsafe(24)
        await self._put_account_data(f"m.secret_storage.key.{key_id}", key_description(recovery))
        for name, secret_type in SECRET_NAMES.items():
            seed = keys.seeds()[name]
            await self._put_account_data(
                secret_type, {"encrypted": {key_id: encrypt_secret(recovery, secret_type, seed)}}
            )
        await self._put_account_data("m.secret_storage.default_key", {"key": key_id})
        return recovery_key_text(recovery)

    async def _account_data(self, kind: str) -> dict[str, Any] | None:
        status, body = await self._call("GET", ["user", self.user_id, "account_data", kind])
        return body if status == 200 else None

    async def _put_account_data(self, kind: str, content: dict[str, Any]) -> None:
        status, body = await self._call("PUT", ["user", self.user_id, "account_data", kind], content)
        if status != 200:
            raise IdentityError(f"matrix: could not write {kind} to the account (HTTP {status}: {_why(body)})")

    async def _call(
        self, method: str, path: list[str], body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """The status and the JSON object the homeserver answered (empty when it sent none)."""
        url = Api._build_path(path, {"access_token": self.client.access_token})
        data = canonical_json(body).decode() if body is not None else None
        response = await self.client.send(method, url, data, headers={"Content-Type": "application/json"})
        try:
            answer: object = await response.json()
        except (json.JSONDecodeError, ValueError):
            answer = {}
        return response.status, answer if isinstance(answer, dict) else {}


def _only_key(described: dict[str, Any] | None) -> str | None:
    keys = list((described or {}).get("keys", {}).values())
    return keys[0] if keys else None


def _why(answer: dict[str, Any]) -> str:
    if answer.get("error"):
        return str(answer["error"])
    return json.dumps(answer)[:200]
