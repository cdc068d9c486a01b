"""The state record's codec: round trips, compactness, forward compatibility, migrations."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from state import codec
from state.errors import StateDecodeError
from state.record import EntryLog, Instance, PendingFallback, Send, UserState, Waiting

pytestmark = pytest.mark.unit

T = 1_795_359_600_000  # 2026-11-22T15:00:00Z in ms


def waiting_user() -> UserState:
    """A typical user waiting in a cart journey: the case DESIGN's 300-byte budget is about."""
    return UserState(
        profile={"email": "ada@example.com", "plan": "pro"},
        tz="Europe/Paris",
        entries={"cart-abandonment": EntryLog(1, T)},
        instances=[
            Instance("cart-abandonment", 3, 1, "wait_1h", T, Waiting.TIMER, T + 3_600_000, {"cart_value": 80})
        ],
        counters={"order.completed@3600": [498_711, 1]},
        seen=[277_846_276_463_881, T // 1000],
        last_seen=T,
    )


def full_user() -> UserState:
    return UserState(
        profile={"email": "a@b.c", "nested": {"x": [1, 2.5, None, True]}},
        tz="America/New_York",
        consent={"email:marketing": False, "sms:*": True},
        suppressed=True,
        entries={"a": EntryLog(2, T), "b": EntryLog(1, T - 5)},
        instances=[
            Instance("a", 1, 2, "n", T, Waiting.EVENT, T + 10, {"k": "v"}, True, {"m": 3}),
            Instance("b", 4, 1, "w", T, Waiting.DEFERRED, T + 20),
        ],
        sends=[Send(T - 1, "email", "a"), Send(T, "sms", "b")],
        counters={"x@60": [1, 2, 3, 4]},
        fallbacks=[PendingFallback("a:1:u:n:2", "a", 1, 2, "n", T + 99, {"k": 1}, T + 50)],
        seen=[1, 2, 3, 4],
        last_seen=T,
        schedule={"digest": T - 1000},
    )


def test_round_trip_keeps_every_field() -> None:
    for state in (UserState(), waiting_user(), full_user()):
        assert codec.decode(codec.encode(state)) == state


def test_fresh_and_missing_records_decode_to_an_empty_state() -> None:
    assert codec.decode(None) == UserState()
    assert codec.decode(b"") == UserState()
    assert codec.encode(UserState()) == b'{"v":1}'


def test_typical_waiting_user_fits_the_size_budget() -> None:
    size = len(codec.encode(waiting_user()))
    assert size <= 300, size


def test_trailing_defaults_are_not_written() -> None:
    raw = orjson.loads(codec.encode(UserState(instances=[Instance("j", 1, 1, "w", T, Waiting.TIMER, T)])))
    assert raw["i"] == [["j", 1, 1, "w", T, 1, T]]


def test_record_from_today_decodes_after_the_schema_gains_a_field() -> None:
    # A newer writer adds a top-level field and a trailing item to an instance: today's reader
    # decodes what it knows and keeps the unknown top-level field for the write-back.
    newer = orjson.loads(codec.encode(full_user()))
    newer["q"] = {"future": True}
    newer["i"][0].append("future-item")
    state = codec.decode(orjson.dumps(newer))
    assert state.instances[0].visits == {"m": 3}
    assert state.extra == {"q": {"future": True}}
    assert orjson.loads(codec.encode(state))["q"] == {"future": True}


def test_record_written_before_a_field_existed_decodes_with_defaults() -> None:
    # An older writer knew neither `due` on fallbacks nor holdout/visits on instances.
    old = {"v": 1, "i": [["j", 1, 1, "w", T, 1, T + 5]], "f": [["j:1:u:n:1", "j", 1, 1, "n", T + 9]]}
    state = codec.decode(orjson.dumps(old))
    assert state.instances[0].holdout is False and state.instances[0].visits is None
    assert state.instances[0].event == {}
    assert state.fallbacks[0].due == 0 and state.fallbacks[0].event == {}


def test_migrations_run_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(codec.MIGRATIONS, 0, lambda raw: {**raw, "v": 1, "p": {"migrated": 0}})
    monkeypatch.setitem(codec.MIGRATIONS, 1, lambda raw: {**raw, "v": 2, "p": {**raw["p"], "again": 1}})
    state = codec.decode(b'{"v":0}')
    assert state.profile == {"migrated": 0, "again": 1}


def test_missing_migration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec, "SCHEMA_VERSION", 3)
    with pytest.raises(StateDecodeError, match="no migration from state schema version 1 to 2"):
        codec.decode(b'{"v":1}')


@pytest.mark.parametrize("data", [b"not json", b"[1,2]", b'{"p":{}}', b'{"v":1,"i":[["short"]]}'])
def test_garbage_is_rejected_with_a_decode_error(data: bytes) -> None:
    with pytest.raises(StateDecodeError):
        codec.decode(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
times = st.integers(0, 2**42)

instances = st.builds(
    Instance,
    journey_id=ids,
    version=st.integers(1, 50),
    entry=st.integers(1, 1000),
    node=ids,
    entered_at=times,
    waiting=st.sampled_from(list(Waiting)),
    deadline=times,
    event=st.dictionaries(st.text(max_size=5), json_values, max_size=3),
    holdout=st.booleans(),
    visits=st.none() | st.dictionaries(ids, st.integers(1, 9), min_size=1, max_size=2),
)
states = st.builds(
    UserState,
    profile=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    tz=st.none() | st.sampled_from(["UTC", "Europe/Paris"]),
    consent=st.dictionaries(ids, st.booleans(), max_size=3),
    suppressed=st.booleans(),
    erased_at=st.none() | times,
    entries=st.dictionaries(ids, st.builds(EntryLog, st.integers(1, 99), times), max_size=3),
    instances=st.lists(instances, max_size=3),
    sends=st.lists(st.builds(Send, times, ids, ids), max_size=3),
    counters=st.dictionaries(ids, st.lists(st.integers(0, 2**40), max_size=6), max_size=2),
    fallbacks=st.lists(
        st.builds(PendingFallback, ids, ids, st.integers(1, 9), st.integers(1, 9), ids, times,
                  st.dictionaries(st.text(max_size=4), json_values, max_size=2), times),
        max_size=2,
    ),
    seen=st.lists(st.integers(0, 2**48), max_size=6),
    last_seen=times,
    schedule=st.dictionaries(ids, times, max_size=2),
)


@settings(max_examples=500, deadline=None)
@given(states)
def test_any_record_round_trips(state: UserState) -> None:
    assert codec.decode(codec.encode(state)) == state
