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
        early = _signups(0, USERS // 4, datetime.now(UTC))
        topics.send_events(early)
        job.start()
        consumer = topics.consumer("actions.in_app", "outcomes")
        rows: list[dict] = []

        def hellos(rs: list[dict], first: int, last: int) -> int:
            wanted = {f"u{i}" for i in range(first, last)}
            return sum(1 for r in rs if r["_topic"] == "actions.in_app" and r["node_id"] == "hello"
                       and r["user_id"] in wanted)

        # Once the job checkpoints, a second group is greeted; the kill comes at the first
        # checkpoint after that, so the checkpoint holds users in the middle of their 30 s wait.
        topics.read_until(consumer, lambda rs: bool(job.checkpoints()) and hellos(rs, 0, USERS // 4) > 0,
                          timeout=120, rows=rows)
        assert job.checkpoints(), f"no checkpoint was taken:\n{job.log.read_text()[-2000:]}"
        middle = _signups(USERS // 4, USERS // 2, datetime.now(UTC))
        topics.send_events(middle)
        topics.read_until(consumer, lambda rs: hellos(rs, USERS // 4, USERS // 2) >= USERS // 4, timeout=60, rows=rows)
        greeted = set(job.checkpoints())
        deadline = time.monotonic() + 20
        while set(job.checkpoints()) <= greeted and time.monotonic() < deadline:
            time.sleep(0.05)
        job.kill_hard()
        topics.read_until(consumer, lambda rs: False, timeout=1, rows=rows)
        seen_before_kill = {r["action_id"] for r in rows if r["_topic"] == "actions.in_app"}
        waiting = {f"slow:1:u{i}:again:1" for i in range(USERS // 4, USERS // 2)} - seen_before_kill
        assert waiting, "the kill came after everything was done"

        late = _signups(USERS // 2, USERS, datetime.now(UTC))
        topics.send_events(late)
        job.start()
        assert "resumed from" in job.output()

        def actions_of(rs: list[dict]) -> set[str]:
            return {r["action_id"] for r in rs if r["_topic"] == "actions.in_app"}

        topics.read_until(consumer, lambda rs: len(actions_of(rs)) >= 2 * USERS, timeout=90, rows=rows)
        time.sleep(2)  # anything extra (wrong) would show up now
        topics.read_until(consumer, lambda rs: False, timeout=1, rows=rows)

    plan = load_plan([JOURNEY], TEMPLATES)
    events = [Event.model_validate(e) for e in early + middle + late]
    expected = replay(Interpreter.from_plan(plan, settings.guardrails), events)
    expected_ids = {a.action_id for a in expected.actions}
    assert len(expected_ids) == 2 * USERS
    assert actions_of(rows) == expected_ids

    outcomes = [r for r in rows if r["_topic"] == "outcomes"]
    entered = {o["user_id"] for o in outcomes if o["kind"] == "entered"}
    exited = {o["user_id"] for o in outcomes if o["kind"] == "exited"}
    assert entered == exited == {f"u{i}" for i in range(USERS)}
    duplicates = sum(1 for r in rows if r["_topic"] == "actions.in_app") - len(expected_ids)
    print(f"{len(seen_before_kill)} actions before the kill, {len(waiting)} users mid-wait at the kill; "
          f"{duplicates} replayed duplicates (dispatchers dedupe)")
