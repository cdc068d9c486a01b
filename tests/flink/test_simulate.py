"""`journeys simulate`: the real compiled job on the mini-cluster gives the interpreter's answers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sim_support import CART, TEMPLATES, cart_events, comparable, read_jsonl, write_events

from jobs.runner import DEFAULT_HORIZON, load_plan, simulate
from jobs.settings import Settings
from jobs.spec.records import Event
from operators.core import Interpreter
from operators.core.replay import replay

USERS = 300


@pytest.fixture(scope="module")
def plan():
    return load_plan([CART], TEMPLATES)


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    malformed = ["not json", '{"type": "cart.updated", "ts": "2026-11-23T15:00:00Z"}', '{"event_id": "x", '
                 '"type": "cart.updated", "user_id": "u1", "ts": "yesterday"}']
    return write_events(path, cart_events(USERS), malformed)


def _expected(plan, events_file: Path, settings: Settings, until: datetime):
    events = [Event.model_validate_json(line) for line in events_file.read_text().splitlines()[:-3]]
    return replay(Interpreter.from_plan(plan, settings.guardrails), events, until=until)


def test_simulate_equals_the_interpreter(tmp_path: Path, plan, events_file: Path, settings: Settings) -> None:
    out = tmp_path / "out"
    summary = simulate(settings, plan, events_file, out)
    actions, outcomes = read_jsonl(out / "actions.jsonl"), read_jsonl(out / "outcomes.jsonl")

    latest = max(datetime.fromisoformat(e["ts"]) for e in cart_events(USERS))
    expected = _expected(plan, events_file, settings, latest + DEFAULT_HORIZON)
    assert comparable(actions) == comparable([a.to_dict() for a in expected.actions])
    assert comparable(outcomes) == comparable([o.to_dict() for o in expected.outcomes])
    assert len(actions) > USERS // 2, "the scenario should send plenty"
    assert summary.users_entered > 0 and summary.actions["email"] > 0

    rejected = read_jsonl(out / "rejected.jsonl")
    reasons = sorted(r["reason"] for r in rejected)
    assert len(rejected) == 3
    assert any(r.startswith("not valid JSON") for r in reasons)
    assert any("'user_id'" in r for r in reasons)
    assert any("'ts' is not an ISO-8601 time" in r for r in reasons)


def test_parallelism_two_gives_the_same_actions(tmp_path: Path, plan, events_file: Path, settings: Settings) -> None:
    one, two = tmp_path / "p1", tmp_path / "p2"
    simulate(settings, plan, events_file, one, parallelism=1)
    simulate(settings, plan, events_file, two, parallelism=2)
    assert comparable(read_jsonl(one / "actions.jsonl")) == comparable(read_jsonl(two / "actions.jsonl"))
    assert comparable(read_jsonl(one / "outcomes.jsonl")) == comparable(read_jsonl(two / "outcomes.jsonl"))


def test_until_stops_time(tmp_path: Path, plan, events_file: Path, settings: Settings) -> None:
    until = datetime.fromisoformat("2026-11-23T17:30:00+00:00")
    out = tmp_path / "until"
    simulate(settings, plan, events_file, out, until=until)
    actions = read_jsonl(out / "actions.jsonl")
    assert actions and all(datetime.fromisoformat(a["ts"]) <= until for a in actions)
    expected = _expected(plan, events_file, settings, until)
    assert comparable(actions) == comparable([a.to_dict() for a in expected.actions])

