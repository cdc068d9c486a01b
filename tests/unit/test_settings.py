"""Settings: defaults, file, environment precedence, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs.errors import SettingsError
from jobs.settings import Settings


@pytest.fixture(autouse=True)
def _no_journeys_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests state the whole environment they run in."""
    for name in [n for n in os.environ if n.startswith("JOURNEYS_")]:
        monkeypatch.delenv(name)


def test_defaults_are_the_documented_local_addresses() -> None:
    s = Settings.load()
    assert s.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert (s.redis.host, s.redis.port) == ("127.0.0.1", 6379)
    assert (s.smtp.host, s.smtp.port) == ("127.0.0.1", 1025)
    assert s.flink.web_url == "http://127.0.0.1:8081"


def test_environment_beats_file_and_file_beats_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "settings.yaml"
    f.write_text("kafka:\n  bootstrap_servers: 127.0.0.1:19092\n  partitions: 4\nredis:\n  port: 16379\n")
    monkeypatch.setenv("JOURNEYS_REDIS__PORT", "26379")
    s = Settings.load(f)
    assert s.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert s.kafka.partitions == 4
    assert s.redis.port == 26379
    assert s.smtp.port == 1025


def test_settings_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("flink:\n  rest_port: 18081\n")
    monkeypatch.setenv("JOURNEYS_SETTINGS", str(f))
    assert Settings.load().flink.rest_port == 18081


def test_unknown_key_names_the_key(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("kafka:\n  bootstrap: x\n")
    with pytest.raises(SettingsError, match=r"kafka\.bootstrap"):
        Settings.load(f)


def test_missing_and_malformed_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        Settings.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(SettingsError, match="mapping"):
        Settings.load(bad)


def test_secrets_do_not_leak_into_repr(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("smtp:\n  password: hunter2\n")
    s = Settings.load(f)
    assert "hunter2" not in repr(s)
    assert s.smtp.password is not None and s.smtp.password.get_secret_value() == "hunter2"
