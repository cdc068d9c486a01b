"""f: many users each waiting in a journey, RocksDB state: checkpoint, bytes per user, memory, drain.

Every user sends one `cart.updated` (a cart of 20 or more, as the library's cart-abandonment
journey wants) within ten minutes of event time, three hours ago: each enters the journey and
waits an hour (one event-time timer each). The `run` job ingests them (RocksDB, incremental
checkpoints every `checkpoint_interval_ms`); the first checkpoint that completes after the
ingest holds every user: its full state size over the users is the bytes per waiting user (keys,
records, timers and RocksDB's own overhead), its duration the checkpoint time. Then one event
two hours ahead moves event time past every user's due time at once, and the timers drain:
their rate is timers fired over the time between the first and the last. The job's JVM memory
(RSS) is read after the ingest, at the checkpoint and at its peak during the drain.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.loadgen import ZONES
from connectors import topics
from connectors.kafka_admin import ensure_topics

SPAN = timedelta(minutes=10)
IDLE_MS = 40_000
CARTS = (
    '{"cart_value":%d,"item_count":%d,"currency":"USD","cart_url":"https://shop.example.com/cart",'
    '"products":[{"name":"Trail shoes","price":%d,"image_url":"https://cdn.example.com/trai.jpg"}]}'
)


def event(i: int, t0_ms: int, step: float) -> tuple[bytes, bytes]:
    """User i's cart (key, value)."""
    ms = t0_ms + int(i * step)
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
    value = 20 + (i * 37) % 180
    items = 1 + i % 3
    uid = f"w{i:07d}"
    zone = ZONES[i % len(ZONES)]
    line = (f'{{"event_id":"f-{i}","type":"cart.updated","user_id":"{uid}","ts":"{ts}",'
            f'"props":{CARTS % (value, items, value)},"context":{{"tz":"{zone}","device":"web"}},'
            f'"traits":{{"email":"{uid}@example.com","first_name":"Ada"}}}}')
    return uid.encode(), line.encode()


def _produce(bootstrap: str, topic: str, n: int, t0_ms: int, index: int, k: int, out: Any) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=20, batch_size=512 * 1024)
    step = SPAN.total_seconds() * 1000 / n
    for i in range(index, n, k):
        key, value = event(i, t0_ms, step)
        producer.send(topic, value, key=key, partition=0)
    producer.flush()
    producer.close()
    out.put(index)


