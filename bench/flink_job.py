"""One benchmarked Flink job, in a process of its own: `python -m bench.flink_job SPEC.json`.

The spec (written by `bench.suite`) names the mode — `run` (the real `jobs.runner.run`: Kafka in
and out, RocksDB, checkpoints, the definitions broadcast, the wall-clock input) or `simulate`
(the real `jobs.runner.simulate` over a file) — and the operator in the journey operator's
place: the library journeys (`journeys`, counted by `bench.flink_ops`) or the pass-through one.
Settings come from the environment the suite sets (home, topic prefix, web UI port, conf dir).

For `run`, a monitor thread watches the operator's stats file until the expected events were
processed, samples Flink's busy/back-pressure metrics per task over the REST API meanwhile, and
cancels the job. The `scale` phase list adds: wait for a checkpoint taken after the ingest,
produce one event far enough ahead to make every waiting user's timer due, and time the drain.
The result is one JSON file (`result` in the spec).
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
import traceback
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.flink_ops import passthrough, profile_summary, read_stats, timed_journeys


def rest(port: int, path: str, method: str = "GET", body: dict | None = None) -> Any:
    """A call to the Flink REST API of the local mini-cluster."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def task_metrics(port: int, jid: str) -> dict[str, dict[str, float]]:
    """Busy / back-pressured / idle ms per second of each task (chain of operators), max over subtasks."""
    out: dict[str, dict[str, float]] = {}
    for v in rest(port, f"/jobs/{jid}")["vertices"]:
        names = "busyTimeMsPerSecond,backPressuredTimeMsPerSecond,idleTimeMsPerSecond"
        rows = rest(port, f"/jobs/{jid}/vertices/{v['id']}/subtasks/metrics?get={names}")
        out[v["name"][:160]] = {r["id"]: float(r.get("max", 0.0)) for r in rows}
    return out


def jvm_rss_bytes() -> int:
    """Resident memory of the JVM(s) this process started (the mini-cluster)."""
    total = 0
    for child in psutil.Process().children(recursive=True):
        try:
            if "java" in child.name():
                total += child.memory_info().rss
        except psutil.Error:
            continue
    return total


