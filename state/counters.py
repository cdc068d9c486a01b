"""Rolling-window event counters kept as sparse time buckets.

A counter `counters.<type>.<window>` counts the user's events of `type` in the last `window`.
Each counter keeps a flat list `[bucket, count, bucket, count, …]` sorted by bucket, where a
bucket is `ts_ms // width` and `width` is 1/60 of the window (at least one second). Only
non-empty buckets are stored, and buckets that fell out of the window are pruned, so a counter
holds at most 61 pairs whatever the event rate.

Precision: the oldest bucket that overlaps the window counts whole, so a count may include
events up to `window / 60` older than the window (at most 1 minute for `1h`, 24 minutes for
`1d`). It never misses an event inside the window.
"""

from __future__ import annotations

from bisect import bisect_left

BUCKETS_PER_WINDOW = 60  # part of the stored format: changing it needs a schema migration
MIN_WIDTH_MS = 1000


def counter_key(event_type: str, window_ms: int) -> str:
    """The key a counter is stored under: `<type>@<window seconds>`."""
    return f"{event_type}@{window_ms // 1000}"


def parse_counter_key(key: str) -> tuple[str, int]:
    """(event type, window in ms) from a `counter_key`."""
    event_type, _, seconds = key.rpartition("@")
    return event_type, int(seconds) * 1000


def bucket_width(window_ms: int) -> int:
    """Width in ms of one bucket of a counter over `window_ms`."""
    return max(MIN_WIDTH_MS, window_ms // BUCKETS_PER_WINDOW)


def add(buckets: list[int], ts_ms: int, window_ms: int) -> None:
    """Count one event at `ts_ms` (in place)."""
    b = ts_ms // bucket_width(window_ms)
    n = len(buckets)
    if n and buckets[n - 2] == b:  # the common case: events arrive in time order
        buckets[n - 1] += 1
        return
    if not n or buckets[n - 2] < b:
        buckets.append(b)
        buckets.append(1)
        return
    # A late event: find its bucket among the even positions.
    keys = buckets[0::2]
    i = bisect_left(keys, b)
    if i < len(keys) and keys[i] == b:
        buckets[2 * i + 1] += 1
    else:
        buckets[2 * i : 2 * i] = [b, 1]


def count(buckets: list[int], now_ms: int, window_ms: int) -> int:
    """Events in the window ending at `now_ms` (buckets overlapping (now - window, now])."""
    width = bucket_width(window_ms)
    first = (now_ms - window_ms) // width  # the bucket holding the window's start overlaps it
    last = now_ms // width
    total = 0
    for i in range(0, len(buckets), 2):
        b = buckets[i]
        if first <= b <= last:
            total += buckets[i + 1]
    return total


def prune(buckets: list[int], now_ms: int, window_ms: int) -> list[int]:
    """The buckets still overlapping a window ending at or after `now_ms` (a new list if any dropped)."""
    if not buckets:
        return buckets
    first = (now_ms - window_ms) // bucket_width(window_ms)
    if buckets[0] >= first:
        return buckets
    for i in range(0, len(buckets), 2):
        if buckets[i] >= first:
            return buckets[i:]
    return []