def produce(bootstrap: str, topic: str, n: int, t0_ms: int, processes: int = 2) -> float:
    """All users' carts into `topic` (one partition); returns the seconds it took."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_produce, args=(bootstrap, topic, n, t0_ms, i, processes, out))
             for i in range(processes)]
    t = time.perf_counter()
    for p in procs:
        p.start()
    done = 0
    while done < processes:
        try:
            out.get(timeout=1.0)
            done += 1
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                raise RuntimeError("a producer process failed") from None
    for p in procs:
        p.join()
    return time.perf_counter() - t


def record_bytes(plan: Any, settings: Any) -> int:
    """The encoded record of one user waiting in cart-abandonment (what the state holds per user)."""
    from jobs.spec.records import Event
    from operators.core import Interpreter
    from state import codec

    interp = Interpreter.from_plan(plan, settings.guardrails)
    _, line = event(7, int(datetime(2026, 11, 2, 12, tzinfo=UTC).timestamp() * 1000), 1.0)
    step = interp.on_event(None, Event.model_validate_json(line))
    return len(codec.encode(step.state)) if step.state is not None else 0


def phase_f(bench: Any) -> None:
    """Ingest, checkpoint, drain (see the module docstring)."""
    from jobs.runner import load_plan

    n = bench.size["scale_users"]
    prefix = bench.prefix("f")
    settings = bench.scoped(prefix)
    topic = prefix + topics.EVENTS
    ensure_topics(settings, [topic], partitions=1)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t0 = now - timedelta(hours=3)
    t0_ms = int(t0.timestamp() * 1000)
    produce_s = produce(settings.kafka.bootstrap_servers, topic, n, t0_ms)
    bench.log(f"f: {n:,} carts produced in {produce_s:.1f}s")
    jump = t0 + SPAN + timedelta(hours=2)
    # The jump event (sent once a checkpoint holds every user) makes the timers due. Before commit
    # 647db1f the pipeline stamped no event time and the jump did nothing: the timers came due
    # when the events input had been idle this long and the wall clock (hours ahead) took over.
    env = bench.child_env(prefix, "f-scale", idle_timeout_ms=IDLE_MS)
    no_copy = bool(getattr(bench.args, "f_no_record_cache", False))
    res = bench.flink("f-scale", {"mode": "run", "operator": "journeys", "expected": n, "no_record_cache": no_copy,
                                  "scale": {"jump_to_ms": int(jump.timestamp() * 1000), "timers": n,
                                            "timeout_s": bench.size["scale_timeout"]}},
                      env, bench.size["c_timeout"] + bench.size["scale_timeout"] + 600)
    ingest = res.get("ingest", {})
    chk = res.get("checkpoint_after_ingest") or {}
    drain = res.get("drain", {})
    window = drain.get("last_timer", 0.0) - drain.get("first_timer", 0.0)
    full = chk.get("state_size") or chk.get("full_size") or 0
    ingest_window = max(1e-9, ingest.get("last", 0.0) - ingest.get("first", 0.0))
    plan = load_plan([bench.library], bench.library / "templates")
    out = {
        "users": n, "measured_at_1m": n >= 1_000_000, "produce_s": round(produce_s, 1),
        "ingest_events_per_s": round(ingest.get("elements", 0) / ingest_window, 1),
        "checkpoint": {"id": chk.get("id"), "full_state_bytes": full, "incremental_bytes": chk.get("checkpointed_size"),
                       "duration_ms": chk.get("end_to_end_duration"), "status": chk.get("status")},
        "state_bytes_per_user": round(full / n, 1) if full else None,
        "record_bytes_per_user": record_bytes(plan, settings),
        "jvm_rss_mb": {"after_ingest": round(res.get("jvm_rss_bytes_after_ingest", 0) / 2**20, 1),
                       "at_checkpoint": round(res.get("jvm_rss_bytes_at_checkpoint", 0) / 2**20, 1),
                       "peak_drain": round(res.get("jvm_rss_bytes_peak_during_drain", 0) / 2**20, 1)},
        "timers_fired": drain.get("timers", 0), "actions": drain.get("actions", 0),
        "drain_started_after_ingest_s": round(drain.get("first_timer", 0.0) - ingest.get("last", 0.0), 1)
        if drain.get("first_timer") else None,
        "drain_s": round(window, 2),
        "timers_per_s": round(drain.get("timers", 0) / window, 1) if window > 0 else None,
        "drain_timed_out": bool(res.get("timed_out")),
        "settings": {"span": str(SPAN), "journey": "cart-abandonment (library, all eight journeys active)",
                     "state_backend": "rocksdb (incremental)", "idle_timeout_ms": IDLE_MS,
                     "python_state_cache": bench.settings.flink.state_cache_size,
                     "adapter_record_copy": not no_copy},
    }
    if n < 1_000_000 and out["state_bytes_per_user"]:
        out["extrapolated_1m"] = {
            "label": "extrapolated linearly from the measured size, not measured",
            "checkpoint_bytes": int(out["state_bytes_per_user"] * 1_000_000),
            "ingest_s": round(1_000_000 / out["ingest_events_per_s"], 0) if out["ingest_events_per_s"] else None,
            "drain_s": round(1_000_000 / out["timers_per_s"], 0) if out["timers_per_s"] else None,
        }
    bench.results["phases"]["f"] = out
    bench.log(f"f: {n:,} users, {out['state_bytes_per_user']} bytes/user in the checkpoint, "
              f"{out['timers_per_s']} timers/s draining")
