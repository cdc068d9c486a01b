"""The exceptions of the dispatchers and channel adapters.

`DispatchError` is the root of what connectors raise on purpose. Channel adapters signal a failed
send with `TransientDeliveryError` (try again later: timeouts, 5xx, 429) or
`PermanentDeliveryError` (never retry: 4xx, a bad address); the worker decides about retries,
dead letters and feedback from that alone. Messages of these errors end up in `deliveries`, the
dead-letter topics and logs, so they must never contain secrets; addresses are masked.
"""

from __future__ import annotations

from jobs.errors import JourneysError


class DispatchError(JourneysError):
    """Root of every error the dispatchers raise on purpose."""


class ChannelConfigError(DispatchError):
    """A channel cannot run: its provider settings are missing or wrong, or no adapter is known."""


class PluginError(DispatchError):
    """A channel plugin cannot be loaded: import failure, wrong shape, or an unsupported API version."""


class TemplateMissing(DispatchError):
    """The action names a template that the template folder does not hold (or on another channel)."""


class RenderError(DispatchError):
    """A template failed to render for one action (e.g. a variable with no value and no default)."""

    def __init__(self, template: str, field: str, message: str) -> None:
        super().__init__(f"template {template}, field {field}: {message}")
        self.template = template
        self.field = field
        self.message = message


class DeliveryError(DispatchError):
    """A send attempt failed; `code` is the provider's error code or status, when known."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientDeliveryError(DeliveryError):
    """Worth retrying: timeouts, connection errors, 5xx, 429. `retry_after` is the provider's wish (s).

    `counts_for_circuit` is False for failures that say nothing about the provider's health
    (rate limiting): they do not open the circuit breaker. `maybe_sent` marks failures after the
    request left (a timeout waiting for the answer): the provider may have acted on it, so for
    providers without idempotency keys the worker takes it as sent rather than risk a duplicate.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retry_after: float | None = None,
        counts_for_circuit: bool = True,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
        self.counts_for_circuit = counts_for_circuit
        self.maybe_sent = maybe_sent


class PermanentDeliveryError(DeliveryError):
    """Never worth retrying. `bounced` marks a bad or unreachable address (status `bounced`)."""

    def __init__(self, message: str, *, code: str | None = None, bounced: bool = False) -> None:
        super().__init__(message, code=code)
        self.bounced = bounced


class CircuitOpenError(TransientDeliveryError):
    """The provider's circuit is open; nothing was sent. `retry_after` is when a probe is allowed."""

    def __init__(self, provider: str, retry_after: float) -> None:
        super().__init__(
            f"circuit open for {provider}; next probe in {retry_after:.1f}s",
            retry_after=retry_after,
            counts_for_circuit=False,
        )
        self.provider = provider


class ClaimLost(DispatchError):
    """Another worker took over this action while we were sending (our lease expired)."""


class Stopping(DispatchError):
    """The worker is shutting down; the action is left for the next worker (nothing was sent)."""
