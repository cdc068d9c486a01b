"""kill -9 mid-stream, restart from the latest checkpoint: the same actions, nothing lost."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from job_support import DATA, iso, running_job

from jobs.runner import load_plan
from jobs.services import Service
from jobs.settings import Settings
from jobs.spec.records import Event
from operators.core import Interpreter
from operators.core.replay import replay

USERS = 400
JOURNEY = DATA / "quick" / "slow.yaml"
TEMPLATES = DATA / "quick" / "templates"


def _signups(first: int, last: int, start: datetime) -> list[dict]:
    return [
        {
            "event_id": f"signup-{i}",
            "type": "signed_up",
            "user_id": f"u{i}",
            "ts": iso(start + timedelta(milliseconds=5 * (i - first))),
            "traits": {"first_name": f"User{i}"},
        }
        for i in range(first, last)
    ]


def test_kill_9_and_restart_gives_the_uninterrupted_actions(
    kafka: Service, settings: Settings, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    with running_job(settings, tmp_path, prefix, [JOURNEY], TEMPLATES) as (job, topics):
        first_half = _signups(0, USERS // 2, datetime.now(UTC))
        topics.send_events(first_half)
        job.start()
        consumer = topics.consumer("actions.in_app", "outcomes")
        rows: list[dict] = []

        # Kill once a checkpoint exists and users are mid-wait (greeted, follow-up pending).
        def mid_stream(rs: list[dict]) -> bool:
            hello = sum(1 for r in rs if r.get("node_id") == "hello" and r["_topic"] == "actions.in_app")
            return bool(job.checkpoints()) and hello >= 50

        topics.read_until(consumer, mid_stream, timeout=60, rows=rows)
        assert job.checkpoints(), f"no checkpoint was taken:\n{job.log.read_text()[-2000:]}"
        job.kill_hard()
        seen_before_kill = {r["action_id"] for r in rows if r["_topic"] == "actions.in_app"}
        assert len(seen_before_kill) < 2 * USERS // 2, "the kill came after everything was done"

        second_half = _signups(USERS // 2, USERS, datetime.now(UTC))
        topics.send_events(second_half)
        job.start()
        assert "resumed from" in job.output()

        def actions_of(rs: list[dict]) -> set[str]:
            return {r["action_id"] for r in rs if r["_topic"] == "actions.in_app"}

        topics.read_until(consumer, lambda rs: len(actions_of(rs)) >= 2 * USERS, timeout=90, rows=rows)
        time.sleep(2)  # anything extra (wrong) would show up now
        topics.read_until(consumer, lambda rs: False, timeout=1, rows=rows)

    plan = load_plan([JOURNEY], TEMPLATES)
    events = [Event.model_validate(e) for e in first_half + second_half]
    expected = replay(Interpreter.from_plan(plan, settings.guardrails), events)
    expected_ids = {a.action_id for a in expected.actions}
    assert len(expected_ids) == 2 * USERS
    assert actions_of(rows) == expected_ids

    outcomes = [r for r in rows if r["_topic"] == "outcomes"]
    entered = {o["user_id"] for o in outcomes if o["kind"] == "entered"}
    exited = {o["user_id"] for o in outcomes if o["kind"] == "exited"}
    assert entered == exited == {f"u{i}" for i in range(USERS)}
    duplicates = sum(1 for r in rows if r["_topic"] == "actions.in_app") - len(expected_ids)
    print(f"{len(seen_before_kill)} actions before the kill; {duplicates} replayed duplicates (dispatchers dedupe)")
