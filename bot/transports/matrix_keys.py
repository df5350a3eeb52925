"""The cryptography of the bot's cross-signing identity, without any network.

matrix-nio has no cross-signing, and Element (since MSC4153) will not exchange encrypted
messages with a device its own account has not signed. So the bot makes the three Ed25519 keys
(master, self-signing, user-signing) that the spec describes. It keeps their seeds sealed with
the store key, and keeps a copy in the account's secret storage (SSSS,
`m.secret_storage.v1.aes-hmac-sha2`) under a recovery key that only the operator holds. That
is the same recovery key Element shows and accepts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any

import base58
from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF
from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa

from storage.sealing import seal, unseal

SSSS_ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2"
RECOVERY_KEY_PREFIX = b"\x8b\x01"
SECRET_NAMES = {
    "master": "m.cross_signing.master",
    "self_signing": "m.cross_signing.self_signing",
    "user_signing": "m.cross_signing.user_signing",
}
SEAL_CONTEXT = b"wgbot cross-signing seal v1"


class WrongRecoveryKey(Exception):
    """The recovery key given does not open the account's secret storage."""


def canonical_json(value: dict[str, Any]) -> bytes:
    """The spec's canonical JSON: sorted keys, no spaces, UTF-8; what every signature covers."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def unpadded(data: bytes) -> str:
    """Base64 as the spec writes it: unpadded."""
    return base64.b64encode(data).decode().rstrip("=")


def from_unpadded(text: str) -> bytes:
    """Base64, padded or not: the spec writes it unpadded and says clients must accept both.
    Raises ValueError (binascii.Error) on text that is not base64."""
    text = "".join(text.split()).rstrip("=")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


@dataclass(frozen=True)
class SigningKey:
    """One Ed25519 key, as its 32-byte seed."""

    seed: bytes

    @classmethod
    def new(cls) -> SigningKey:
        return cls(os.urandom(32))

    @property
    def public(self) -> str:
        key = ECC.construct(curve="Ed25519", seed=self.seed)
        return unpadded(key.public_key().export_key(format="raw"))

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.public}"

    def sign(self, user_id: str, signed: dict[str, Any]) -> dict[str, Any]:
        """`signed` with this key's signature added (over everything but signatures and unsigned)."""
        body = {k: v for k, v in signed.items() if k not in ("signatures", "unsigned")}
        signer = eddsa.new(ECC.construct(curve="Ed25519", seed=self.seed), "rfc8032")
        signature = unpadded(signer.sign(canonical_json(body)))
        signatures = {user: dict(keys) for user, keys in signed.get("signatures", {}).items()}
        signatures.setdefault(user_id, {})[self.key_id] = signature
        return {**body, "signatures": signatures}


@dataclass(frozen=True)
class CrossSigningKeys:
    master: SigningKey
    self_signing: SigningKey
    user_signing: SigningKey

    @classmethod
    def new(cls) -> CrossSigningKeys:
        return cls(SigningKey.new(), SigningKey.new(), SigningKey.new())

    def public_keys(self, user_id: str) -> dict[str, dict[str, Any]]:
        """The body of `/keys/device_signing/upload`: the master key signs the other two."""

        def described(key: SigningKey, usage: str) -> dict[str, Any]:
            return {"user_id": user_id, "usage": [usage], "keys": {key.key_id: key.public}}

        return {
            "master_key": described(self.master, "master"),
            "self_signing_key": self.master.sign(user_id, described(self.self_signing, "self_signing")),
            "user_signing_key": self.master.sign(user_id, described(self.user_signing, "user_signing")),
        }

    def seeds(self) -> dict[str, str]:
        return {name: unpadded(getattr(self, name).seed) for name in SECRET_NAMES}

    @classmethod
    def from_seeds(cls, seeds: dict[str, str]) -> CrossSigningKeys:
        return cls(*(SigningKey(from_unpadded(seeds[name])) for name in SECRET_NAMES))

    # ── sealed at rest with the store key ────────────────────────────────────────────────────

    def sealed(self, store_key: str) -> bytes:
        return seal(canonical_json(self.seeds()), store_key, SEAL_CONTEXT)

    @classmethod
    def unsealed(cls, blob: bytes, store_key: str) -> CrossSigningKeys:
        """Raises ValueError (WrongStoreKey) when the store key is not the one that sealed them."""
        return cls.from_seeds(json.loads(unseal(blob, store_key, SEAL_CONTEXT)))


