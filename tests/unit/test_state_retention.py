"""Rolling-window counter buckets, pruning, and the TTL policy of the state record."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from state import counters as ctr
from state.record import SEND_TS, EntryLog, Instance, PendingFallback, Send, UserState, Waiting
from state.retention import Retention, compact, expires_at, prune

pytestmark = pytest.mark.unit

H = 3_600_000
DAY = 24 * H
T = 1_795_359_600_000


def test_counter_counts_events_in_the_window_including_now() -> None:
    b: list[int] = []
    ctr.add(b, T, H)
    assert ctr.count(b, T, H) == 1
    ctr.add(b, T + 10 * 60_000, H)
    assert ctr.count(b, T + 10 * 60_000, H) == 2
    assert ctr.count(b, T + H + 2 * 60_000, H) == 1  # the first fell out, the second is in
    assert ctr.count(b, T + 3 * H, H) == 0


def test_counter_ignores_events_after_now() -> None:
    b: list[int] = []
    ctr.add(b, T + H, H)
    assert ctr.count(b, T, H) == 0


def test_late_events_land_in_their_own_bucket_in_order() -> None:
    b: list[int] = []
    for ts in (T + 5 * 60_000, T, T + 2 * 60_000, T):
        ctr.add(b, ts, H)
    keys = b[0::2]
    assert keys == sorted(keys)
    assert ctr.count(b, T + 6 * 60_000, H) == 4


def test_counter_keys_round_trip() -> None:
    assert ctr.counter_key("order.completed", H) == "order.completed@3600"
    assert ctr.parse_counter_key("order.completed@3600") == ("order.completed", H)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.integers(0, 10 * DAY), min_size=1, max_size=40),
    st.integers(0, 12 * DAY),
    st.sampled_from([60_000, H, DAY, 7 * DAY]),
)
def test_counter_never_misses_an_event_and_overcounts_by_at_most_one_bucket(
    events: list[int], now: int, window: int
) -> None:
    b: list[int] = []
    for ts in events:
        ctr.add(b, ts, window)
    b = ctr.prune(b, now, window)
    exact = sum(1 for ts in events if now - window < ts <= now)
    loose = sum(1 for ts in events if now - window - ctr.bucket_width(window) < ts <= now)
    got = ctr.count(b, now, window)
    # A bucket is [k*w, (k+1)*w): an event in the same bucket as `now` but later can count too.
    width = ctr.bucket_width(window)
    upper = loose + sum(1 for ts in events if now < ts < (now // width + 1) * width)
    assert exact <= got <= upper
    assert len(b) // 2 <= ctr.BUCKETS_PER_WINDOW + 1


def test_prune_drops_expired_parts_only() -> None:
    s = UserState(
        counters={"a@3600": [ (T - 2 * H) // 60_000, 3, T // 60_000, 1], "gone@60": [1, 1]},
        sends=[Send(T - 2 * DAY, "email", "j"), Send(T - H, "sms", "j")],
        fallbacks=[
            PendingFallback("x", "j", 1, 1, "n", T - 1),
            PendingFallback("y", "j", 1, 1, "n", T + 1),
            PendingFallback("z", "j", 1, 1, "n", T - 1, {}, T + 5),  # triggered, waiting out quiet hours
        ],
        seen=[1, (T - 2 * DAY) // 1000, 2, T // 1000],
    )
    prune(s, T, Retention(cap_window_ms=DAY, seen_max=8, seen_horizon_ms=DAY), counter_keys={"a@3600"})
    assert s.counters == {"a@3600": [T // 60_000, 1]}
    assert [x[SEND_TS] for x in s.sends] == [T - H]
    assert [f.action_id for f in s.fallbacks] == ["y", "z"]
    assert s.seen == [2, T // 1000]


def test_seen_ids_are_bounded_by_count() -> None:
    s = UserState(seen=[x for i in range(100) for x in (i, T // 1000)])
    prune(s, T, Retention(seen_max=32))
    assert len(s.seen) == 64 and s.seen[0] == 68


def test_idle_user_expires_and_compacts_to_what_must_outlive_idleness() -> None:
    r = Retention(idle_ttl_ms=30 * DAY)
    s = UserState(
        profile={"email": "a@b.c"},
        consent={"email:marketing": False},
        entries={"welcome": EntryLog(1, T), "cart": EntryLog(3, T)},
        counters={"x@60": [1, 1]},
        last_seen=T,
    )
    assert expires_at(s, r, once_only={"welcome"}) == T + 30 * DAY
    kept = compact(s, once_only={"welcome"})
    assert kept is not None
    assert kept.consent == {"email:marketing": False}
    assert set(kept.entries) == {"welcome"}
    assert kept.profile == {} and kept.counters == {}
    assert expires_at(kept, r, once_only={"welcome"}) is None  # already minimal: no more timers


def test_nothing_worth_keeping_drops_the_record() -> None:
    s = UserState(profile={"plan": "pro"}, entries={"cart": EntryLog(1, T)}, last_seen=T)
    assert compact(s, once_only=set()) is None


def test_users_with_something_in_flight_never_expire() -> None:
    r = Retention(idle_ttl_ms=DAY)
    waiting = UserState(instances=[Instance("j", 1, 1, "w", T, Waiting.TIMER, T + 99 * DAY)], last_seen=T)
    assert expires_at(waiting, r, once_only=()) is None
    fallback = UserState(fallbacks=[PendingFallback("a", "j", 1, 1, "n", T + DAY)], last_seen=T)
    assert expires_at(fallback, r, once_only=()) is None


def test_tombstones_live_for_erased_ttl_or_forever() -> None:
    s = UserState(erased_at=T)
    assert expires_at(s, Retention(erased_ttl_ms=None), once_only=()) is None
    assert expires_at(s, Retention(erased_ttl_ms=DAY), once_only=()) == T + DAY
