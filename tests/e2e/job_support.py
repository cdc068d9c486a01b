"""Run `journeys run` as a user would (a process of its own) and read what it writes to Kafka."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from connectors import topics
from connectors.kafka_admin import delete_topics, ensure_topics
from jobs.settings import Settings

DATA = Path(__file__).parent / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


class JobProcess:
    """`journeys run` in its own process group, with its own home, topic prefix and web UI port."""

    def __init__(self, settings: Settings, home: Path, prefix: str, journeys: list[Path], templates: Path) -> None:
        self.settings = settings
        self.home = home
        self.prefix = prefix
        self.journeys = journeys
        self.templates = templates
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home / f"job-{prefix.strip('.')}.log"
        self._log_start = 0

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "JOURNEYS_HOME": str(self.home),
                "JOURNEYS_KAFKA__BOOTSTRAP_SERVERS": self.settings.kafka.bootstrap_servers,
                "JOURNEYS_KAFKA__TOPIC_PREFIX": self.prefix,
                "JOURNEYS_FLINK__REST_PORT": str(self.port),
                "JOURNEYS_FLINK__CHECKPOINT_INTERVAL_MS": "1000",
                "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
            }
        )
        return env

    def start(self, journeys: list[Path] | None = None) -> None:
        if journeys is not None:
            self.journeys = journeys
        argv = [str(Path(sys.executable).parent / "journeys"), "run", "--templates", str(self.templates)]
        for j in self.journeys:
            argv += ["--journeys", str(j)]
        self.home.mkdir(parents=True, exist_ok=True)
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True
            )
        self.wait_running()

    def wait_running(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise AssertionError(f"journeys run exited with {code}:\n{self.log.read_text()[-3000:]}")
            if "Flink dashboard" in self.output():
                return
            time.sleep(0.2)
        raise AssertionError(f"journeys run did not start within {timeout}s:\n{self.log.read_text()[-3000:]}")

    def output(self) -> str:
        """What the current run printed so far."""
        with self.log.open("rb") as f:
            f.seek(self._log_start)
            return f.read().decode(errors="replace")

    def checkpoints(self) -> list[Path]:
        return sorted(self.home.glob(f"checkpoints/{self.settings.flink.job_name}/*/chk-*/_metadata"))

    def kill_hard(self) -> None:
        """kill -9 the job's whole process group (the Python driver and its JVM)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


class Topics:
    """The prefixed topics of one test, created up front and deleted at the end."""

    def __init__(self, settings: Settings, prefix: str) -> None:
        self.settings = settings
        self.prefix = prefix
        self.names = [prefix + t for t in topics.all_topics()]
        ensure_topics(settings, self.names)
        self.producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, linger_ms=5)

    def send_events(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            self.producer.send(self.prefix + topics.EVENTS, key=e["user_id"].encode(), value=json.dumps(e).encode())
        self.producer.flush()

    def consumer(self, *names: str) -> KafkaConsumer:
        return KafkaConsumer(
            *[self.prefix + n for n in names],
            bootstrap_servers=self.settings.kafka.bootstrap_servers,
            auto_offset_reset="earliest",
            consumer_timeout_ms=200,
        )

    def read_until(
        self, consumer: KafkaConsumer, done: Callable[[list[dict[str, Any]]], bool], timeout: float, rows=None
    ) -> list[dict[str, Any]]:
        """Read JSON records (with `_topic` and `_received` wall-clock) until `done(rows)` or timeout."""
        rows = rows if rows is not None else []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done(rows):
            for message in consumer:
                row = json.loads(message.value)
                row["_topic"] = message.topic[len(self.prefix):]
                row["_received"] = time.time()
                rows.append(row)
        return rows

    def close(self) -> None:
        self.producer.close()
        delete_topics(self.settings, self.names)


@contextmanager
def running_job(
    settings: Settings, tmp_path: Path, prefix: str, journeys: list[Path], templates: Path
) -> Iterator[tuple[JobProcess, Topics]]:
    t = Topics(settings, prefix)
    job = JobProcess(settings, tmp_path / "home", prefix, journeys, templates)
    try:
        yield job, t
    finally:
        job.stop()
        t.close()


def job_metric(port: int, suffix: str) -> float:
    """The sum over the job's operators and subtasks of metrics whose name ends with `suffix`."""
    import urllib.request

    def get(path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return json.load(resp)

    total = 0.0
    for job in get("/jobs/overview")["jobs"]:
        if job["state"] != "RUNNING":
            continue
        for vertex in get(f"/jobs/{job['jid']}")["vertices"]:
            base = f"/jobs/{job['jid']}/vertices/{vertex['id']}/metrics"
            names = [m["id"] for m in get(base) if m["id"].endswith(suffix)]
            if names:
                total += sum(float(m["value"]) for m in get(base + "?get=" + ",".join(names)))
    return total
