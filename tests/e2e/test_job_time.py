"""In a quiet stream, wall-clock ticks move event time: a 3 s wait fires on time, with no events."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from job_support import DATA, iso, running_job

from jobs.services import Service
from jobs.settings import Settings
from operators.core import to_ms


def test_wait_fires_within_two_seconds_of_due_without_events(
    kafka: Service, settings: Settings, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    with running_job(settings, tmp_path, prefix, [DATA / "quick" / "quick.yaml"], DATA / "quick" / "templates") as (
        job,
        topics,
    ):
        job.start()
        consumer = topics.consumer("actions.in_app")
        # A first user proves the job's tasks are up (submission returns before they run), then
        # the stream goes quiet before the user we time.
        warm_up = {"event_id": "e-warm", "type": "signed_up", "user_id": "warm", "ts": iso(datetime.now(UTC))}
        topics.send_events([warm_up])
        warm = topics.read_until(consumer, lambda rs: any(r["user_id"] == "warm" for r in rs), timeout=90)
        assert warm, f"the job never answered; job log:\n{job.log.read_text()[-2000:]}"
        time.sleep(2)
        sent = datetime.now(UTC)
        topics.send_events([{"event_id": "e-ann", "type": "signed_up", "user_id": "ann", "ts": iso(sent)}])
        rows = topics.read_until(
            consumer, lambda rs: any(r["node_id"] == "again" and r["user_id"] == "ann" for r in rs), timeout=30
        )
        again = [r for r in rows if r["node_id"] == "again" and r["user_id"] == "ann"]
        assert again, f"the wait never fired; job log:\n{job.log.read_text()[-2000:]}"
        due = sent.timestamp() + 3
        late_by = again[0]["_received"] - due
        assert -0.05 <= late_by <= 2.0, f"fired {late_by:+.2f}s from due"
        # The action carries the event time at which the wait ended: exactly 3 s after the event.
        assert to_ms(datetime.fromisoformat(again[0]["ts"])) == to_ms(sent) + 3000
        print(f"wait fired {late_by:+.2f}s from due")
