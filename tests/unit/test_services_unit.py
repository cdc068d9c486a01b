"""Service mechanics that need no running service: ports, pid files, Flink config."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from jobs.errors import PortInUseError
from jobs.flink_env import flatten, flink_configuration
from jobs.services import SERVICES, resolve
from jobs.services.base import port_holder
from jobs.services.smtp import SmtpService
from jobs.settings import Settings


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings.load(home=tmp_path / ".journeys", **overrides)


def test_port_holder_names_the_process_holding_a_port(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        holder = port_holder("127.0.0.1", port)
        assert holder is not None and "pid" in holder
    assert port_holder("127.0.0.1", port) is None


def test_start_refuses_a_busy_port_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        service = SmtpService(_settings(tmp_path, smtp={"port": port}))
        with pytest.raises(PortInUseError) as err:
            service.start()
    message = str(err.value)
    assert f"port {port}" in message and "\n" not in message


def test_stop_never_touches_a_process_it_did_not_start(tmp_path: Path) -> None:
    service = SmtpService(_settings(tmp_path))
    service.settings.run_dir.mkdir(parents=True)
    # A pid file pointing at this test process, with a start time that is not its own.
    service.pid_file.write_text(f"{__import__('os').getpid()} 12345.0\n")
    assert service.running_pid() is None
    assert service.stop() is False
    assert not service.pid_file.exists()


def test_resolve_rejects_unknown_services(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="unknown service zookeeper"):
        resolve(_settings(tmp_path), ["zookeeper"])
    assert [s.name for s in resolve(_settings(tmp_path))] == list(SERVICES)


def test_flatten_turns_yaml_into_flink_keys() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": True}}, "e": [1, 2]}) == {"a.b": "1", "a.c.d": "true", "e": "1;2"}


def test_flink_configuration_uses_thread_mode_and_settings(tmp_path: Path) -> None:
    s = _settings(tmp_path, flink={"rest_port": 18081, "parallelism": 2, "jars_dir": str(tmp_path)})
    (tmp_path / "connector.jar").write_bytes(b"")
    conf = flink_configuration(s)
    assert conf["python.execution-mode"] == "thread"
    assert conf["rest.port"] == "18081"
    assert conf["parallelism.default"] == "2"
    assert conf["state.backend.type"] == "rocksdb"
    assert conf["pipeline.jars"].endswith("connector.jar")
    assert "execution.checkpointing.interval" not in flink_configuration(s, checkpointing=False)
