"""Pruning and the TTL policy: what a record may forget, and when a whole record may go.

Pruning runs on every write and keeps a record bounded whatever the user does:

* counter buckets that fell out of their window, and counters no journey reads any more;
* cap entries older than the longest cap window;
* pending fallbacks past their window (unless already triggered and waiting out quiet hours);
* remembered event ids beyond the count limit or older than the horizon.

The TTL policy handles users with nothing in flight. Once such a user has been idle for
`idle_ttl`, the record shrinks to what must outlive idleness — consent, the suppression flag, the
erase tombstone, and the entry log of journeys that allow entering only once — and disappears
when nothing of that is left. Re-entry `never` therefore holds for as long as the record lives:
forever for those journeys. A tombstone is kept for `erased_ttl` (None: forever).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from state import counters as ctr
from state.record import SEND_TS, UserState


@dataclass(frozen=True, slots=True)
class Retention:
    """How long the parts of a record are kept (all durations in ms)."""

    cap_window_ms: int = 0  # the longest cap window, global or per journey
    seen_max: int = 32  # how many recent event ids to remember
    seen_horizon_ms: int = 86_400_000  # and for how long
    idle_ttl_ms: int | None = 365 * 86_400_000  # None: never drop idle records
    erased_ttl_ms: int | None = None  # None: keep tombstones forever


def prune(state: UserState, now_ms: int, retention: Retention, counter_keys: Container[str] | None = None) -> None:
    """Drop what no longer matters at `now_ms` (in place). `counter_keys`: counters still read;
    a mapping of counter key to window (ms) saves parsing each key."""
    counters = state.counters
    windows = counter_keys if type(counter_keys) is dict else None
    if counters:
        # The common case is that nothing goes: every counter is still read and its oldest bucket
        # still overlaps its window. Only otherwise is the map rebuilt (the loop's `break`).
        for key, buckets in counters.items():
            if windows is not None:
                window = windows.get(key)
                if window is None:
                    break
            else:
                if counter_keys is not None and key not in counter_keys:
                    break
                window = ctr.parse_counter_key(key)[1]
            width = window // _PER_WINDOW  # ctr.bucket_width, inline
            if width < _MIN_WIDTH:
                width = _MIN_WIDTH
            if not buckets or buckets[0] < (now_ms - window) // width:
                break
        else:
            counters = None
    if counters:
        kept: dict[str, list[int]] = {}
        for key, buckets in counters.items():
            if counter_keys is not None and key not in counter_keys:
                continue
            window = windows[key] if windows is not None else ctr.parse_counter_key(key)[1]
            buckets = ctr.prune(buckets, now_ms, window)
            if buckets:
                kept[key] = buckets
        state.counters = kept
    if state.sends:
        horizon = now_ms - retention.cap_window_ms
        if state.sends[0][SEND_TS] <= horizon:
            state.sends = [s for s in state.sends if s[SEND_TS] > horizon]
    if state.fallbacks:
        for f in state.fallbacks:
            if not f.due and f.expires <= now_ms:
                state.fallbacks = [f for f in state.fallbacks if f.due or f.expires > now_ms]
                break
    seen = state.seen
    if seen:
        excess = len(seen) - 2 * retention.seen_max
        if excess > 0:
            del seen[:excess]  # in place: the oldest ids go
        horizon_s = (now_ms - retention.seen_horizon_ms) // 1000
        if seen and seen[1] < horizon_s:
            start = 0
            while start < len(seen) and seen[start + 1] < horizon_s:
                start += 2
            del seen[:start]


_PER_WINDOW = ctr.BUCKETS_PER_WINDOW
_MIN_WIDTH = ctr.MIN_WIDTH_MS


def expires_at(state: UserState, retention: Retention, once_only: Container[str]) -> int | None:
    """When (ms) the TTL policy will compact or drop this record; None while something is in
    flight, when idle records are kept forever, or when it is already as small as it gets."""
    if state.erased_at is not None:
        if retention.erased_ttl_ms is None:
            return None
        return state.erased_at + retention.erased_ttl_ms
    if state.has_pending() or retention.idle_ttl_ms is None or is_compact(state, once_only):
        return None
    return state.last_seen + retention.idle_ttl_ms


def is_compact(state: UserState, once_only: Container[str]) -> bool:
    """Whether the record already holds only what outlives idleness (compacting keeps it as is)."""
    if state.profile or state.tz or state.sends or state.counters or state.seen or state.schedule:
        return False
    return all(j in once_only for j in state.entries)


def compact(state: UserState, once_only: Container[str]) -> UserState | None:
    """The part of an expired record that must be kept, or None when the record can go.

    `once_only`: ids of journeys with re-entry `never`, whose entry log must survive.
    """
    if state.erased_at is not None:
        return None  # only called once the tombstone itself expired
    kept = UserState(
        consent=state.consent,
        suppressed=state.suppressed,
        entries={j: log for j, log in state.entries.items() if j in once_only},
        last_seen=state.last_seen,
        extra=state.extra,
    )
    if not (kept.consent or kept.suppressed or kept.entries or kept.extra):
        return None
    return kept
