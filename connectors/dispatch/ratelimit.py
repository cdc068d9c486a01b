"""Global per-channel send rates: one token bucket in Redis shared by every worker.

The bucket is kept in its GCRA form (the "virtual scheduling" view of a token bucket): one number
per channel, the theoretical arrival time (TAT) of the next send, in microseconds of Redis' own
clock. A caller reserves the next slot atomically and sleeps until it; with `burst = 1` sends are
spaced `1.02/rate` apart (a 2% guard against wake-up jitter), so no window of one second ever holds
more than `rate` sends, however many workers share the bucket. `burst = b` lets `b` sends go back
to back after a quiet spell. Reserving a slot costs one round trip; a slot never used (the worker
stopped) is simply lost.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import redis

from connectors.dispatch import keys
from jobs.settings import RateLimit

GUARD = 1.02

# KEYS[1] TAT; ARGV: interval_us, tolerance_us. Returns {slot_us, now_us}: when the caller may send.
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local slot = tat - tolerance
if slot < now then slot = now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1000)
return {string.format('%d', slot), string.format('%d', now)}
"""


class RateLimiter:
    """The shared bucket of one channel. `acquire()` blocks until this caller may send one message."""

    def __init__(self, client: redis.Redis, channel: str, limit: RateLimit, namespace: str = "") -> None:
        self.channel = channel
        self.limit = limit
        self._key = keys.rate_limit(channel, namespace)
        # Slots are spaced 2% wider than 1/rate: the wait between a slot and the actual write (a
        # thread waking up on a busy machine) varies by a few ms, and that must not push a 51st
        # send into a second; 2% leaves 20 ms of slack per second at any rate.
        self._interval_us = math.ceil(1_000_000 / limit.per_second * GUARD)
        self._tolerance_us = self._interval_us * (limit.burst - 1)
        self._reserve = client.register_script(RESERVE)

    def reserve(self) -> float:
        """Reserve the next slot; returns the seconds to wait before using it."""
        slot, now = self._reserve(keys=[self._key], args=[self._interval_us, self._tolerance_us])
        return max(int(slot) - int(now), 0) / 1_000_000

    def acquire(self, stop: threading.Event | None = None, sleep: Callable[[float], object] | None = None) -> bool:
        """Wait for a slot; False if `stop` was set while waiting (the slot is then lost)."""
        delay = self.reserve()
        if delay <= 0:
            return True
        if stop is not None:
            return not stop.wait(delay)
        (sleep or time.sleep)(delay)
        return True
