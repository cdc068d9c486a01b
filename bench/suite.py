"""`make bench`: every benchmark of issue 6 (and issue 4's run/simulate ratios) in one bounded run.

    .venv/bin/python -m bench.suite [--quick] [--only a,b,c,sim,d,e,f] [--scale-users N]

Phases, each a ratio against a baseline measured in the same run (this machine is shared and
noisy: a lone absolute figure means little):

  a  the pipe: raw produce and consume throughput on the local broker, with the Java client
     (what Flink's connector uses) and with Python (`bench.loadgen` producing, kafka-python reading);
  b  the engine: the `run` job with a pass-through Python operator in the journey operator's place;
  c  journeys: the `run` job with the library journeys, on a backlog of events 100% and 10%
     relevant (the rest dropped on the JVM side), read until the backlog is drained; plus
     `simulate` over a file, next to the same with the pass-through operator;
  d  without Flink: one Python process, Kafka consumer, state in Redis, timers in a sorted set,
     the same interpreter core (`bench.redis_baseline`);
  e  latency at half of c's rate: event produce time to the action readable in its topic;
  f  scale: users each waiting in a journey, RocksDB: checkpoint size and time, bytes per user,
     memory, timers draining when all come due at once.

Services start through `jobs.services` (and are stopped only if this run started them); every
run uses its own topic prefix, job name, home folder and a free web UI port. Results go to
`bench/results/bench-<UTC time>.json`; `bench/report.py` turns the latest into the README table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import yaml

from bench.loadgen import RELEVANT_TYPES, KafkaTarget, LoadConfig, write_file, write_kafka
from connectors import topics
from connectors.kafka_admin import delete_topics, ensure_topics
from jobs.settings import PROJECT_ROOT, Settings

RESULTS = PROJECT_ROOT / "bench" / "results"
LIBRARY = PROJECT_ROOT / "jobs" / "library"
TEMPLATES = LIBRARY / "templates"
KAFKA_JARS = PROJECT_ROOT / "flink-conf" / "jars" / "kafka"


# Sizes of a full run (about 25 minutes here, f at a million users) and of `--quick` (a smoke run of the harness).
SIZES = {
    "full": {"users": 100_000, "c100": 120_000, "c10": 500_000, "raw": 1_000_000, "py_produce": 300_000,
             "simulate": 60_000, "profile": 40_000, "d_seconds": 30, "e_seconds": 60, "scale_users": 1_000_000,
             "c_timeout": 240, "scale_timeout": 900},
    "quick": {"users": 5_000, "c100": 20_000, "c10": 100_000, "raw": 100_000, "py_produce": 50_000,
              "simulate": 10_000, "profile": 10_000, "d_seconds": 10, "e_seconds": 20, "scale_users": 20_000,
              "c_timeout": 120, "scale_timeout": 120},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Bench:
    """One `make bench` run: its folder, settings, topics and results."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.size = dict(SIZES["quick" if args.quick else "full"])
        if args.scale_users:
            self.size["scale_users"] = args.scale_users
        self.run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.settings = Settings.load()
        self.home = self.settings.home / "bench" / self.run_id
        self.home.mkdir(parents=True, exist_ok=True)
        self.tag = f"b{uuid.uuid4().hex[:6]}"
        self.prefixes: list[str] = []
        self.started_services: list[Any] = []
        self.results: dict[str, Any] = {"benchmark": "journeys", "run_id": self.run_id,
                                        "command": " ".join([Path(sys.executable).name, "-m", "bench.suite",
                                                             *sys.argv[1:]]),
                                        "started_at": datetime.now(UTC).isoformat(), "phases": {}, "errors": {}}
        self.conf_dir = self._conf_dir()
        self.library = LIBRARY
        self.backlogs: dict[str, str] = {}  # name -> topic prefix of the backlogs phase bc filled
        self.t0 = time.monotonic()

    # --- setup ------------------------------------------------------------------------------

    def _conf_dir(self) -> Path:
        """The project's Flink configuration, plus REST metrics fresh every second (for sampling)."""
        conf = yaml.safe_load((self.settings.flink.conf_dir / "config.yaml").read_text()) or {}
        conf.setdefault("metrics", {}).setdefault("fetcher", {})["update-interval"] = 1000
        conf["metrics"].pop("reporter", None)  # no Prometheus port per job: runs here overlap
        folder = self.home / "flink-conf"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.yaml").write_text(yaml.safe_dump(conf))
        return folder

    def services(self) -> None:
        from jobs.services import SERVICES

        for name in ("kafka", "redis"):
            service = SERVICES[name](self.settings)
            if service.start():
                self.started_services.append(service)

    def stop_services(self) -> None:
        for service in reversed(self.started_services):
            service.stop()

    def prefix(self, name: str) -> str:
        p = f"{self.tag}{name}."
        self.prefixes.append(p)
        return p

    def scoped(self, prefix: str) -> Settings:
        """The settings of one run: its topic prefix."""
        kafka = self.settings.kafka.model_copy(update={"topic_prefix": prefix})
        return self.settings.model_copy(update={"kafka": kafka})

    def child_env(self, prefix: str, job: str, **flink: Any) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "JOURNEYS_HOME": str(self.home / job),
            "JOURNEYS_KAFKA__TOPIC_PREFIX": prefix,
            "JOURNEYS_FLINK__REST_PORT": str(free_port()),
            "JOURNEYS_FLINK__CONF_DIR": str(self.conf_dir),
            "JOURNEYS_FLINK__JOB_NAME": f"{self.tag}-{job}",
            "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
        })
        for key, value in flink.items():
            env[f"JOURNEYS_FLINK__{key.upper()}"] = str(value)
        return env

    def cleanup_topics(self) -> None:
        from kafka import KafkaAdminClient

        try:
            admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka.bootstrap_servers)
            mine = [t for t in admin.list_topics() if any(t.startswith(p) for p in self.prefixes)]
            admin.close()
            if mine:
                delete_topics(self.settings, mine)
        except Exception as exc:
            print(f"could not delete this run's topics: {exc}", file=sys.stderr)

    # --- helpers ----------------------------------------------------------------------------

    def log(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.0f}s] {text}", flush=True)

    def phase(self, name: str, fn: Callable[[], Any]) -> None:
        if self.args.only and name not in self.args.only:
            return
        self.log(f"phase {name}")
        started = time.monotonic()
        load_before = os.getloadavg()[0]
        try:
            fn()
        except Exception:
            self.results["errors"][name] = traceback.format_exc()
            self.log(f"phase {name} failed:\n{traceback.format_exc()}")
        # Other work on this shared machine slows every phase; the load says how much was going on.
        self.results.setdefault("load_average", {})[name] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        self.results["phases"].setdefault(name, {})["phase_s"] = round(time.monotonic() - started, 1)
        self.save()

    def save(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"bench-{self.run_id}.json"
        self.results["ratios"] = ratios(self.results["phases"])
        self.results["analysis"] = where_time_goes(self.results["phases"])
        path.write_text(json.dumps(self.results, indent=1, default=str))
        return path

    def fill(self, prefix: str, config: LoadConfig, producers: int = 2, partitions: int | None = None,
             client: str = "auto") -> dict[str, Any]:
        """Create `prefix`'s events topic (`partitions`, default the settings') and produce `config`'s
        stream into it."""
        settings = self.scoped(prefix)
        topic = prefix + topics.EVENTS
        ensure_topics(settings, [topic], partitions=partitions)
        return write_kafka(config, KafkaTarget(settings.kafka.bootstrap_servers, topic, producers=producers,
                                               client=client))

    def flink(self, name: str, spec: dict[str, Any], env: dict[str, str], timeout: float) -> dict[str, Any]:
        """Run `bench.flink_job` with `spec` in its own process group; its result."""
        folder = self.home / name
        folder.mkdir(parents=True, exist_ok=True)
        spec = {"journeys": [str(LIBRARY)], "templates": str(TEMPLATES), "stats": str(folder / "stats.json"),
                "result": str(folder / "result.json"), "timeout_s": timeout, **spec}
        (folder / "spec.json").write_text(json.dumps(spec, indent=1))
        with (folder / "job.log").open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "bench.flink_job", str(folder / "spec.json")],
                                    stdout=log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT,
                                    start_new_session=True)
            try:
                proc.wait(timeout=timeout + 180)
            except subprocess.TimeoutExpired:
                pass
            finally:
                # The driver and the JVM it started are this process group: end it whole.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        result_file = folder / "result.json"
        if not result_file.exists():
            raise RuntimeError(f"{name}: no result; last lines of {folder / 'job.log'}:\n"
                               + (folder / "job.log").read_text(errors="replace")[-3000:])
        result = json.loads(result_file.read_text())
        if "error" in result:
            raise RuntimeError(f"{name}: {result['error'][-3000:]}")
        return result


