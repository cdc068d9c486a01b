"""e: event-to-action latency of the `run` job at a fixed load (half of c's rate at 100% relevant).

Events are produced at a steady rate, each stamped with its send time (`bench.loadgen`,
`realtime`); a separate process reads every `actions.<channel>` topic as the job writes them and
records, per action, the time it became readable minus its `ts` (the event time the node ran:
the triggering event's send time for event-triggered nodes). The first seconds (the job warming
up) are left out: after its start the job works off what queued up meanwhile (about 30 s here),
and the per-second series (all of it) shows that. `emitted_at` (the job's wall clock when it
emitted the action) splits each latency into the job's part and the sink-to-reader part.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.loadgen import KafkaTarget, LoadConfig, write_kafka
from connectors import topics
from connectors.kafka_admin import ensure_topics

WARMUP_S = 30.0


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def read_actions(bootstrap: str, names: list[str], stop_at: float, out: Any) -> None:
    """Read `names` from the start until `stop_at`; put (received, ts, emitted_at) per action on `out`."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(*names, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=f"latency-{time.time_ns()}", fetch_max_wait_ms=5, fetch_min_bytes=1,
                             enable_auto_commit=False)
    rows: list[tuple[float, float, float]] = []
    while time.time() < stop_at:
        for records in consumer.poll(timeout_ms=50).values():
            now = time.time()
            for r in records:
                a = json.loads(r.value)
                rows.append((now, _epoch(a["ts"]), _epoch(a["emitted_at"])))
    consumer.close()
    out.put(rows)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    v = sorted(values)

    def p(q: float) -> float:
        return round(v[min(len(v) - 1, int(q / 100 * len(v)))] * 1000, 1)

    return {"count": len(v), "p50_ms": p(50), "p95_ms": p(95), "p99_ms": p(99), "max_ms": round(v[-1] * 1000, 1)}


def per_second(rows: list[tuple[float, float, float]], t0: float) -> list[list[float]]:
    """[second since the start, actions, p50 ms, max ms] by the second the triggering event was sent:
    stalls (checkpoints, pauses, neighbours taking the CPU) show as runs of high maxima."""
    by: dict[int, list[float]] = {}
    for received, ts, _ in rows:
        by.setdefault(int(ts - t0), []).append(received - ts)
    out = []
    for sec in sorted(by):
        v = sorted(by[sec])
        out.append([sec, len(v), round(v[len(v) // 2] * 1000, 1), round(v[-1] * 1000, 1)])
    return out


def wait_running(port: int, timeout: float) -> None:
    """Until the job on the mini-cluster at `port` reports RUNNING with every task running."""
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/jobs/overview", timeout=2) as resp:
                jobs = json.load(resp)["jobs"]
            if jobs and all(j["state"] == "RUNNING" and j["tasks"]["running"] == j["tasks"]["total"] for j in jobs):
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the job did not start within {timeout:.0f}s")


def phase_e(bench: Any) -> None:
    """Run the job, produce at half of c's rate for `e_seconds`, measure action latency."""
    import threading

    c100 = bench.results["phases"].get("c", {}).get("c100", {}).get("ingested_events_per_s")
    given = getattr(bench.args, "e_rate", None)
    if not c100 and not given:
        raise RuntimeError("phase e needs c's 100%-relevant rate (phase bc) or --e-rate")
    rate = round(given or c100 / 2, 1)
    seconds = bench.size["e_seconds"]
    seconds += WARMUP_S
    events = int(rate * seconds)
    prefix = bench.prefix("e")
    settings = bench.scoped(prefix)
    channels = list(topics.CHANNELS)
    action_topics = [prefix + topics.actions_topic(ch) for ch in channels]
    ensure_topics(settings, [prefix + topics.EVENTS, prefix + topics.OUTCOMES, *action_topics])
    env = bench.child_env(prefix, "e-latency")
    port = int(env["JOURNEYS_FLINK__REST_PORT"])
    result: dict[str, Any] = {}
    job = threading.Thread(target=lambda: result.update(bench.flink(
        "e-latency", {"mode": "run", "operator": "journeys", "expected": events}, env, seconds + 120)))
    job.start()
    wait_running(port, 120)
    time.sleep(3.0)  # sources assigned their splits
    # A fresh interpreter: forking while the job's thread runs left the reader's Kafka client stuck.
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    t_start = time.time()
    stop_at = t_start + seconds + 15
    reader = ctx.Process(target=read_actions, args=(settings.kafka.bootstrap_servers, action_topics, stop_at, q))
    reader.start()
    config = LoadConfig(users=bench.size["users"], events=events, seed=31, relevant_share=1.0,
                        start=datetime.now(UTC), span=timedelta(seconds=seconds))
    produced = write_kafka(config, KafkaTarget(settings.kafka.bootstrap_servers, prefix + topics.EVENTS, rate=rate,
                                               realtime=True, producers=1))
    rows = q.get(timeout=seconds + 60)
    reader.join()
    job.join()
    measured = [r for r in rows if r[1] >= t_start + WARMUP_S]
    out = {
        "rate_target": rate, "seconds": seconds, "produced": produced["events"],
        "produced_events_per_s": round(produced["events_per_s"], 1), "warmup_s": WARMUP_S,
        "actions_read": len(rows),
        "event_to_readable": percentiles([r[0] - r[1] for r in measured]),
        "event_to_emitted": percentiles([r[2] - r[1] for r in measured]),
        "emitted_to_readable": percentiles([r[0] - r[2] for r in measured]),
        "job": {k: v for k, v in result.get("ingest", {}).items() if k in ("elements", "timers", "actions", "late")},
        "per_second": per_second(rows, t_start),
    }
    bench.results["phases"]["e"] = out
    p = out["event_to_readable"]
    bench.log(f"e latency at {rate:,.0f} events/s: p50 {p.get('p50_ms')} ms, p95 {p.get('p95_ms')} ms, "
              f"p99 {p.get('p99_ms')} ms over {p.get('count', 0):,} actions")
