"""The pure interpreter core: journeys in, per-user steps out. Never imports Flink.

Public API: `Interpreter` (on_event / on_timer / next_wakeup), `Step` and its effects,
`Guardrails`, the plugin registry, and the exception tree.
"""

from operators.core.effects import Erasure, ProfileUpdate, Step
from operators.core.errors import (
    BadTimezone,
    ConfigurationError,
    InterpreterError,
    RuntimeStepError,
    StepLimitExceeded,
    UnknownNodeKind,
)
from operators.core.guardrails import ConsentRule, Guardrails
from operators.core.interpreter import SUPPRESSION_UPDATED, Interpreter, to_dt, to_ms
from operators.core.plugins import (
    ActionDraft,
    ActionPlugin,
    DefaultActionPlugin,
    PluginRegistry,
    default_plugins,
    register_action_plugin,
)

__all__ = [
    "SUPPRESSION_UPDATED",
    "ActionDraft",
    "ActionPlugin",
    "BadTimezone",
    "ConfigurationError",
    "ConsentRule",
    "DefaultActionPlugin",
    "Erasure",
    "Guardrails",
    "Interpreter",
    "InterpreterError",
    "PluginRegistry",
    "ProfileUpdate",
    "RuntimeStepError",
    "Step",
    "StepLimitExceeded",
    "UnknownNodeKind",
    "default_plugins",
    "register_action_plugin",
    "to_dt",
    "to_ms",
]
