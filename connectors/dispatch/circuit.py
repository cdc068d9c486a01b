"""A circuit breaker per provider: stop calling a provider that keeps failing, probe it later.

Closed: calls go through; `failure_threshold` consecutive transient failures open the circuit.
Open: calls fail at once with `CircuitOpenError` (nothing is sent) until `reset_timeout_s` passed.
Half-open: one probe call at a time goes through; success closes the circuit, failure re-opens it.
Failures that say nothing about the provider's health (rate limiting, permanent errors for one
address) are not counted. Thread-safe; one breaker is shared by a channel's sender threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

from connectors.errors import CircuitOpenError
from jobs.settings import CircuitSettings


class CircuitState(StrEnum):
    """The breaker's state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """The breaker of one provider. `clock` is monotonic seconds (injectable for tests)."""

    def __init__(
        self, provider: str, settings: CircuitSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.provider = provider
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.opened_count = 0

    @property
    def state(self) -> CircuitState:
        """The state now (an open circuit whose pause is over reads as half-open)."""
        with self._lock:
            self._advance()
            return self._state

    def _advance(self) -> None:
        if self._state is CircuitState.OPEN and self._clock() - self._opened_at >= self.settings.reset_timeout_s:
            self._state = CircuitState.HALF_OPEN
            self._probing = False

    def before_call(self) -> None:
        """Raise CircuitOpenError unless a call may go through now."""
        with self._lock:
            self._advance()
            if self._state is CircuitState.CLOSED:
                return
            if self._state is CircuitState.HALF_OPEN and not self._probing:
                self._probing = True
                return
            wait = self.settings.reset_timeout_s - (self._clock() - self._opened_at)
            raise CircuitOpenError(self.provider, max(wait, 0.05))

    def on_success(self) -> None:
        """A call went through: the provider is healthy."""
        with self._lock:
            self._state = CircuitState.CLOSED
            self._failures = 0
            self._probing = False

    def on_failure(self) -> None:
        """A call failed in a way that counts against the provider's health."""
        with self._lock:
            self._advance()
            if self._state is CircuitState.HALF_OPEN:
                self._open()
                return
            self._failures += 1
            if self._state is CircuitState.CLOSED and self._failures >= self.settings.failure_threshold:
                self._open()

    def on_neutral(self) -> None:
        """A call ended in a way that says nothing about health (e.g. 429): release a probe slot."""
        with self._lock:
            self._probing = False

    def _open(self) -> None:
        self._state = CircuitState.OPEN
        self._opened_at = self._clock()
        self._failures = 0
        self._probing = False
        self.opened_count += 1
