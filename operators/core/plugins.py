"""Action plugins: how a node kind turns into an action record, without touching the core.

Every action-producing node (built-in `message`, `webhook`, `feature_flag`, and any plugin kind
registered with `jobs.spec.nodes.register_node_kind`) is reduced once, when the interpreter is
built, to an `ActionDraft`: the channel, template, parameters and which guardrails apply. The
interpreter then runs every draft through the same pipeline (holdout, schedule window, and for
messages suppression list, quiet hours, consent, address, caps) and emits an `ActionRecord`.

A connector adds a kind in two steps:

```python
@register_node_kind
class WhatsAppNode(ActionNode):
    type: Literal["whatsapp"]
    template: str

class WhatsAppPlugin:
    def draft(self, node):
        return ActionDraft(channel="whatsapp", template=node.template, is_message=True,
                           category="marketing", address_trait="phone")

register_action_plugin("whatsapp", WhatsAppPlugin())
```

Kinds derived from `ActionNode` that register no plugin get `DefaultActionPlugin`: an action on
`actions.<node.action_channel()>` with the node's fields as `params`, no address and no consent
(like a webhook).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from jobs.spec.nodes import ActionNode, NodeBase, Priority

#: The profile trait holding each channel's address; channels not listed need none.
ADDRESS_TRAITS: dict[str, str] = {"email": "email", "sms": "phone", "push": "push_token"}


@dataclass(frozen=True, slots=True)
class ActionDraft:
    """The static part of an action, computed once per node.

    `is_message`: the action contacts the user, so the suppression list, consent
    (`channel`/`category`), the address and, unless transactional, caps and quiet hours apply.
    """

    channel: str
    template: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    is_message: bool = False
    category: str = Priority.MARKETING.value
    priority: Priority = Priority.MARKETING
    address_trait: str | None = None

    @property
    def transactional(self) -> bool:
        """Whether the draft bypasses caps and quiet hours (never consent)."""
        return self.priority is Priority.TRANSACTIONAL


@runtime_checkable
class ActionPlugin(Protocol):
    """Builds the draft of one node of a plugin kind (called once per node, at build time)."""

    def draft(self, node: NodeBase) -> ActionDraft:
        """The action this node emits."""
        ...


class DefaultActionPlugin:
    """For `ActionNode` kinds without a plugin: the node's fields as `params`, no guardrails."""

    def draft(self, node: NodeBase) -> ActionDraft:
        """An action on the node's channel carrying its parameters."""
        if not isinstance(node, ActionNode):
            raise TypeError(f"node kind {node.type!r} is not an ActionNode and has no plugin")
        return ActionDraft(channel=node.action_channel(), params=node.action_params())


class PluginRegistry(Mapping[str, ActionPlugin]):
    """Node kind -> `ActionPlugin`. The interpreter takes one (the module's default if none given)."""

    def __init__(self, plugins: Mapping[str, ActionPlugin] | None = None) -> None:
        self._plugins: dict[str, ActionPlugin] = dict(plugins or {})

    def register(self, kind: str, plugin: ActionPlugin, *, replace: bool = False) -> None:
        """Add the plugin for `kind`; a taken kind is an error unless `replace`."""
        if not isinstance(plugin, ActionPlugin):
            raise TypeError(f"plugin for {kind!r} must have a draft(node) method")
        if kind in self._plugins and self._plugins[kind] is not plugin and not replace:
            raise ValueError(f"an action plugin for node kind {kind!r} is already registered")
        self._plugins[kind] = plugin

    def unregister(self, kind: str) -> None:
        """Remove the plugin for `kind`, if any."""
        self._plugins.pop(kind, None)

    def __getitem__(self, kind: str) -> ActionPlugin:
        return self._plugins[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._plugins)

    def __len__(self) -> int:
        return len(self._plugins)


default_plugins = PluginRegistry()
"""The registry connectors add to at import time; used when the interpreter is given none."""


def register_action_plugin(kind: str, plugin: ActionPlugin, *, replace: bool = False) -> None:
    """Register `plugin` for node kind `kind` in the default registry."""
    default_plugins.register(kind, plugin, replace=replace)
