"""Retry policy, Retry-After, circuit breaker, consent rules, send-state codec: the pure parts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from connectors.dispatch.circuit import CircuitBreaker, CircuitState
from connectors.dispatch.consent import requires_opt_in
from connectors.dispatch.dedupe import SendState, StateCode
from connectors.dispatch.retry import RetryPolicy, parse_retry_after
from connectors.errors import CircuitOpenError
from jobs.settings import CircuitSettings, RetrySettings
from operators.core.guardrails import ConsentRule

pytestmark = pytest.mark.unit


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(RetrySettings(max_attempts=8, base_delay_s=1, max_delay_s=10), random.Random(7))
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (7, 10)]:
        delays = [policy.backoff(attempt) for _ in range(200)]
        assert min(delays) >= ceiling / 2 and max(delays) <= ceiling
        assert len(set(delays)) > 100  # jittered, not one value


def test_retries_stop_after_max_attempts_and_honour_retry_after() -> None:
    policy = RetryPolicy(RetrySettings(max_attempts=3, base_delay_s=0.1, max_delay_s=1, max_retry_after_s=60))
    assert policy.decide(1).retry and policy.decide(2).retry
    assert not policy.decide(3).retry
    assert policy.decide(1, retry_after=5).delay_s == 5  # never sooner than asked
    assert policy.decide(1, retry_after=3600).delay_s == 60  # capped


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_circuit_opens_fails_fast_probes_once_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker("sms", CircuitSettings(failure_threshold=3, reset_timeout_s=10), clock)
    for _ in range(2):
        breaker.before_call()
        breaker.on_failure()
    breaker.before_call()
    breaker.on_success()  # a success resets the count
    for _ in range(3):
        breaker.before_call()
        breaker.on_failure()
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError) as err:
        breaker.before_call()
    assert err.value.retry_after == pytest.approx(10)
    clock.now = 10
    assert breaker.state is CircuitState.HALF_OPEN
    breaker.before_call()  # the one probe
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # others wait while it runs
    breaker.on_failure()  # the probe failed: open again
    assert breaker.state is CircuitState.OPEN
    clock.now = 20
    breaker.before_call()
    breaker.on_success()
    assert breaker.state is CircuitState.CLOSED
    breaker.before_call()


def test_rate_limiting_does_not_count_against_the_provider() -> None:
    breaker = CircuitBreaker("x", CircuitSettings(failure_threshold=1, reset_timeout_s=1), Clock())
    breaker.before_call()
    breaker.on_neutral()
    assert breaker.state is CircuitState.CLOSED


def test_opt_in_rules_most_specific_wins() -> None:
    rules = [ConsentRule(channel="*", category="newsletter"), ConsentRule(channel="sms", category="*"),
             ConsentRule(channel="sms", category="receipts", require_opt_in=False)]
    assert not requires_opt_in(rules, "email", "marketing")
    assert requires_opt_in(rules, "email", "newsletter")
    assert requires_opt_in(rules, "sms", "marketing")
    assert not requires_opt_in(rules, "sms", "receipts")
    assert not requires_opt_in([], "sms", "marketing")


@pytest.mark.parametrize(
    "state",
    [
        SendState(code=StateCode.CLAIMED, owner="abc.1", at_ms=123),
        SendState(code=StateCode.COMMITTED, owner="abc.2", at_ms=456),
        SendState(code=StateCode.DONE, recorded=True, attempt=2, at_ms=7, status="delivered", detail="SMxyz"),
        SendState(code=StateCode.FAILED, attempt=5, at_ms=8, status="failed", detail="retries_exhausted:HTTP 503"),
        SendState(code=StateCode.SUPPRESSED, at_ms=9, status="suppressed", detail="consent"),
        SendState(code=StateCode.REPLAY, at_ms=10),
    ],
)
def test_send_states_round_trip_through_their_redis_value(state: SendState) -> None:
    assert SendState.decode(state.encode()) == state


def test_details_cannot_break_the_state_format() -> None:
    state = SendState(code=StateCode.FAILED, attempt=1, at_ms=1, status="failed", detail="a|b\nc")
    assert SendState.decode(state.encode()).detail == "a/b c"
