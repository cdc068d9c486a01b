"""Publishing a new version while the job runs: new entrants get it, users inside keep theirs."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from job_support import DATA, iso, job_metric, running_job

from jobs.services import Service
from jobs.settings import Settings

V1 = DATA / "quick" / "slow.yaml"  # waits 30 s between its two messages
V2 = DATA / "quick" / "slow_v2.yaml"  # the same journey, waiting 4 s
TEMPLATES = DATA / "quick" / "templates"


def _signups(users: list[str]) -> list[dict]:
    now = datetime.now(UTC)
    return [{"event_id": f"signup-{u}", "type": "signed_up", "user_id": u, "ts": iso(now)} for u in users]


def test_publish_mid_stream(kafka: Service, settings: Settings, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    early = [f"early{i}" for i in range(30)]
    late = [f"late{i}" for i in range(30)]
    with running_job(settings, tmp_path, prefix, [V1], TEMPLATES) as (job, topics):
        job.start()
        topics.send_events(_signups(early))
        consumer = topics.consumer("actions.in_app", "outcomes")
        rows: list[dict] = []

        def hellos(rs: list[dict]) -> int:
            return sum(1 for r in rs if r["_topic"] == "actions.in_app" and r["node_id"] == "hello")

        topics.read_until(consumer, lambda rs: hellos(rs) >= len(early), timeout=60, rows=rows)
        loaded_before = job_metric(job.port, "plans_loaded")

        published = subprocess.run(
            [str(Path(sys.executable).parent / "journeys"), "publish", "--journeys", str(V2), "--templates",
             str(TEMPLATES)],
            env=job.env(), capture_output=True, text=True, timeout=120, check=False,
        )
        assert published.returncode == 0, published.stderr
        assert "published slow version 2" in published.stdout

        deadline = time.monotonic() + 30
        while job_metric(job.port, "plans_loaded") <= loaded_before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job_metric(job.port, "plans_loaded") > loaded_before, "the job never loaded the new plan"

        topics.send_events(_signups(late))
        expected = {f"slow:1:{u}:{n}:1" for u in early for n in ("hello", "again")}
        expected |= {f"slow:2:{u}:{n}:1" for u in late for n in ("hello", "again")}

        def actions(rs: list[dict]) -> set[str]:
            return {r["action_id"] for r in rs if r["_topic"] == "actions.in_app"}

        topics.read_until(consumer, lambda rs: actions(rs) >= expected, timeout=60, rows=rows)

    assert actions(rows) == expected
    by_id = {r["action_id"]: r for r in rows if r["_topic"] == "actions.in_app"}
    # Early users kept version 1's 30 s wait; late ones got version 2's 4 s wait.
    for u in early:
        gap = datetime.fromisoformat(by_id[f"slow:1:{u}:again:1"]["ts"]) - datetime.fromisoformat(
            by_id[f"slow:1:{u}:hello:1"]["ts"])
        assert gap.total_seconds() == 30
    for u in late:
        gap = datetime.fromisoformat(by_id[f"slow:2:{u}:again:1"]["ts"]) - datetime.fromisoformat(
            by_id[f"slow:2:{u}:hello:1"]["ts"])
        assert gap.total_seconds() == 4
    outcomes = [r for r in rows if r["_topic"] == "outcomes"]
    assert {o["user_id"] for o in outcomes if o["kind"] == "exited"} == set(early) | set(late)