# ── secret storage (SSSS) under a recovery key ───────────────────────────────────────────────


def new_recovery_key() -> bytes:
    return os.urandom(32)


def recovery_key_text(key: bytes) -> str:
    """The form people copy: base58 of prefix + key + parity, in groups of four."""
    raw = RECOVERY_KEY_PREFIX + key
    parity = 0
    for byte in raw:
        parity ^= byte
    text = base58.b58encode(raw + bytes([parity])).decode()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def recovery_key_bytes(text: str) -> bytes:
    try:
        raw = base58.b58decode("".join(text.split()))
    except ValueError:
        raise WrongRecoveryKey("that is not a recovery key (it is not base58)") from None
    parity = 0
    for byte in raw:
        parity ^= byte
    if len(raw) != 35 or raw[:2] != RECOVERY_KEY_PREFIX or parity != 0:
        raise WrongRecoveryKey("that is not a recovery key (it fails its own check: a typo?)")
    return raw[2:34]


def _ssss_keys(key: bytes, name: str) -> tuple[bytes, bytes]:
    derived = HKDF(key, 64, b"\x00" * 32, SHA256, context=name.encode())
    assert isinstance(derived, bytes)
    return derived[:32], derived[32:]


def encrypt_secret(key: bytes, name: str, secret: str, iv: bytes | None = None) -> dict[str, str]:
    """A secret as account data holds it: iv, ciphertext and mac, written unpadded (as the spec
    says; clients read both)."""
    aes_key, mac_key = _ssss_keys(key, name)
    counter = bytearray(iv or os.urandom(16))
    counter[8] &= 0x7F  # the spec clears bit 63, so the counter cannot wrap into the nonce
    ciphertext = AES.new(aes_key, AES.MODE_CTR, nonce=b"", initial_value=bytes(counter)).encrypt(secret.encode())
    mac = hmac.new(mac_key, ciphertext, hashlib.sha256).digest()
    return {"iv": unpadded(bytes(counter)), "ciphertext": unpadded(ciphertext), "mac": unpadded(mac)}


def decrypt_secret(key: bytes, name: str, encrypted: dict[str, Any]) -> str:
    """The secret, once its MAC proves the key right; its base64 padded or not."""
    aes_key, mac_key = _ssss_keys(key, name)
    ciphertext = _field(encrypted, "ciphertext", name)
    mac = hmac.new(mac_key, ciphertext, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, _field(encrypted, "mac", name)):
        raise WrongRecoveryKey("that recovery key does not open this account's secret storage")
    return AES.new(aes_key, AES.MODE_CTR, nonce=b"", initial_value=_iv(encrypted, name)).decrypt(ciphertext).decode()


def key_description(key: bytes) -> dict[str, str]:
    """`m.secret_storage.key.<id>`: lets a client check a recovery key before using it."""
    check = encrypt_secret(key, "", "\x00" * 32)
    return {"algorithm": SSSS_ALGORITHM, "iv": check["iv"], "mac": check["mac"]}


def check_recovery_key(key: bytes, description: dict[str, Any]) -> None:
    """Raises WrongRecoveryKey unless the key opens the storage the description describes. Its
    `iv` and `mac` are optional in the spec: without them the key cannot be checked here, and
    the secrets' own MACs check it when they are decrypted."""
    if "iv" not in description or "mac" not in description:
        return
    expected = encrypt_secret(key, "", "\x00" * 32, iv=_iv(description, "the key description"))
    given = _field(description, "mac", "the key description")
    if not hmac.compare_digest(from_unpadded(expected["mac"]), given):
        raise WrongRecoveryKey("that recovery key does not open this account's secret storage")


def _field(held: dict[str, Any], field: str, what: str) -> bytes:
    """One base64 field of secret storage, padded or not; damaged or missing: refused, not a crash."""
    try:
        return from_unpadded(str(held[field]))
    except (KeyError, ValueError):
        raise WrongRecoveryKey(f"the account's secret storage is damaged: {what} has no readable {field}") from None


def _iv(held: dict[str, Any], what: str) -> bytes:
    iv = _field(held, "iv", what)
    if len(iv) != 16:
        raise WrongRecoveryKey(f"the account's secret storage is damaged: the iv of {what} is not 16 bytes")
    return iv
