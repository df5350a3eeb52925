"""Secret storage written by another client opens with its recovery key: base64 padded or not,
a key description without its optional check, damaged fields refused in one line.

The vectors are mautrix-python's published secret-storage test data
(mautrix/python, mautrix/crypto/ssss/key_test.py): a key description with unpadded `iv` and
`mac` (KEY1, as the spec writes them), one with padded ones (KEY2), the cross-signing master
key encrypted under KEY1 with padded fields, and descriptions with a broken iv or mac. They
are test data, not code: the checks below are wgbot's own."""

from __future__ import annotations

import pytest

from bot.transports.matrix_keys import (
    WrongRecoveryKey,
    check_recovery_key,
    decrypt_secret,
    encrypt_secret,
    from_unpadded,
    key_description,
    new_recovery_key,
    recovery_key_bytes,
)

KEY1_META = {
    "algorithm": "m.secret_storage.v1.aes-hmac-sha2",
    "passphrase": {"algorithm": "m.pbkdf2", "iterations": 500000, "salt": "y863BOoqOadgDp8S3FtHXikDJEalsQ7d"},
    "iv": "xxkTK0L4UzxgAFkQ6XPwsw",
    "mac": "MEhooO0ZhFJNxUhvRMSxBnJfL20wkLgle3ocY0ee/eA",
}
KEY1_RECOVERY_KEY = "EsTE s92N EtaX s2h6 VQYF 9Kao tHYL mkyL GKMh isZb KJ4E tvoC"
KEY1_MASTER_KEY = {
    "iv": "BpKP9nQJTE9jrsAssoxPqQ==",
    "ciphertext": "fNRiiiidezjerTgV+G6pUtmeF3izzj5re/mVvY0hO2kM6kYGrxLuIu2ej80=",
    "mac": "/gWGDGMyOLmbJp+aoSLh5JxCs0AdS6nAhjzpe+9G2Q0=",
}
KEY1_MASTER_KEY_SEED = bytes.fromhex("68f97fd1922eecf6b82bb890d24d0652984e7a1d703b9e867b7ebaf7feb95b6f")
KEY2_META = {
    "algorithm": "m.secret_storage.v1.aes-hmac-sha2",
    "iv": "O0BOvTqiIAYjC+RMcyHfWw==",
    "mac": "7k6OruQlWg0UmQjxGZ0ad4Q6DdwkgnoI7G6X3IjBYtI=",
}
KEY2_RECOVERY_KEY = "EsUC xSxt XJgQ dz19 8WBZ rHdE GZo7 ybsn EFmG Y5HY MDAG GNWe"
BROKEN_IV = KEY2_META | {"iv": "O0BOvTqiIAYjC+RMcyHfWwMeowMeowMeow"}
BROKEN_MAC = KEY2_META | {"mac": "7k6OruQlWg0UmQjxGZ0ad4Q6DdwkgnoI7G6X3IjBYtIMeowMeowMeow"}
MASTER = "m.cross_signing.master"


@pytest.mark.parametrize(
    ("meta", "recovery_key"),
    [(KEY1_META, KEY1_RECOVERY_KEY), (KEY2_META, KEY2_RECOVERY_KEY)],
    ids=["unpadded description", "padded description"],
)
def test_a_recovery_key_is_checked_against_a_description_padded_or_not(meta, recovery_key):
    check_recovery_key(recovery_key_bytes(recovery_key), meta)  # no "Incorrect padding", no refusal


def test_another_client_s_master_key_opens_with_its_recovery_key():
    seed = decrypt_secret(recovery_key_bytes(KEY1_RECOVERY_KEY), MASTER, KEY1_MASTER_KEY)
    assert from_unpadded(seed) == KEY1_MASTER_KEY_SEED


@pytest.mark.parametrize(
    ("meta", "recovery_key"),
    [
        (KEY1_META, KEY2_RECOVERY_KEY),
        (BROKEN_IV, KEY2_RECOVERY_KEY),
        (BROKEN_MAC, KEY2_RECOVERY_KEY),
        (KEY2_META | {"iv": "not base64!"}, KEY2_RECOVERY_KEY),
    ],
    ids=["another key", "broken iv", "broken mac", "not base64"],
)
def test_a_wrong_key_or_a_damaged_description_is_refused_not_a_crash(meta, recovery_key):
    with pytest.raises(WrongRecoveryKey):
        check_recovery_key(recovery_key_bytes(recovery_key), meta)


def test_a_master_key_does_not_open_with_another_key_or_under_another_name():
    with pytest.raises(WrongRecoveryKey):
        decrypt_secret(recovery_key_bytes(KEY2_RECOVERY_KEY), MASTER, KEY1_MASTER_KEY)
    with pytest.raises(WrongRecoveryKey):
        decrypt_secret(recovery_key_bytes(KEY1_RECOVERY_KEY), "m.cross_signing.self_signing", KEY1_MASTER_KEY)
    with pytest.raises(WrongRecoveryKey, match="has no readable mac"):
        decrypt_secret(recovery_key_bytes(KEY1_RECOVERY_KEY), MASTER, {"ciphertext": "AAAA", "iv": "AAAA"})


def test_a_description_without_its_optional_check_is_accepted_and_the_secret_s_mac_decides():
    """The spec makes a key description's `iv` and `mac` optional: without them nothing can be
    checked up front, and the secret's own MAC still refuses a wrong key."""
    check_recovery_key(recovery_key_bytes(KEY1_RECOVERY_KEY), {"algorithm": KEY1_META["algorithm"]})
    with pytest.raises(WrongRecoveryKey):
        decrypt_secret(recovery_key_bytes(KEY2_RECOVERY_KEY), MASTER, KEY1_MASTER_KEY)


def test_wgbot_writes_unpadded_base64_and_reads_its_own_back():
    key = new_recovery_key()
    description, secret = key_description(key), encrypt_secret(key, MASTER, "seed")
    assert not any(value.endswith("=") for value in (description["iv"], description["mac"], *secret.values()))
    check_recovery_key(key, description)
    assert decrypt_secret(key, MASTER, secret) == "seed"
    padded = {field: value + "=" * (-len(value) % 4) for field, value in secret.items()}
    assert decrypt_secret(key, MASTER, padded) == "seed"
