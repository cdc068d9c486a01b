"""`journeys demo`: the product end to end on the local platform.

Ten days of synthetic history for a few thousand users go into Kafka; `journeys run` runs the
eight library journeys over them (time follows the events, then the wall clock), dispatchers
deliver email to the local SMTP server and in-app messages and flags to Redis, and deliveries
flow back into the events. The demo watches the outcome stream until it goes quiet and prints
what happened per journey. Each run uses its own topic prefix and home, so runs never mix.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from connectors import topics
from connectors.kafka_admin import ensure_topics
from jobs.settings import PROJECT_ROOT, Settings

LIBRARY = PROJECT_ROOT / "jobs" / "library"
LOCAL_CHANNELS = ("email", "in_app", "flag")  # the channels with a local twin (SMTP, Redis)


@dataclass
class DemoReport:
    """What the demo saw on the output topics."""

    events: int = 0
    entered: Counter[str] = field(default_factory=Counter)
    actions: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    suppressed: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    converted: Counter[str] = field(default_factory=Counter)
    exited: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    deliveries: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    rejected: int = 0

    def add(self, topic: str, row: dict) -> None:
        """Count one output record."""
        if topic == topics.OUTCOMES:
            journey, kind = row["journey_id"], row["kind"]
            if kind == "entered":
                self.entered[journey] += 1
            elif kind == "suppressed":
                self.suppressed[journey][(row.get("detail") or "?").split(":", 1)[0]] += 1
            elif kind == "converted":
                self.converted[journey] += 1
            elif kind == "exited":
                self.exited[journey] += 1
            elif kind == "error":
                self.errors[journey] += 1
        elif topic.startswith("actions."):
            self.actions[row["journey_id"]][row["channel"]] += 1
        elif topic == topics.DELIVERIES:
            status = row.get("status", "?")
            if status != "delivered" and row.get("error"):
                status += f" ({str(row['error'])[:40]})"  # e.g. expired: past the action's not_after
            self.deliveries[row.get("channel", "?")][status] += 1
        elif topic == topics.EVENTS_REJECTED:
            self.rejected += 1

    def lines(self) -> list[str]:
        """The report as printable lines."""
        out = [f"{'journey':<24}{'entered':>8}{'converted':>10}{'exited':>8}  actions · suppressed"]
        for journey in sorted(set(self.entered) | set(self.actions)):
            acts = ", ".join(f"{c} {n}" for c, n in sorted(self.actions[journey].items())) or "none"
            supp = ", ".join(f"{r} {n}" for r, n in sorted(self.suppressed[journey].items())) or "none"
            out.append(
                f"{journey:<24}{self.entered[journey]:>8}{self.converted[journey]:>10}{self.exited[journey]:>8}"
                f"  {acts} · {supp}"
            )
        for channel, statuses in sorted(self.deliveries.items()):
            out.append(f"deliveries {channel}: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())))
        if self.errors:
            out.append("errors: " + ", ".join(f"{j} {n}" for j, n in sorted(self.errors.items())))
        out.append(f"rejected or late events: {self.rejected}")
        return out


class Child:
    """A `journeys` subcommand in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "journeys"), *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def wait_for_line(self, text: str, timeout: float) -> None:
        """Wait until the child prints `text`; raise with its log if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{self.name} did not start (see {self.log}):\n{tail}")

    def stop(self) -> None:
        """SIGTERM the group; SIGKILL it if it has not gone in 20 s."""
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def run_demo(
    settings: Settings,
    users: int,
    events: int,
    days: int,
    seed: int,
    say: Callable[[str], None],
    quiet_s: float = 75.0,
    max_s: float = 300.0,
) -> DemoReport:
    """Run the demo and return what it saw; `say` prints progress."""
    from bench.loadgen import generate

    run = uuid.uuid4().hex[:6]
    prefix = f"demo-{run}."
    home = settings.home / "demo" / run
    env = dict(os.environ)
    env.update(
        {
            "JOURNEYS_HOME": str(home),
            "JOURNEYS_KAFKA__TOPIC_PREFIX": prefix,
            "JOURNEYS_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            # History replays through Kafka: let a pause in the backlog not hand time to the wall clock.
            "JOURNEYS_FLINK__IDLE_TIMEOUT_MS": "60000",
            # Read back from two partitions, ordered history interleaves hours apart: process it
            # all rather than count it late (the interpreter catches up deadlines in order).
            "JOURNEYS_FLINK__ALLOWED_LATENESS_MS": str(30 * 86_400_000),
            "JOURNEYS_FLINK__REST_PORT": str(settings.flink.rest_port),
            "JOURNEYS_DISPATCH__TEMPLATES_DIR": str(LIBRARY / "templates"),
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        }
    )
    ensure_topics(settings, [prefix + t for t in topics.all_topics()])

    start = datetime.now(UTC) - timedelta(days=days, minutes=5)
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, linger_ms=20, batch_size=256_000)
    t0 = time.monotonic()
    count = 0
    for line in generate(users=users, events=events, seed=seed, start=start, span=timedelta(days=days)):
        producer.send(prefix + topics.EVENTS, value=line.encode())
        count += 1
    producer.flush()
    producer.close()
    say(f"produced {count:,} events for {users:,} users ({days} days of history) to '{prefix}events' "
        f"in {time.monotonic() - t0:.1f}s")

    library = ["--journeys", str(LIBRARY), "--templates", str(LIBRARY / "templates")]
    job = Child("journeys run", ["run", *library], env, home / "logs" / "job.log")
    dispatch = None
    report = DemoReport(events=count)
    try:
        job.wait_for_line("Flink dashboard", timeout=120)
        say(f"journeys job running: 8 library journeys · Flink dashboard {settings.flink.web_url}")
        argv = ["dispatch", "--channel", ",".join(LOCAL_CHANNELS)]
        dispatch = Child("journeys dispatch", argv, env, home / "logs" / "dispatch.log")
        say(f"dispatchers delivering {', '.join(LOCAL_CHANNELS)} (SMTP {settings.smtp.host}:{settings.smtp.port}, "
            f"Redis {settings.redis.host}:{settings.redis.port})")
        _watch(settings, prefix, report, say, quiet_s=quiet_s, max_s=max_s)
    finally:
        for child in (dispatch, job):
            if child is not None:
                child.stop()
    say(f"logs: {home / 'logs'}")
    return report


def _watch(settings: Settings, prefix: str, report: DemoReport, say: Callable[[str], None],
           quiet_s: float, max_s: float) -> None:
    """Count output records until none arrived for `quiet_s` (or `max_s` passed)."""
    names = [topics.OUTCOMES, topics.DELIVERIES, topics.EVENTS_REJECTED] + [
        topics.actions_topic(ch) for ch in topics.CHANNELS
    ]
    consumer = KafkaConsumer(
        *[prefix + n for n in names],
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    started = last = time.monotonic()
    seen = shown = 0
    try:
        while time.monotonic() - last < quiet_s and time.monotonic() - started < max_s:
            for message in consumer:
                report.add(message.topic[len(prefix):], json.loads(message.value))
                seen += 1
                last = time.monotonic()
            if seen - shown >= 5000 or (seen != shown and time.monotonic() - last > 2):
                say(f"  … {seen:,} records out ({sum(report.entered.values()):,} entries, "
                    f"{sum(sum(c.values()) for c in report.actions.values()):,} actions)")
                shown = seen
    finally:
        consumer.close()
