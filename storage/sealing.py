"""Secrets kept in the database, sealed: AES-GCM under a key derived (HKDF-SHA256) from the
operator's store key, a different key for each kind of secret (`context`).

The store key never enters the database or a backup of it; a database read without it (a
stolen backup) shows sealed bytes. Sealed text is `sealed:v1:` and the base64 of nonce, tag and
ciphertext, so a value written in clear by an older wgbot is told apart and sealed in turn.
"""

from __future__ import annotations

import base64
import os

from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF

SEALED = "sealed:v1:"
CREDENTIALS = b"wgbot credential seal v1"  # the context of platform credentials (an access token)


class WrongStoreKey(ValueError):
    """The value was sealed under another store key (or is damaged)."""


def seal(data: bytes, store_key: str, context: bytes) -> bytes:
    nonce = os.urandom(12)
    cipher = AES.new(_key(store_key, context), AES.MODE_GCM, nonce=nonce)
    ciphertext, tag = cipher.encrypt_and_digest(data)
    return nonce + tag + ciphertext


def unseal(blob: bytes, store_key: str, context: bytes) -> bytes:
    """Raises WrongStoreKey when the store key is not the one that sealed it."""
    nonce, tag, ciphertext = blob[:12], blob[12:28], blob[28:]
    cipher = AES.new(_key(store_key, context), AES.MODE_GCM, nonce=nonce)
    try:
        return cipher.decrypt_and_verify(ciphertext, tag)
    except ValueError:
        raise WrongStoreKey("sealed under another store key, or damaged") from None


def seal_text(value: str, store_key: str, context: bytes = CREDENTIALS) -> str:
    return SEALED + base64.b64encode(seal(value.encode(), store_key, context)).decode()


def unseal_text(value: str, store_key: str, context: bytes = CREDENTIALS) -> str:
    return unseal(base64.b64decode(value.removeprefix(SEALED)), store_key, context).decode()


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED)


def _key(store_key: str, context: bytes) -> bytes:
    derived = HKDF(store_key.encode(), 32, context, SHA256)
    assert isinstance(derived, bytes)
    return derived
