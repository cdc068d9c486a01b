"""Dispatcher benchmark: sends per second through the full worker vs a bare loop, same transport, same run.

    .venv/bin/python -m bench.dispatch_bench [--emails 3000] [--webhooks 3000] [--concurrency 4] [--rounds 2]

For email (to the local SMTP server) and webhooks (to a local HTTP server, `bench/http_sink.py`):

- bare: `concurrency` threads, each with its own connection, sending pre-built messages /
  requests of the same size in a plain loop (smtplib `sendmail`, httpx `post`): no Kafka, no
  Redis, no rendering;
- worker: the same number of actions produced to `actions.<channel>` first, then one
  `journeys dispatch` worker (in this process, `concurrency` sender threads) delivering them with
  everything on: Kafka consumption and offset commits, template rendering, consent and suppression
  checks, exactly-once claims in Redis, delivery records and feedback events to Kafka.

Rates are measured at the receiving server (first to last arrival), so both sides are timed the
same way. The ratio worker/bare is reported per round and as the median; the overhead is
1 - ratio (target: under 30%). Results go to `bench/results/dispatch-<UTC time>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import httpx
import psutil
from kafka import KafkaProducer
from pydantic import SecretStr

from connectors.dispatch.channels.email import build_email
from connectors.dispatch.masking import setup_logging
from connectors.dispatch.plugin import OutgoingMessage
from connectors.dispatch.render import RenderContext, TemplateRenderer
from connectors.dispatch.runner import Dispatcher
from connectors.kafka_admin import delete_topics, ensure_topics
from jobs.services import SERVICES, resolve
from jobs.settings import PROJECT_ROOT, Settings
from jobs.spec.records import ActionRecord
from jobs.spec.template import parse_template

RESULTS = PROJECT_ROOT / "bench" / "results"

EMAIL_TEMPLATE = {
    "id": "bench_email",
    "channel": "email",
    "subject": "{{ profile.first_name | default('there') }}, your cart is waiting",
    "text": "Hello {{ profile.first_name }},\n\nYou left {{ event.cart_value }} worth of items in your cart.\n"
    "{% if profile.plan == 'pro' %}Pro members get free shipping.{% endif %}\n",
    "html": "<p>Hello {{ profile.first_name }},</p><p>You left <b>{{ event.cart_value }}</b> worth of items.</p>"
    "{% if profile.plan == 'pro' %}<p>Pro members get free shipping.</p>{% endif %}",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _action(run: str, kind: str, i: int, channel: str, **fields: object) -> ActionRecord:
    now = datetime.now(UTC)
    return ActionRecord(
        action_id=f"bench:1:{run}-{channel}-{kind}-u{i}:n1:1",
        journey_id="bench",
        version=1,
        node_id="n1",
        user_id=f"{run}-{kind}-u{i}",
        channel=channel,
        vars={"profile": {"first_name": f"Ada{i}", "plan": "pro" if i % 2 else "free"}, "event": {"cart_value": i}},
        ts=now,
        emitted_at=now,
        **fields,  # type: ignore[arg-type]
    )


def _threads(count: int, work: Callable[[int], None]) -> float:
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            work(k)
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(count)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.monotonic() - t0


def _mail_times(mail_dir: Path, marker: bytes, since_ns: int) -> list[int]:
    times = []
    for path in mail_dir.iterdir():
        if not path.name.endswith(".eml"):
            continue
        try:
            stamp = int(path.name.split("-", 1)[0])
        except ValueError:
            continue
        if stamp < since_ns:
            continue
        with path.open("rb") as fh:
            head = fh.read(400)
        if marker in head:
            times.append(stamp)
    return sorted(times)


def _remove_mail(mail_dir: Path, marker: bytes, since_ns: int) -> None:
    for path in mail_dir.iterdir():
        try:
            if int(path.name.split("-", 1)[0]) >= since_ns and marker in path.read_bytes()[:400]:
                path.unlink()
        except (ValueError, OSError):
            continue


def _rate(times_ns: list[int]) -> float:
    if len(times_ns) < 2:
        return 0.0
    return (len(times_ns) - 1) / ((times_ns[-1] - times_ns[0]) / 1e9)


class CpuMeter:
    """CPU seconds used by this process and by the services a send touches, between start and stop."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.procs = {n: psutil.Process(p) for n, p in pids.items() if p}

    def _read(self) -> dict[str, float]:
        out = {"client": time.process_time()}
        for name, proc in self.procs.items():
            t = proc.cpu_times()
            out[name] = t.user + t.system
        return out

    def __enter__(self) -> CpuMeter:
        self.before = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        after = self._read()
        self.used = {n: after[n] - self.before[n] for n in after}


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


