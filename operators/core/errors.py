"""The interpreter's exception tree.

Everything the core raises on purpose derives from `InterpreterError`, so the Flink adapter can
catch one type, emit an `error` outcome and keep the operator alive.
"""

from __future__ import annotations

from jobs.errors import JourneysError


class InterpreterError(JourneysError):
    """Base of every error the interpreter core raises on purpose."""


class ConfigurationError(InterpreterError):
    """The journeys, guardrails or plugins handed to the interpreter cannot run as given."""


class UnknownNodeKind(ConfigurationError):
    """A node kind has no built-in handler and no registered plugin."""

    def __init__(self, journey_id: str, node_id: str, kind: str) -> None:
        super().__init__(
            f"journey {journey_id}, node {node_id}: no handler for node kind {kind!r} "
            "(is the connector plugin that provides it registered?)"
        )
        self.journey_id = journey_id
        self.node_id = node_id
        self.kind = kind


class BadTimezone(ConfigurationError):
    """A timezone name that the tz database does not know."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown timezone {name!r}")
        self.name = name


class RuntimeStepError(InterpreterError):
    """A step failed for one user; the adapter reports it as an `error` outcome."""


class StepLimitExceeded(RuntimeStepError):
    """A journey ran more nodes in one step than the limit allows (a cycle without a wait)."""
