"""The library journeys through `journeys simulate` give exactly the interpreter's answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sim_support import comparable, read_jsonl

from bench.loadgen import generate
from jobs.runner import load_plan, simulate
from jobs.settings import Settings
from jobs.spec.records import Event
from operators.core import Interpreter
from operators.core.replay import replay

LIBRARY = Path("jobs/library")
START = datetime(2026, 11, 2, tzinfo=UTC)
SPAN = timedelta(days=10)


def test_library_simulation_equals_the_interpreter(tmp_path: Path, settings: Settings) -> None:
    lines = list(generate(users=400, events=6000, seed=11, start=START, span=SPAN))
    events_file = tmp_path / "events.jsonl"
    events_file.write_text("\n".join(lines) + "\n")
    plan = load_plan([LIBRARY], LIBRARY / "templates")
    until = START + SPAN + timedelta(days=30)

    summary = simulate(settings, plan, events_file, tmp_path / "out", until=until)

    expected = replay(
        Interpreter.from_plan(plan, settings.guardrails), [Event.model_validate_json(x) for x in lines], until=until
    )
    actions = read_jsonl(tmp_path / "out" / "actions.jsonl")
    outcomes = read_jsonl(tmp_path / "out" / "outcomes.jsonl")
    assert comparable(actions) == comparable([a.to_dict() for a in expected.actions])
    assert comparable(outcomes) == comparable([o.to_dict() for o in expected.outcomes])
    # The mix exercises the library broadly: most journeys enter users and send on several channels.
    assert len(summary.entered) >= 6, summary.entered
    assert len(summary.actions) >= 4, summary.actions
    assert summary.rejected == 0 and summary.errors == 0
