"""When to try a failed send again: exponential backoff with jitter, bounded, honouring Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from pydantic import BaseModel, ConfigDict

from jobs.settings import RetrySettings


class RetryDecision(BaseModel):
    """Whether to try again, and after how long (seconds)."""

    model_config = ConfigDict(frozen=True)

    retry: bool
    delay_s: float = 0.0


class RetryPolicy:
    """Backoff for attempt n (1-based): a random delay in [d/2, d], d = min(max, base * 2^(n-1)).

    "Equal jitter": workers that failed together spread out, and no retry comes back at once.
    A provider's Retry-After is a floor (never retry sooner than asked), capped at
    `max_retry_after_s`.
    """

    def __init__(self, settings: RetrySettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._rng = rng or random.Random()

    def backoff(self, attempt: int) -> float:
        """The jittered delay after failed attempt `attempt`."""
        s = self.settings
        ceiling = min(s.max_delay_s, s.base_delay_s * (2 ** max(attempt - 1, 0)))
        return self._rng.uniform(ceiling / 2, ceiling)

    def decide(self, attempt: int, retry_after: float | None = None) -> RetryDecision:
        """After failed attempt `attempt` (1-based) of a transient error: retry, and when."""
        if attempt >= self.settings.max_attempts:
            return RetryDecision(retry=False)
        delay = self.backoff(attempt)
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, self.settings.max_retry_after_s))
        return RetryDecision(retry=True, delay_s=delay)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from an HTTP `Retry-After` header (delta-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
