"""Configuration problems are reported with the file, the key and what is wrong."""

from __future__ import annotations

import typing

import pytest

from bot.config import ConfigError, load_settings


def write(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_the_embedded_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.database.url == "sqlite+aiosqlite:///wgbot.sqlite3"
    assert settings.alliance.timezone == "Europe/Brussels"


def test_the_example_config_is_valid_and_documents_every_key():
    from pathlib import Path

    from bot.config import Settings

    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    settings = load_settings(example, environ={})
    assert settings == Settings()  # the example shows the defaults
    text = example.read_text()
    for section, field in Settings.model_fields.items():
        assert f"[{section}]" in text
        model = next(t for t in typing.get_args(field.annotation) or [field.annotation] if t is not type(None))
        for key in model.model_fields:
            assert f"{key} =" in text, f"config.example.toml does not document {section}.{key}"


def test_malformed_toml_names_the_file_and_line(tmp_path):
    path = write(tmp_path, '[database]\nurl = "sqlite+aiosqlite:///x.db\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    assert str(error.value).startswith(f"{path}: not valid TOML:")
    assert "line 2" in str(error.value)


def test_unknown_keys_and_bad_values_name_the_key(tmp_path):
    path = write(tmp_path, '[alliance]\ntimezone = "Europe/Atlantis"\n[database]\nulr = "x"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    lines = str(error.value).splitlines()
    assert f"{path}: alliance.timezone: unknown time zone 'Europe/Atlantis'" in lines[0]
    assert lines[1] == f"{path}: database.ulr: unknown key (see config.example.toml for the keys there are)"


def test_environment_overrides_the_file_and_is_named_when_wrong(tmp_path):
    path = write(tmp_path, '[database]\nurl = "sqlite+aiosqlite:///file.db"\n')
    url = "postgresql+asyncpg://wgbot@db.internal/wgbot"
    assert load_settings(path, environ={"WGBOT_DATABASE__URL": url}).database.url == url
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={"WGBOT_DATABASE__UPGRADE_ON_START": "perhaps"})
    assert str(error.value).startswith("WGBOT_DATABASE__UPGRADE_ON_START (environment):")


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_matrix_needs_a_credential_and_takes_it_from_the_environment(tmp_path):
    path = write(tmp_path, '[matrix]\nhomeserver = "https://m.example.org/"\nuser_id = "@wgbot:example.org"\n')
    with pytest.raises(ConfigError, match="matrix: give access_token or password"):
        load_settings(path, environ={})
    with pytest.raises(ConfigError, match="matrix: encryption needs a store key .* WGBOT_MATRIX__STORE_KEY"):
        load_settings(path, environ={"WGBOT_MATRIX__ACCESS_TOKEN": "syt_secret"})
    settings = load_settings(
        path, environ={"WGBOT_MATRIX__ACCESS_TOKEN": "syt_secret", "WGBOT_MATRIX__STORE_KEY": "a long random secret"}
    )
    assert settings.matrix.access_token == "syt_secret"
    assert settings.matrix.homeserver == "https://m.example.org"
    assert settings.matrix.encryption and settings.matrix.store_key == "a long random secret"
    plain = load_settings(path, environ={"WGBOT_MATRIX__ACCESS_TOKEN": "t", "WGBOT_MATRIX__ENCRYPTION": "false"})
    assert not plain.matrix.encryption


def test_secrets_can_come_from_files_as_containers_deliver_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "token").write_text("123456:from-a-file\n")
    settings = load_settings(environ={"WGBOT_TELEGRAM__TOKEN_FILE": str(tmp_path / "token")})
    assert settings.telegram is not None and settings.telegram.token == "123456:from-a-file"
    with pytest.raises(ConfigError, match=r"WGBOT_MATRIX__PASSWORD_FILE \(environment\): cannot read .*missing"):
        load_settings(environ={"WGBOT_MATRIX__PASSWORD_FILE": str(tmp_path / "missing")})


def test_a_variable_that_only_looks_like_a_setting_is_named_with_the_real_one(tmp_path, monkeypatch):
    from bot.config import stray_variables

    monkeypatch.chdir(tmp_path)
    environ = {"WGBOT_DATABASE_URL": "x", "WGBOT_DATABSE__URL": "y", "WGBOT_TELEGRAM__TOKEN_FILE": "t"}
    assert stray_variables(environ) == [
        "WGBOT_DATABASE_URL is not a wgbot setting and is ignored; did you mean WGBOT_DATABASE__URL?",
        "WGBOT_DATABSE__URL is not a wgbot setting and is ignored; did you mean WGBOT_DATABASE__URL?",
    ]
    assert load_settings(environ={"WGBOT_DATABSE__URL": "y"}).database.url.startswith("sqlite")  # no error