# --- figures ----------------------------------------------------------------------------------


def window_rate(stats: dict[str, Any], ingested: int | None = None) -> dict[str, Any]:
    """Throughput over the operator's first→last element window (`ingested` counts events the
    JVM side read, when it differs from what reached the operator)."""
    first, last, n = stats.get("first", 0.0), stats.get("last", 0.0), stats.get("elements", 0)
    window = last - first
    out = {"operator_events": n, "window_s": round(window, 3), "timers_fired": stats.get("timers", 0),
           "actions": stats.get("actions", 0), "outputs": stats.get("outputs", 0), "late": stats.get("late", 0)}
    if window > 0:
        out["operator_events_per_s"] = round(n / window, 1)
        if ingested is not None:
            out["ingested_events"] = ingested
            out["ingested_events_per_s"] = round(ingested / window, 1)
    return out


def busy_profile(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean busy / back-pressured / idle ms per second per task over the run's samples."""
    acc: dict[str, dict[str, list[float]]] = {}
    for s in samples:
        for task, metrics in s.get("tasks", {}).items():
            for k, v in metrics.items():
                acc.setdefault(task, {}).setdefault(k, []).append(v)
    return {task: {k: round(sum(v) / len(v), 1) for k, v in m.items()} for task, m in acc.items()}


def ratios(phases: dict[str, Any]) -> dict[str, Any]:
    """c/a, c/b, c/d and issue 4's ratios, from whatever phases ran."""
    def get(*path: str) -> float | None:
        node: Any = phases
        for p in path:
            if not isinstance(node, dict) or p not in node:
                return None
            node = node[p]
        return float(node) if isinstance(node, int | float) else None

    def div(x: float | None, y: float | None) -> float | None:
        return round(x / y, 3) if x is not None and y else None

    c100 = get("c", "c100", "ingested_events_per_s")
    c10 = get("c", "c10", "ingested_events_per_s")
    b = get("b", "passthrough", "ingested_events_per_s")
    a_consume = get("a", "java_consume", "events_per_s")
    d100 = get("d", "d100", "events_per_s")
    d10 = get("d", "d10", "events_per_s")
    sim = get("c", "simulate", "journeys", "events_per_s")
    sim_pass = get("c", "simulate", "passthrough", "events_per_s")
    return {
        "c100_over_a_consume": div(c100, a_consume),
        "c10_over_a_consume": div(c10, a_consume),
        "c100_over_b": div(c100, b),
        "c100_over_d100": div(c100, d100),
        "c10_over_d10": div(c10, d10),
        "run_over_passthrough": div(c100, b),
        "simulate_over_passthrough": div(sim, sim_pass),
    }


# Where a profiled function's own time goes, by the first pattern its name matches.
PROFILE_GROUPS = (
    ("flink keyed state (JVM calls)", ("embedded/state_impl",)),
    ("flink timers (JVM calls)", ("timerservice_impl",)),
    ("flink metrics (JVM calls)", ("metrics/embedded",)),
    ("event validation (pydantic)", ("validate_json", "jobs/spec/durations")),
    ("output records to JSON", ("to_json", "model_dump_json")),
    ("state codec", ("state/codec", "orjson")),
    ("interpreter", ("operators/core",)),
    ("adapter", ("operators/flink",)),
)


def where_time_goes(phases: dict[str, Any]) -> dict[str, Any]:
    """Per-event costs of each path and the journey operator's profile grouped by what it is."""
    def us(rate: Any) -> float | None:
        return round(1e6 / rate, 1) if rate else None

    c = phases.get("c", {})
    out: dict[str, Any] = {
        "us_per_event": {
            "b_passthrough": us(phases.get("b", {}).get("passthrough", {}).get("ingested_events_per_s")),
            "c100": us(c.get("c100", {}).get("ingested_events_per_s")),
            "c10_per_relevant_event": us(c.get("c10", {}).get("operator_events_per_s")),
            "c10_per_ingested_event": us(c.get("c10", {}).get("ingested_events_per_s")),
            "b10_per_ingested_event": us(phases.get("b", {}).get("passthrough_10", {}).get("ingested_events_per_s")),
            "d100": us(phases.get("d", {}).get("d100", {}).get("events_per_s")),
        },
        "bottleneck_task": "the task holding the journey operator, route outputs and the sinks is busy 1000 ms/s "
                           "in every c run while the source task is back-pressured (busy_ms_per_s of each run)",
    }
    profile = c.get("profile_run", {}).get("profile", [])
    if profile:
        groups: dict[str, float] = {}
        for row in profile:
            name = next((g for g, pats in PROFILE_GROUPS if any(p in row["function"] for p in pats)), "other")
            groups[name] = groups.get(name, 0.0) + row["own_share"]
        ranked = sorted(groups.items(), key=lambda kv: -kv[1])
        out["journey_operator_profile_share"] = {k: round(v, 3) for k, v in ranked}
        out["journey_operator_profile_note"] = ("own time of the 25 heaviest functions under cProfile, as a share "
                                                "of the operator's Python time (the rest is spread thinly)")
    return out


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {"cores": os.cpu_count(), "cpu_model": model, "memory_gb": round(_mem_gb(), 1),
            "platform": platform.platform(), "python": sys.version.split()[0], "java": java[0] if java else "",
            "apache-flink": pkg_version("apache-flink"), "kafka-python": pkg_version("kafka-python"),
            "redis-py": pkg_version("redis"), "pydantic": pkg_version("pydantic"),
            "kafka_broker": next((p.name for p in KAFKA_JARS.glob("kafka_2.13-*.jar")), ""),
            "load_average_at_start": [round(x, 2) for x in load]}


def _mem_gb() -> float:
    import psutil

    return psutil.virtual_memory().total / 2**30


def git_revision() -> dict[str, Any]:
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.strip()

    return {"commit": run("rev-parse", "HEAD"), "dirty_files": len(run("status", "--porcelain").splitlines())}


# --- phases -----------------------------------------------------------------------------------


def phase_a(bench: Bench) -> None:
    """Raw produce/consume: Java client (Flink's) and Python (loadgen, kafka-python)."""
    size = bench.size
    out: dict[str, Any] = {}
    events_file = bench.home / "raw.jsonl"
    config = LoadConfig(users=size["users"], events=size["raw"], seed=11, relevant_share=None)
    gen = write_file(config, events_file)
    out["loadgen_file"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in gen.items()}
    bench.log(f"loadgen to file: {gen['events_per_s']:,.0f} events/s")
    classes = bench.home / "java"
    classes.mkdir(exist_ok=True)
    subprocess.run(["javac", "-d", str(classes), "-cp", f"{KAFKA_JARS}/*",
                    str(PROJECT_ROOT / "bench" / "java" / "KafkaPerf.java")], check=True)
    cp = f"{KAFKA_JARS}/*:{classes}"
    prefix = bench.prefix("raw")
    topic = prefix + topics.EVENTS
    ensure_topics(bench.scoped(prefix), [topic])
    bootstrap = bench.settings.kafka.bootstrap_servers

    def java(*args: str) -> dict[str, Any]:
        res = subprocess.run(["java", "-Xmx1g", "-cp", cp, "KafkaPerf", *args], capture_output=True, text=True,
                             timeout=300, check=True)
        data = json.loads(res.stdout.strip().splitlines()[-1])
        data["events_per_s"] = round(data["records"] / data["seconds"], 1)
        data["mb_per_s"] = round(data["bytes"] / data["seconds"] / 1e6, 1)
        return data

    out["java_produce"] = java("produce", bootstrap, topic, str(events_file), str(size["raw"]))
    bench.log(f"java produce: {out['java_produce']['events_per_s']:,.0f} events/s")
    out["java_consume"] = java("consume", bootstrap, topic, str(size["raw"]))
    bench.log(f"java consume: {out['java_consume']['events_per_s']:,.0f} events/s")
    out["python_consume"] = python_consume(bootstrap, topic, size["py_produce"])
    bench.log(f"kafka-python consume: {out['python_consume']['events_per_s']:,.0f} events/s")
    prefix2 = bench.prefix("rawpy")
    cfg = LoadConfig(users=size["users"], events=size["py_produce"], seed=12)
    for name, client, producers in (("python_produce_1p", "python", 1), ("python_produce_2p", "python", 2),
                                    ("loadgen_java_produce", "java", 1)):
        res = bench.fill(prefix2, cfg, producers=producers, client=client)
        out[name] = {k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()}
        bench.log(f"loadgen to Kafka, {client} client, {producers} process(es): {res['events_per_s']:,.0f} events/s")
    events_file.unlink(missing_ok=True)
    bench.results["phases"]["a"] = out


def python_consume(bootstrap: str, topic: str, count: int) -> dict[str, Any]:
    """kafka-python reading `count` records from the start of `topic`."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=5000,
                             fetch_max_bytes=64 * 2**20, max_partition_fetch_bytes=8 * 2**20)
    parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    n = size = 0
    t0 = None
    deadline = time.time() + 120
    while n < count and time.time() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            if t0 is None:
                t0 = time.perf_counter()
            n += len(records)
            size += sum(len(r.value) for r in records)
    seconds = time.perf_counter() - (t0 or time.perf_counter())
    consumer.close()
    return {"records": n, "bytes": size, "seconds": round(seconds, 3),
            "events_per_s": round(n / seconds, 1) if seconds else 0.0}


def stream_config(bench: Bench, events: int, share: float | None, seed: int, span: timedelta) -> LoadConfig:
    """A backlog ending a few minutes ago (the job's wall-clock input is ahead of it)."""
    start = datetime.now(UTC).replace(microsecond=0) - span - timedelta(minutes=5)
    return LoadConfig(users=bench.size["users"], events=events, seed=seed, start=start, span=span,
                      relevant_share=share)


def relevant_count(config: LoadConfig) -> int:
    from bench.loadgen import type_counts

    return sum(n for t, n in type_counts(config).items() if t in RELEVANT_TYPES)


def run_job(bench: Bench, name: str, prefix: str, operator: str, expected: int, ingested: int,
            timeout: float, **extra: Any) -> dict[str, Any]:
    """The `run` job over `prefix`'s backlog, until the operator saw `expected` events."""
    env = bench.child_env(prefix, name, idle_timeout_ms=30_000)
    res = bench.flink(name, {"mode": "run", "operator": operator, "expected": expected, **extra}, env, timeout)
    out = window_rate(res.get("ingest", {}), ingested)
    out["busy_ms_per_s"] = busy_profile(res.get("metrics_samples", []))
    out["jvm_rss_mb"] = round(res.get("jvm_rss_bytes_after_ingest", 0) / 2**20, 1)
    out["wall_s"] = round(res.get("wall_s", 0.0), 1)
    if res.get("timed_out"):
        out["timed_out"] = True
    if "profile" in res:
        out["profile"] = res["profile"]
    return out


def phase_bc(bench: Bench) -> None:
    """b (pass-through) and c (journeys, 100% and 10% relevant) through Kafka, and simulate."""
    size = bench.size
    b: dict[str, Any] = {}
    c: dict[str, Any] = {}
    bench.results["phases"]["b"], bench.results["phases"]["c"] = b, c
    span = timedelta(days=1)
    cfg100 = stream_config(bench, size["c100"], 1.0, 21, span)
    cfg10 = stream_config(bench, size["c10"], 0.1, 22, span)
    p100, p10 = bench.prefix("c100"), bench.prefix("c10")
    bench.backlogs.update(c100=p100, c10=p10)
    # One partition: the job stamps event time after parsing, per source subtask, so a backlog
    # read from two partitions interleaves a fetch's worth (hours of this stream's event time) of
    # one partition with the other's and drops the slower one's events as late.
    fill100 = bench.fill(p100, cfg100, partitions=1)
    bench.log(f"c100 backlog: {fill100['events']:,} events in {fill100['seconds']:.1f}s")
    fill10 = bench.fill(p10, cfg10, partitions=1)
    rel10 = relevant_count(cfg10)
    bench.log(f"c10 backlog: {fill10['events']:,} events ({rel10:,} relevant) in {fill10['seconds']:.1f}s")
    c["settings"] = {"users": size["users"], "span": str(span), "c100_events": size["c100"],
                     "c10_events": size["c10"], "c10_relevant": rel10, "idle_timeout_ms": 30_000,
                     "parallelism": bench.settings.flink.parallelism, "state_backend": "rocksdb",
                     "checkpoint_interval_ms": bench.settings.flink.checkpoint_interval_ms,
                     "events_topic_partitions": 1}
    # Each job reads the same backlog from the start (its own consumer group: the job name).
    b["passthrough"] = run_job(bench, "b-passthrough", p100, "passthrough", size["c100"], size["c100"],
                               size["c_timeout"])
    bench.log(f"b pass-through: {b['passthrough'].get('ingested_events_per_s', 0):,.0f} events/s")
    bench.save()
    c["c100"] = run_job(bench, "c100", p100, "journeys", size["c100"],
                        size["c100"], size["c_timeout"])
    bench.log(f"c 100% relevant: {c['c100'].get('ingested_events_per_s', 0):,.0f} events/s")
    bench.save()
    # The adapter keeps a copy of the records it read or wrote (operators/flink/functions.py); the
    # same run reading every record through Flink's state (RocksDB) shows what that copy saves.
    c["c100_no_record_cache"] = run_job(bench, "c100-nocache", p100, "journeys", size["c100"], size["c100"],
                                        size["c_timeout"], no_record_cache=True)
    bench.log(f"c 100% relevant, every read through Flink state: "
              f"{c['c100_no_record_cache'].get('ingested_events_per_s', 0):,.0f} events/s")
    bench.save()
    c["c10"] = run_job(bench, "c10", p10, "journeys", rel10, size["c10"], size["c_timeout"])
    bench.log(f"c 10% relevant: {c['c10'].get('ingested_events_per_s', 0):,.0f} events/s ingested")
    bench.save()
    if not bench.args.no_profile:
        prof = run_job(bench, "c100-profile", p100, "journeys", min(size["c100"], size["profile"]),
                       size["c100"], size["c_timeout"], profile=True)
        c["profile_run"] = prof
        bench.save()
    b10 = run_job(bench, "b10-passthrough", p10, "passthrough", rel10, size["c10"],
                  size["c_timeout"])
    b["passthrough_10"] = b10
    bench.log(f"b pass-through, 10% relevant: {b10.get('ingested_events_per_s', 0):,.0f} events/s ingested")
    bench.save()
    phase_simulate(bench, replace(cfg100, events=size["simulate"]))


def phase_simulate(bench: Bench, config: LoadConfig) -> None:
    """`simulate` over the c100 events as a file, journeys and pass-through."""
    c = bench.results["phases"]["c"]
    events_file = bench.home / "c100.jsonl"
    write_file(config, events_file)
    until = iso(config.start + config.span)
    sim: dict[str, Any] = {"events": config.events, "until": until}
    c["simulate"] = sim
    for operator in ("passthrough", "journeys"):
        name = f"sim-{operator}"
        env = bench.child_env("", name)
        res = bench.flink(name, {"mode": "simulate", "operator": operator, "expected": config.events,
                                 "events_file": str(events_file), "out_dir": str(bench.home / name / "out"),
                                 "until": until}, env, bench.size["c_timeout"])
        row = window_rate(res.get("final", {}), config.events)
        row["wall_s"] = round(res["wall_s"], 1)
        row["job_s"] = round(res["job_s"], 1)
        row["events_per_s"] = round(config.events / res["job_s"], 1)
        row["summary"] = res.get("summary")
        sim[operator] = row
        bench.log(f"simulate {operator}: {row['events_per_s']:,.0f} events/s over the whole job "
                  f"({row.get('operator_events_per_s', 0):,.0f}/s while events flowed)")
        shutil.rmtree(bench.home / name / "out", ignore_errors=True)
    events_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="journeys benchmarks (issue 6)")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run of the harness")
    ap.add_argument("--only", type=lambda s: set(s.split(",")), default=None,
                    help="comma-separated phases: a,bc,d,e,f")
    ap.add_argument("--scale-users", type=int, default=None)
    ap.add_argument("--no-profile", action="store_true", help="skip the profiled journeys run")
    ap.add_argument("--keep", action="store_true", help="keep this run's topics and files")
    ap.add_argument("--e-rate", type=float, default=None, help="e's rate (default: half of c's at 100%% relevant)")
    ap.add_argument("--f-no-record-cache", action="store_true",
                    help="f reads every record through Flink's state (to compare with the adapter's copy)")
    args = ap.parse_args(argv)
    bench = Bench(args)
    bench.results["machine"] = machine()
    bench.results["git"] = git_revision()
    bench.results["sizes"] = bench.size
    # Smoke runs and single phases are kept, but the README reports whole runs only.
    bench.results["partial"] = bool(args.quick or args.only)
    bench.log(f"bench run {bench.run_id}, home {bench.home}")
    try:
        bench.services()
        bench.phase("a", lambda: phase_a(bench))
        bench.phase("bc", lambda: phase_bc(bench))
        from bench import latency, redis_baseline, scale

        bench.phase("d", lambda: redis_baseline.phase_d(bench))
        bench.phase("e", lambda: latency.phase_e(bench))
        bench.phase("f", lambda: scale.phase_f(bench))
    finally:
        bench.results["finished_at"] = datetime.now(UTC).isoformat()
        bench.results["total_s"] = round(time.monotonic() - bench.t0, 1)
        path = bench.save()
        if not args.keep:
            bench.cleanup_topics()
            shutil.rmtree(bench.home, ignore_errors=True)
        bench.stop_services()
        bench.log(f"results: {path}")
    if not args.quick and not args.only:
        from bench.report import update_readme

        update_readme()


if __name__ == "__main__":
    main()
