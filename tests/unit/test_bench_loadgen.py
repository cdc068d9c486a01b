"""The load generator: deterministic by seed, valid events, exactly the relevant share asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.loadgen import RELEVANT_TYPES, LoadConfig, LoadGenerator, generate
from jobs.runner import load_plan
from jobs.spec.records import Event

LIBRARY = Path(__file__).resolve().parents[2] / "jobs" / "library"


def test_relevant_types_are_what_the_library_reacts_to() -> None:
    plan = load_plan([LIBRARY], LIBRARY / "templates")
    assert set(plan.event_types) == RELEVANT_TYPES


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    a = list(generate(500, 3000, seed=3, start=start))
    assert a == list(generate(500, 3000, seed=3, start=start))
    assert a != list(generate(500, 3000, seed=4, start=start))


def test_events_are_valid_in_time_order_and_cover_the_span() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    events = [Event.model_validate_json(line) for line in generate(2000, 20_000, seed=1, start=start,
                                                                    span=timedelta(days=2))]
    assert len(events) == 20_000
    assert len({e.event_id for e in events}) == len(events)
    times = [e.ts for e in events]
    assert times == sorted(times)
    assert times[0] == start and times[-1] < start + timedelta(days=2)
    types = {e.type for e in events}
    assert {"identify", "cart.updated", "order.completed", "message.clicked", "trial.started",
            "lead.created", "segment.entered", "consent.updated", "page.viewed"} <= types
    with_tz = [e for e in events if e.context.tz]
    assert 0.7 < len(with_tz) / len(events) < 0.95
    first = {}
    for e in events:
        first.setdefault(e.user_id, e)
    assert all(e.traits for e in first.values()), "a user's first event says who they are"


def test_relevant_share_is_exact() -> None:
    for share in (0.1, 1.0):
        config = LoadConfig(users=1000, events=10_000, seed=2, relevant_share=share)
        types = [line.split('"type":"', 1)[1].split('"', 1)[0] for _, line in LoadGenerator(config).records()]
        relevant = sum(t in RELEVANT_TYPES for t in types)
        assert abs(relevant - share * len(types)) <= 1