class Bench:
    """One benchmark run: settings, topics, templates and servers it made, and its results."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        base = Settings.load()
        for service in resolve(base):
            service.start()
        self.run = uuid.uuid4().hex[:8]
        self.tmp = Path(tempfile.mkdtemp(prefix="journeys-bench-"))
        (self.tmp / "templates").mkdir()
        (self.tmp / "templates" / "bench_email.yaml").write_text(json.dumps(EMAIL_TEMPLATE))
        self.settings = base.model_copy(
            update={
                "kafka": base.kafka.model_copy(update={"topic_prefix": f"bench-{self.run}."}),
                "dispatch": base.dispatch.model_copy(
                    update={
                        "templates_dir": self.tmp / "templates",
                        "unsubscribe_secret": SecretStr("bench-secret"),
                        "concurrency": args.concurrency,
                        "rate_limits": {},
                    }
                ),
            }
        )
        self.mail_dir = self.settings.home / "mail"
        self.topics = [
            f"bench-{self.run}.{t}"
            for t in ("actions.email", "actions.webhook", "dlq.email", "dlq.webhook", "deliveries", "events")
        ]
        ensure_topics(self.settings, self.topics[:2], partitions=args.partitions)
        self.sink_port = _free_port()
        self.sink = subprocess.Popen(
            [sys.executable, "-m", "bench.http_sink", "--port", str(self.sink_port)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.sink_url = f"http://127.0.0.1:{self.sink_port}"
        _wait(self._sink_up, 20, "the HTTP sink")
        self.started_ns = time.time_ns()

    def _pids(self, server: str) -> dict[str, int | None]:
        pids = {name: SERVICES[name](self.settings).running_pid() for name in ("kafka", "redis")}
        pids[server] = self.sink.pid if server == "sink" else SERVICES["smtp"](self.settings).running_pid()
        return pids

    def _sink_up(self) -> bool:
        try:
            return httpx.get(f"{self.sink_url}/_stats", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _sink_stats(self) -> dict[str, int]:
        return httpx.get(f"{self.sink_url}/_stats", timeout=5).json()

    def close(self) -> None:
        self.sink.terminate()
        self.sink.wait(10)
        delete_topics(self.settings, self.topics)
        _remove_mail(self.mail_dir, f"{self.run}".encode(), self.started_ns)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _produce(self, channel: str, actions: list[ActionRecord]) -> None:
        producer = KafkaProducer(bootstrap_servers=self.settings.kafka.bootstrap_servers, linger_ms=10)
        topic = f"{self.settings.kafka.topic_prefix}actions.{channel}"
        for a in actions:
            producer.send(topic, key=a.user_id.encode(), value=a.to_json())
        producer.flush()
        producer.close()

    def _worker(self, channel: str, expected: int) -> float:
        dispatcher = Dispatcher(self.settings, [channel], group_id=f"bench-{self.run}-{channel}-{uuid.uuid4().hex[:4]}")
        t0 = time.monotonic()
        dispatcher.start()

        def done() -> int:
            # The worker's own counter: watching the receiving side from this process would
            # compete with the worker for the interpreter.
            return dispatcher.stats()[channel].get("delivered", 0)

        try:
            _wait(lambda: done() >= expected, self.args.timeout, f"{expected} {channel} deliveries")
        finally:
            dispatcher.stop()
            dispatcher.wait()
        stats = dispatcher.stats()[channel]
        if stats.get("delivered", 0) != expected:
            raise RuntimeError(f"{channel}: the worker delivered {stats} instead of {expected}")
        return time.monotonic() - t0

    # Email ------------------------------------------------------------------------------------

    def email_round(self, k: int) -> dict[str, float]:
        n, c = self.args.emails, self.args.concurrency
        renderer = TemplateRenderer()
        template = parse_template(EMAIL_TEMPLATE)
        marker_bare = f"{self.run}-bare{k}.bench.example"
        prebuilt = []
        for i in range(n):
            a = _action(self.run, f"bare{k}", i, "email", template="bench_email",
                        to={"email": f"u{i}@{marker_bare}"})
            rendered = renderer.render(template, RenderContext.from_action(a))
            prebuilt.append((f"u{i}@{marker_bare}", build_email(OutgoingMessage(action=a, content=rendered),
                                                              self.settings, f"u{i}@{marker_bare}")))
        since = time.time_ns()

        def bare(t: int) -> None:
            conn = smtplib.SMTP(self.settings.smtp.host, self.settings.smtp.port)
            for rcpt, data in prebuilt[t::c]:
                conn.sendmail(self.settings.smtp.sender, [rcpt], data)
            conn.quit()

        with CpuMeter(self._pids("smtp")) as bare_cpu:
            bare_wall = _threads(c, bare)
        bare_times = _mail_times(self.mail_dir, marker_bare.encode(), since)
        assert len(bare_times) == n, f"bare email: {len(bare_times)} of {n} arrived"

        marker_worker = f"{self.run}-worker{k}.bench.example"
        actions = [
            _action(self.run, f"worker{k}", i, "email", template="bench_email", to={"email": f"u{i}@{marker_worker}"})
            for i in range(n)
        ]
        self._produce("email", actions)
        since = time.time_ns()
        with CpuMeter(self._pids("smtp")) as worker_cpu:
            worker_wall = self._worker("email", n)
        worker_times = _mail_times(self.mail_dir, marker_worker.encode(), since)
        assert len(worker_times) == n, f"worker email: {len(worker_times)} of {n} arrived"
        return {
            "bare_per_s": _rate(bare_times),
            "worker_per_s": _rate(worker_times),
            "bare_wall_s": bare_wall,
            "worker_wall_s_incl_group_join": worker_wall,
            **_cpu_figures(bare_cpu.used, worker_cpu.used, n),
        }

    # Webhook ----------------------------------------------------------------------------------

    def webhook_round(self, k: int) -> dict[str, float]:
        n, c = self.args.webhooks, self.args.concurrency
        url = f"{self.sink_url}/hooks/{self.run}"
        body = {"user": "{{ user_id }}", "name": "{{ profile.first_name }}", "cart": "{{ event.cart_value }}"}
        prebuilt = [
            json.dumps({"user": f"{self.run}-bare{k}-u{i}", "name": f"Ada{i}", "cart": str(i)}).encode()
            for i in range(n)
        ]
        httpx.post(f"{self.sink_url}/_reset")

        def bare(t: int) -> None:
            with httpx.Client(timeout=10) as client:
                for i in range(t, n, c):
                    r = client.post(url, content=prebuilt[i],
                                    headers={"Content-Type": "application/json", "Idempotency-Key": f"b{k}-{i}"})
                    r.raise_for_status()

        with CpuMeter(self._pids("sink")) as bare_cpu:
            bare_wall = _threads(c, bare)
        bare_stats = self._sink_stats()
        assert bare_stats["count"] == n, bare_stats

        actions = [
            _action(self.run, f"worker{k}", i, "webhook", params={"method": "POST", "url": url, "body": body})
            for i in range(n)
        ]
        httpx.post(f"{self.sink_url}/_reset")
        self._produce("webhook", actions)
        with CpuMeter(self._pids("sink")) as worker_cpu:
            worker_wall = self._worker("webhook", n)
        worker_stats = self._sink_stats()
        assert worker_stats["count"] == n and worker_stats["distinct_keys"] == n, worker_stats

        def rate(s: dict[str, int]) -> float:
            return (s["count"] - 1) / ((s["last_ns"] - s["first_ns"]) / 1e9)

        return {
            "bare_per_s": rate(bare_stats),
            "worker_per_s": rate(worker_stats),
            "bare_wall_s": bare_wall,
            "worker_wall_s_incl_group_join": worker_wall,
            **_cpu_figures(bare_cpu.used, worker_cpu.used, n),
        }


def _cpu_figures(bare: dict[str, float], worker: dict[str, float], n: int) -> dict[str, float]:
    """CPU milliseconds per message: the client process, and everything involved (client, server,
    Kafka, Redis). Less sensitive than rates to what else runs on the machine."""
    return {
        "bare_client_cpu_ms": 1000 * bare["client"] / n,
        "worker_client_cpu_ms": 1000 * worker["client"] / n,
        "bare_total_cpu_ms": 1000 * sum(bare.values()) / n,
        "worker_total_cpu_ms": 1000 * sum(worker.values()) / n,
        "worker_cpu_ms_by_process": {k: round(1000 * v / n, 3) for k, v in worker.items()},  # type: ignore[dict-item]
    }


def _summary(rounds: list[dict[str, float]]) -> dict[str, object]:
    ratios = [r["worker_per_s"] / r["bare_per_s"] for r in rounds]
    ratio = statistics.median(ratios)
    return {
        "rounds": rounds,
        "ratios": ratios,
        "ratio_median": ratio,
        "overhead_median": 1 - ratio,
        "worker_per_s_median": statistics.median(r["worker_per_s"] for r in rounds),
        "bare_per_s_median": statistics.median(r["bare_per_s"] for r in rounds),
        "total_cpu_per_message_ratio_median": statistics.median(
            r["bare_total_cpu_ms"] / r["worker_total_cpu_ms"] for r in rounds),
        "target_overhead_below": 0.30,
        "meets_target": (1 - ratio) < 0.30,
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark; print a table and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=3000)
    parser.add_argument("--webhooks", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    setup_logging([], args.log_level)
    bench = Bench(args)
    try:
        email = [bench.email_round(k) for k in range(args.rounds)]
        webhook = [bench.webhook_round(k) for k in range(args.rounds)]
    finally:
        bench.close()
    result = {
        "benchmark": "dispatch",
        "command": "python -m bench.dispatch_bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_avg_1m_at_end": os.getloadavg()[0],
        },
        "versions": {p: version(p) for p in ("kafka-python", "redis", "httpx", "jinja2", "aiosmtpd", "uvicorn")},
        "settings": {
            "emails": args.emails,
            "webhooks": args.webhooks,
            "concurrency": args.concurrency,
            "partitions": args.partitions,
            "rounds": args.rounds,
        },
        "email": _summary(email),
        "webhook": _summary(webhook),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"dispatch-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for channel in ("email", "webhook"):
        s = result[channel]
        assert isinstance(s, dict)
        print(
            f"{channel:<8} bare {s['bare_per_s_median']:8.0f}/s  worker {s['worker_per_s_median']:8.0f}/s  "
            f"ratio {s['ratio_median']:.2f}  overhead {s['overhead_median']:.0%}  "
            f"(rounds: {', '.join(f'{r:.2f}' for r in s['ratios'])}); "
            f"CPU per message bare/worker {s['total_cpu_per_message_ratio_median']:.2f}"
        )
    print(f"written to {out}")
    return result


if __name__ == "__main__":
    main()
