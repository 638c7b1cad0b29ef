from __future__ import annotations

from pathlib import Path

import pytest

from server.config import SettingsError, load_settings

SECRET = "s" * 40


def test_missing_secret_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CERCLE_SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match=r"^setting 'secret_key' \(CERCLE_SECRET_KEY\): is required$"):
        load_settings()


def test_http_is_refused_for_a_public_domain() -> None:
    with pytest.raises(SettingsError, match=r"setting 'scheme'.*loopback"):
        load_settings(secret_key=SECRET, scheme="http", domain="paris.example.com")


def test_http_is_allowed_on_loopback() -> None:
    settings = load_settings(secret_key=SECRET, scheme="http", domain="127.0.0.1:8123")
    assert settings.base_url == "http://127.0.0.1:8123"


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "cercle.toml"
    config.write_text(f'secret_key = "{SECRET}"\ndomain = "paris.example.com"\ncharter = "fr"\n')
    monkeypatch.setenv("CERCLE_CHARTER", "de")
    settings = load_settings(config)
    assert settings.domain == "paris.example.com"
    assert settings.charter == "de"


def test_nested_setting_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERCLE_SMTP__PORT", "99999")
    with pytest.raises(SettingsError, match=r"setting 'smtp.port' \(CERCLE_SMTP__PORT\)"):
        load_settings(secret_key=SECRET)


def test_unknown_setting_in_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "cercle.toml"
    config.write_text(f'secret_key = "{SECRET}"\ndomian = "typo.example"\n')
    with pytest.raises(SettingsError, match=r"setting 'domian'.*not a known setting"):
        load_settings(config)


def test_short_secret_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"secret_key.*at least 32"):
        load_settings(secret_key="short")


def test_peers_are_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERCLE_PEERS", '[{"domain": "Munich.Example", "jurisdiction": "de"}]')
    settings = load_settings(secret_key=SECRET)
    peer = settings.peer("munich.example")
    assert peer is not None and peer.jurisdiction == "DE"


def test_broken_toml_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "cercle.toml"
    config.write_text("secret_key = \n")
    with pytest.raises(SettingsError, match=r"^config file .*cercle.toml: "):
        load_settings(config)


def test_wrong_database_url_scheme() -> None:
    with pytest.raises(SettingsError, match=r"database_url.*sqlite\+aiosqlite"):
        load_settings(secret_key=SECRET, database_url="mysql://x")
