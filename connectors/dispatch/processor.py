"""What happens to one action, from its record to a recorded delivery.

For each action a sender thread: re-publishes what an earlier, crashed attempt left unrecorded;
drops expired and suppressed actions (consent and suppression were checked for the whole batch
just before); renders the template (a failure dead-letters the action); then, per attempt, waits
for the channel's rate-limit slot and an open circuit, claims the action in Redis, and lets the
adapter send it, committing right before the irreversible step. Transient failures are retried
with backoff (the claim is released meanwhile), permanent ones dead-lettered at once; bounces
add the address to the suppression list. Every attempt is published to `deliveries`, and
delivered / failed / bounced results go back to `events`.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from connectors.dispatch.circuit import CircuitBreaker
from connectors.dispatch.consent import ConsentStore, Verdict
from connectors.dispatch.deadletter import DeadLetter, DeadLetterReason, SourceOffset
from connectors.dispatch.dedupe import ClaimOutcome, ClaimResult, DedupeStore, SenderSession, SendState, StateCode
from connectors.dispatch.masking import mask_text
from connectors.dispatch.plugin import AdapterContext, ChannelAdapter, ChannelPlugin, Commit, OutgoingMessage
from connectors.dispatch.publisher import Publisher
from connectors.dispatch.ratelimit import RateLimiter
from connectors.dispatch.render import RenderContext, RenderedMessage, TemplateRenderer
from connectors.dispatch.retry import RetryPolicy
from connectors.dispatch.templates import TemplateStore
from connectors.errors import (
    CircuitOpenError,
    ClaimLost,
    PermanentDeliveryError,
    RenderError,
    TemplateMissing,
    TransientDeliveryError,
)
from jobs.settings import Settings
from jobs.spec.records import ActionRecord, DeliveryRecord, DeliveryStatus

log = logging.getLogger(__name__)

UNCONFIRMED = "unconfirmed"
# With a rate limit, how long before its slot a send starts (its commit then waits for the slot).
_SLOT_LEAD_S = 0.05


class Result(StrEnum):
    """How processing one action ended."""

    SETTLED = "settled"  # a final state exists and its records were published
    ABANDONED = "abandoned"  # the worker is stopping; nothing was sent, the offset must not be committed


class Outcome(BaseModel):
    """The result of one action, and the final state to flag as recorded once Kafka has it."""

    model_config = ConfigDict(frozen=True)

    result: Result
    final: SendState | None = None


SETTLED_NOTHING_TO_MARK = Outcome(result=Result.SETTLED)
ABANDONED = Outcome(result=Result.ABANDONED)


class Prepared(BaseModel):
    """An action ready to send: its rendered content and its claim token."""

    model_config = ConfigDict(frozen=True)

    content: RenderedMessage | None = None
    token: str


class WorkItem(BaseModel):
    """One action of a batch, with what the batch-level checks found."""

    model_config = ConfigDict(frozen=True)

    action: ActionRecord
    source: SourceOffset | None = None
    state: SendState | None = None
    verdict: Verdict | None = None


class ChannelStats:
    """Counters of one channel (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        """Count `n` more of `name`."""
        with self._lock:
            self.counts[name] += n

    def snapshot(self) -> dict[str, int]:
        """The counters now."""
        with self._lock:
            return dict(self.counts)


class ChannelRuntime:
    """Everything a channel's sender threads share."""

    def __init__(
        self,
        *,
        channel: str,
        plugin: ChannelPlugin,
        settings: Settings,
        templates: TemplateStore,
        renderer: TemplateRenderer,
        consent: ConsentStore,
        dedupe: DedupeStore,
        publisher: Publisher,
        limiter: RateLimiter | None,
        stop: threading.Event,
        worker_id: str,
    ) -> None:
        self.channel = channel
        self.plugin = plugin
        self.settings = settings
        self.templates = templates
        self.renderer = renderer
        self.consent = consent
        self.dedupe = dedupe
        self.publisher = publisher
        self.limiter = limiter
        self.stop = stop
        self.worker_id = worker_id
        self._breakers: dict[str, CircuitBreaker] = {}
        self._breakers_lock = threading.Lock()
        self.retry = RetryPolicy(settings.dispatch.retry)
        self.stats = ChannelStats()
        self.context = AdapterContext(
            channel=channel,
            settings=settings,
            plugin_settings=plugin.plugin_settings(settings),
            renderer=renderer,
            worker_id=worker_id,
        )

    def breaker(self, key: str = "") -> CircuitBreaker:
        """The circuit breaker of one provider (`channel`, or `channel:key`), made on first use."""
        name = f"{self.channel}:{key}" if key else self.channel
        with self._breakers_lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                breaker = self._breakers[name] = CircuitBreaker(name, self.settings.dispatch.circuit)
            return breaker


def _now() -> datetime:
    return datetime.now(UTC)


class Sender:
    """One sender thread's adapter and Redis session; `process` handles one action."""

    def __init__(self, runtime: ChannelRuntime, adapter: ChannelAdapter, session: SenderSession) -> None:
        self.rt = runtime
        self.adapter = adapter
        self.session = session
        # Claim owners: unique per attempt, without a random-number syscall per message.
        self._token_prefix = uuid.uuid4().hex[:16] + "."
        self._tokens = itertools.count()
        # When the current send went out (its commit): the time of its delivery record.
        self._sent_at: datetime | None = None

    # Records ---------------------------------------------------------------------------------

    def _delivery(
        self, action: ActionRecord, status: DeliveryStatus, attempt: int, *, provider_id: str | None = None,
        error: str | None = None,
    ) -> DeliveryRecord:
        return DeliveryRecord(
            action_id=action.action_id,
            channel=self.rt.channel,
            status=status,
            provider_id=provider_id,
            attempt=max(attempt, 1),
            error=mask_text(error) if error else None,
            ts=self._sent_at or _now(),
            user_id=action.user_id,
            journey_id=action.journey_id,
            node_id=action.node_id,
        )

    def _publish_final(self, item: WorkItem, state: SendState) -> None:
        """Publish the delivery record (and dead letter) of a final state."""
        action = item.action
        status = DeliveryStatus(state.status or DeliveryStatus.FAILED.value)
        if state.code is StateCode.DONE:
            self.rt.publisher.delivery(
                self._delivery(action, status, state.attempt, provider_id=state.detail), action
            )
        elif state.code is StateCode.SUPPRESSED:
            self.rt.publisher.delivery(self._delivery(action, status, state.attempt, error=state.detail), action)
        else:
            reason_text, _, error = (state.detail or "permanent:").partition(":")
            try:
                reason = DeadLetterReason(reason_text)
            except ValueError:
                reason = DeadLetterReason.PERMANENT
            self.rt.publisher.dead_letter(
                DeadLetter(
                    channel=self.rt.channel,
                    reason=reason,
                    error=error or reason.value,
                    attempts=state.attempt,
                    action=action,
                    source=item.source,
                    failed_at=_now(),
                    worker=self.rt.worker_id,
                )
            )
            self.rt.publisher.delivery(self._delivery(action, status, state.attempt, error=state.detail), action)

    def _settle(self, item: WorkItem, state: SendState, *, via_session: bool = True) -> Outcome:
        if via_session:
            self.session.finish(item.action.action_id, state)
        else:
            self.rt.dedupe.finish(item.action.action_id, state)
        self._publish_final(item, state)
        self.rt.stats.add(state.status or "unknown")
        return Outcome(result=Result.SETTLED, final=state)

    def _seen_before(self, item: WorkItem, state: SendState) -> Outcome:
        if not state.recorded:
            # A worker died after settling but before its records reached Kafka: publish them now.
            self._publish_final(item, state)
            self.rt.stats.add("republished")
            return Outcome(result=Result.SETTLED, final=state)
        self.rt.publisher.delivery(
            self._delivery(item.action, DeliveryStatus.DUPLICATE, state.attempt, provider_id=state.detail
                           if state.code is StateCode.DONE else None),
            None,
        )
        self.rt.stats.add("duplicate")
        return SETTLED_NOTHING_TO_MARK

    def _dead(self, item: WorkItem, reason: DeadLetterReason, error: str, attempt: int, *, bounced: bool = False,
              via_session: bool = True) -> Outcome:
        status = DeliveryStatus.BOUNCED if bounced else DeliveryStatus.FAILED
        state = SendState.final_state(
            StateCode.FAILED, status=status.value, attempt=attempt, detail=f"{reason.value}:{mask_text(error)}"
        )
        log.warning("action %s dead-lettered (%s): %s", item.action.action_id, reason.value, mask_text(error))
        return self._settle(item, state, via_session=via_session)

    def _suppressed(self, item: WorkItem, reason: str) -> Outcome:
        state = SendState.final_state(StateCode.SUPPRESSED, status=DeliveryStatus.SUPPRESSED.value, attempt=1,
                                      detail=reason)
        return self._settle(item, state, via_session=False)

    # Processing ------------------------------------------------------------------------------

    def _render(self, action: ActionRecord) -> RenderedMessage | None:
        if action.template is None:
            return None
        template = self.rt.templates.get(action.template, self.rt.channel)
        extra = self.rt.plugin.template_variables(action, self.rt.settings)
        return self.rt.renderer.render(template, RenderContext.from_action(action, **extra))

    def _prepare(self, item: WorkItem) -> Outcome | Prepared:
        """Everything before the send: an Outcome if the action ends here, else its content."""
        action = item.action
        if item.state is not None and item.state.final:
            return self._seen_before(item, item.state)
        if action.not_after is not None and action.not_after < _now():
            return self._suppressed(item, "expired")
        if item.verdict is not None and not item.verdict.allowed:
            return self._suppressed(item, item.verdict.reason or "consent")
        trait = self.rt.plugin.address_trait
        if trait is not None and not OutgoingMessage(action=action).address(trait):
            return self._suppressed(item, "no_address")
        try:
            content = self._render(action)
        except (RenderError, TemplateMissing) as exc:
            return self._dead(item, DeadLetterReason.TEMPLATE, str(exc), 0, via_session=False)
        return Prepared(content=content, token=f"{self._token_prefix}{next(self._tokens)}")

    def process(self, item: WorkItem) -> Outcome:
        """Deliver one action (or find it done); never raises for a delivery problem."""
        return self.process_chunk([item])[0]

    def process_chunk(self, items: list[WorkItem]) -> list[Outcome]:
        """Deliver several actions, claiming them in one round trip when the channel has no rate limit.

        (With a rate limit, each action is claimed only once its slot comes, so that no claim is
        held longer than the lease.)
        """
        prepared = [self._prepare(item) for item in items]
        ready = [(i, p) for i, p in enumerate(prepared) if isinstance(p, Prepared)]
        claims: dict[int, ClaimResult] = {}
        if ready and self.rt.limiter is None and not self.rt.stop.is_set():
            results = self.session.claim_many(
                [(items[i].action.action_id, p.token) for i, p in ready], idempotent=self.rt.plugin.idempotent
            )
            claims = {i: r for (i, _), r in zip(ready, results, strict=True)}
        outcomes: list[Outcome] = []
        for i, p in enumerate(prepared):
            if isinstance(p, Outcome):
                outcomes.append(p)
                continue
            try:
                outcomes.append(self._attempts(items[i], p, claims.get(i)))
            except Exception:
                # Redis or Kafka trouble: leave the action for a later read (the worker rewinds).
                log.exception("action %s: cannot be processed now", items[i].action.action_id)
                outcomes.append(ABANDONED)
        return outcomes

    def _wait(self, seconds: float) -> bool:
        """Sleep unless stopping; False if the worker is stopping."""
        return not self.rt.stop.wait(seconds)

    def _attempts(self, item: WorkItem, prepared: Prepared, claim: ClaimResult | None = None) -> Outcome:
        action = item.action
        action_id = action.action_id
        token = prepared.token
        content = prepared.content
        attempt = 1
        plugin = self.rt.plugin
        breaker = self.rt.breaker(self.adapter.circuit_key(OutgoingMessage(action=action, content=content)))
        while True:
            if self.rt.stop.is_set():
                self._let_go(action_id, token, claim)
                return ABANDONED
            slot: float | None = None
            if claim is None and self.rt.limiter is not None:
                # Reserve the send's slot now, wait for most of it here (where stopping is still
                # possible) and the rest at the commit, so the irreversible write goes out on time.
                slot = time.monotonic() + self.rt.limiter.reserve()
                early = slot - time.monotonic() - _SLOT_LEAD_S
                if early > 0 and not self._wait(early):
                    return ABANDONED
            try:
                breaker.before_call()
            except CircuitOpenError as exc:
                # Do not sit on a claim while the provider is down: another worker may take over.
                self._let_go(action_id, token, claim)
                claim = None
                self.rt.stats.add("circuit_wait")
                if not self._wait(exc.retry_after or 1.0):
                    return ABANDONED
                continue
            if claim is None:
                claim = self.session.claim(action_id, token, idempotent=plugin.idempotent)
            claimed, claim = claim, None
            if claimed.outcome is ClaimOutcome.BUSY:
                # Another live worker is sending it right now; its result will show up shortly.
                breaker.on_neutral()
                if not self._wait(min(1.0, self.rt.settings.dispatch.claim_lease_s / 4)):
                    return ABANDONED
                continue
            if claimed.outcome is ClaimOutcome.FINAL and claimed.state is not None:
                breaker.on_neutral()
                return self._seen_before(item, claimed.state)
            if claimed.outcome is ClaimOutcome.ORPHANED:
                breaker.on_neutral()
                log.warning("action %s: its worker died mid-send; taken as sent", action_id)
                state = SendState.final_state(
                    StateCode.DONE, status=DeliveryStatus.SENT.value, attempt=attempt, detail=UNCONFIRMED
                )
                if claimed.raw is not None and self.rt.dedupe.swap(action_id, claimed.raw, state):
                    self._publish_final(item, state)
                    self.rt.stats.add("unconfirmed")
                    return Outcome(result=Result.SETTLED, final=state)
                continue
            if claimed.outcome is ClaimOutcome.RECOVERED:
                self.rt.stats.add("recovered")
            message = OutgoingMessage(action=action, content=content, attempt=attempt)
            self._sent_at = None
            try:
                result = self.adapter.deliver(message, self._commit_hook(action_id, token, slot))
            except TransientDeliveryError as exc:
                outcome = self._transient(item, exc, token, attempt, breaker)
                if outcome is not None:
                    return outcome
                attempt += 1
                continue
            except PermanentDeliveryError as exc:
                breaker.on_success()  # the provider answered: it is up
                if exc.bounced:
                    address = message.address(plugin.address_trait) if plugin.address_trait else None
                    if address and exc.code != "no_address":
                        self.rt.consent.suppress_address(address)
                reason = DeadLetterReason.BOUNCED if exc.bounced else DeadLetterReason.PERMANENT
                return self._dead(item, reason, str(exc), attempt, bounced=exc.bounced)
            except ClaimLost:
                log.warning("action %s: claim lost before the send finished", action_id)
                self.rt.stats.add("claim_lost")
                return SETTLED_NOTHING_TO_MARK
            except Exception as exc:  # a bug in an adapter must not kill the worker: retry, then dead-letter
                log.exception("action %s: adapter %s failed unexpectedly", action_id, self.rt.channel)
                wrapped = TransientDeliveryError(f"{type(exc).__name__} in the {self.rt.channel} adapter")
                outcome = self._transient(item, wrapped, token, attempt, breaker)
                if outcome is not None:
                    return outcome
                attempt += 1
                continue
            breaker.on_success()
            state = SendState.final_state(
                StateCode.DONE, status=result.status.value, attempt=attempt, detail=result.provider_id
            )
            return self._settle(item, state)

    def _commit_hook(self, action_id: str, token: str, slot: float | None) -> Commit:
        def commit(then_send: tuple[socket.socket, bytes] | None = None) -> None:
            if slot is not None:
                remaining = slot - time.monotonic()
                if remaining > 0:
                    time.sleep(remaining)
            self._sent_at = _now()
            self.session.commit(action_id, token, then_send)

        return commit

    def _let_go(self, action_id: str, token: str, claim: ClaimResult | None) -> None:
        if claim is not None and claim.outcome in (ClaimOutcome.CLAIMED, ClaimOutcome.RECOVERED):
            self.session.release(action_id, token)

    def _transient(
        self, item: WorkItem, exc: TransientDeliveryError, token: str, attempt: int, breaker: CircuitBreaker
    ) -> Outcome | None:
        """Handle a transient failure: an Outcome to stop with, or None to try again."""
        action = item.action
        if exc.counts_for_circuit:
            breaker.on_failure()
        else:
            breaker.on_neutral()
        if exc.maybe_sent and not self.rt.plugin.idempotent:
            # The provider may have acted on it and cannot de-duplicate: a retry risks a second message.
            state = SendState.final_state(
                StateCode.DONE, status=DeliveryStatus.SENT.value, attempt=attempt, detail=UNCONFIRMED
            )
            log.warning("action %s: %s; taken as sent", action.action_id, exc)
            self.rt.stats.add("unconfirmed")
            return self._settle(item, state)
        decision = self.rt.retry.decide(attempt, exc.retry_after)
        if not decision.retry:
            return self._dead(item, DeadLetterReason.RETRIES_EXHAUSTED, str(exc), attempt)
        self.rt.publisher.delivery(
            self._delivery(action, DeliveryStatus.RETRYING, attempt, error=str(exc)), action
        )
        self.rt.stats.add("retrying")
        # Nothing was accepted (a 503 after our commit mark included): let go of the action while
        # waiting, so that a restart or another worker can take it.
        try:
            self.session.reclaim(action.action_id, token)
            self.session.release(action.action_id, token)
        except ClaimLost:
            pass
        if not self._wait(decision.delay_s):
            return ABANDONED
        return None

    def close(self) -> None:
        """Close the adapter and the Redis session."""
        try:
            self.adapter.close()
        finally:
            self.session.close()


def new_sender(runtime: ChannelRuntime) -> Sender:
    """A sender with its own adapter and Redis connection."""
    from connectors.dispatch.keys import redis_client

    session = SenderSession(
        redis_client(runtime.settings, single_connection=True),
        ttl_s=runtime.settings.dispatch.dedupe_ttl_s,
        lease_s=runtime.settings.dispatch.claim_lease_s,
    )
    return Sender(runtime, runtime.plugin.create_adapter(runtime.context), session)