class Monitor:
    """Watches a running job until it processed what it was given; then cancels it."""

    def __init__(self, spec: dict[str, Any], settings: Any, client: Any) -> None:
        self.spec, self.settings, self.client = spec, settings, client
        self.port = settings.flink.rest_port
        self.result: dict[str, Any] = {"metrics_samples": []}
        self.cancelled = False
        self.jid = str(client.get_job_id())

    def stats(self) -> dict[str, Any]:
        return read_stats(self.spec["stats"]) or {}

    def wait(self, done: Any, timeout: float, sample: bool = False) -> dict[str, Any]:
        deadline = time.time() + timeout
        next_sample = time.time() + 5.0
        while time.time() < deadline:
            st = self.stats()
            if done(st):
                return st
            if sample and time.time() >= next_sample and st.get("elements"):
                next_sample = time.time() + 3.0
                try:
                    self.result["metrics_samples"].append({"t": time.time(), "elements": st.get("elements", 0),
                                                           "tasks": task_metrics(self.port, self.jid)})
                except Exception as exc:  # metrics are a nice-to-have; never fail the run on them
                    self.result.setdefault("metrics_errors", []).append(str(exc)[:200])
            time.sleep(0.2)
        self.result["timed_out"] = True
        return self.stats()

    def checkpoints(self) -> dict[str, Any]:
        return rest(self.port, f"/jobs/{self.jid}/checkpoints")

    def run(self) -> None:
        try:
            expected = self.spec["expected"]
            t0 = time.time()
            self.result["submitted_at"] = t0
            st = self.wait(lambda s: s.get("elements", 0) >= expected, self.spec["timeout_s"], sample=True)
            self.result["ingest"] = st
            self.result["jvm_rss_bytes_after_ingest"] = jvm_rss_bytes()
            if "scale" in self.spec:
                self.scale(st)
        except Exception:
            self.result["monitor_error"] = traceback.format_exc()
        finally:
            self.cancelled = True
            try:
                self.client.cancel().result()
            except Exception as exc:
                self.result["cancel_error"] = str(exc)[:300]

    def scale(self, ingested: dict[str, Any]) -> None:
        """After the ingest: a checkpoint holding every user, then all timers due at once."""
        done_at = ingested.get("last", time.time())
        deadline = time.time() + 300
        chk = None
        while time.time() < deadline:
            hist = self.checkpoints().get("history", [])
            ok = [c for c in hist if c.get("status") == "COMPLETED" and c.get("trigger_timestamp", 0) / 1000 > done_at]
            if ok:
                chk = min(ok, key=lambda c: c["trigger_timestamp"])
                break
            time.sleep(1.0)
        self.result["checkpoint_after_ingest"] = chk
        self.result["jvm_rss_bytes_at_checkpoint"] = jvm_rss_bytes()
        # Make every timer due: one relevant event an hour past the users' due times moves the
        # watermark (the events input is the slower of the two; the wall clock is far ahead).
        # Without event-time stamping (see `keep_assigner_on_idleness`) the event does not move
        # it, and the drain starts when the events input goes idle and the wall clock takes over.
        from kafka import KafkaProducer

        from connectors import topics

        jump_ms = self.spec["scale"]["jump_to_ms"]
        ts = datetime.fromtimestamp(jump_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
        producer = KafkaProducer(bootstrap_servers=self.settings.kafka.bootstrap_servers)
        topic = self.settings.kafka.topic_prefix + topics.EVENTS
        for p in sorted(producer.partitions_for(topic) or {0}):
            event = {"event_id": f"jump-{p}", "type": "identify", "user_id": f"clock-{p}", "ts": ts,
                     "traits": {"note": "moves event time"}}
            producer.send(topic, json.dumps(event).encode(), partition=p)
        producer.flush()
        producer.close()
        self.result["jump_sent_at"] = time.time()
        want = self.spec["scale"]["timers"]
        rss_peak = 0
        seen = {"timers": -1, "since": time.time()}

        def drained(s: dict[str, Any]) -> bool:
            # Done when every user's timer fired, or none fired for 8 s after some did (holdouts,
            # deferrals: the count need not be exactly one per user).
            nonlocal rss_peak
            rss_peak = max(rss_peak, jvm_rss_bytes())
            timers = s.get("timers", 0)
            if timers != seen["timers"]:
                seen.update(timers=timers, since=time.time())
            return timers >= want or (timers > 0 and time.time() - seen["since"] > 8.0)

        self.result["drain"] = self.wait(drained, self.spec["scale"]["timeout_s"])
        self.result["jvm_rss_bytes_peak_during_drain"] = rss_peak


def run_mode(spec: dict[str, Any]) -> dict[str, Any]:
    """`jobs.runner.run` with the spec's operator; returns what the monitor saw."""
    import jobs.pipeline
    from jobs import runner
    from jobs.publish import publish
    from jobs.settings import Settings

    settings = Settings.load()
    bundle = runner.load_journeys([Path(p) for p in spec["journeys"]], Path(spec["templates"]))
    plan = publish(settings, bundle.journeys, bundle.templates, always=True).plan
    factory = (passthrough(spec["stats"], spec["expected"]) if spec["operator"] == "passthrough"
               else timed_journeys(spec["stats"], spec["expected"], spec.get("profile", False),
                                   spec.get("no_record_cache", False)))
    jobs.pipeline.build_journey_job = functools.partial(jobs.pipeline.build_journey_job, journey_operator=factory)
    holder: dict[str, Monitor] = {}

    def submitted(client: Any, restored: Any) -> None:
        mon = holder["m"] = Monitor(spec, settings, client)
        threading.Thread(target=mon.run, daemon=True).start()

    t0 = time.time()
    try:
        runner.run(settings, plan, fresh=True, on_submitted=submitted)
    except Exception:
        mon = holder.get("m")
        if mon is None or not mon.cancelled:
            raise
    mon = holder["m"]
    out = mon.result
    out["wall_s"] = time.time() - t0
    out["final"] = mon.stats()
    return out


def simulate_mode(spec: dict[str, Any]) -> dict[str, Any]:
    """`jobs.runner.simulate` with the spec's operator over the spec's events file."""
    import jobs.pipeline
    from jobs import runner
    from jobs.settings import Settings

    settings = Settings.load()
    plan = runner.load_plan([Path(p) for p in spec["journeys"]], Path(spec["templates"]))
    factory = (passthrough(spec["stats"], spec["expected"]) if spec["operator"] == "passthrough"
               else timed_journeys(spec["stats"], spec["expected"], spec.get("profile", False)))
    jobs.pipeline.build_journey_job = functools.partial(jobs.pipeline.build_journey_job, journey_operator=factory)
    until = datetime.fromisoformat(spec["until"]) if spec.get("until") else None
    t0 = time.time()
    summary = runner.simulate(settings, plan, Path(spec["events_file"]), Path(spec["out_dir"]), until=until)
    wall = time.time() - t0
    return {"wall_s": wall, "job_s": summary.seconds, "final": read_stats(spec["stats"]) or {},
            "summary": {"events": summary.events, "rejected": summary.rejected, "late": summary.late,
                        "users_entered": summary.users_entered, "actions": dict(summary.actions),
                        "suppressed": dict(summary.suppressed), "errors": summary.errors}}


def main(argv: list[str] | None = None) -> None:
    """Run the spec given as the only argument; write its result file."""
    args = argv if argv is not None else sys.argv[1:]
    spec = json.loads(Path(args[0]).read_text())
    try:
        result = run_mode(spec) if spec["mode"] == "run" else simulate_mode(spec)
    except Exception:
        result = {"error": traceback.format_exc()}
    prof = spec["stats"] + ".prof"
    if spec.get("profile") and Path(prof).exists():
        result["profile"] = profile_summary(prof)
    Path(spec["result"]).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
