"""The channel plugin interface (stable, versioned): how a channel turns an action into a delivery.

A channel is a `ChannelPlugin`: a name (the `actions.<name>` topic it serves), optionally a
template model, a settings model and the profile trait holding its address, and a factory for
`ChannelAdapter`s. An adapter does one thing: `deliver(message, commit)` sends one rendered action
through the provider and returns a `DeliveryResult`, or raises `TransientDeliveryError` (retry
later) or `PermanentDeliveryError` (dead-letter now; `bounced=True` for a bad address). It must
call `commit()` immediately before the step that cannot be undone (writing the request, the final
`.` of SMTP DATA): that is what makes a crash mid-send never produce a duplicate. Everything else
(de-duplication, consent, rate limits, retries, circuit breaking, dead letters, delivery records,
feedback events) is the worker's.

Third-party channels are packages of their own that expose a `ChannelPlugin` subclass (or an
instance, or a zero-argument factory returning one) in the entry-point group `journeys.channels`:

```toml
[project.entry-points."journeys.channels"]
postcard = "journeys_postcard:PostcardPlugin"
```

Versioning: `PLUGIN_API_VERSION` is bumped only for incompatible changes to these classes; new
optional attributes with defaults keep it. A plugin states the version it was written for
(`api_version`), and a worker refuses a plugin whose version it does not support, naming both.
The worker creates one adapter per sender thread, so adapters need not be thread-safe.
"""

from __future__ import annotations

import logging
import socket
from abc import ABC, abstractmethod
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol

import redis
from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.dispatch.keys import redis_client
from connectors.dispatch.render import RenderedMessage, TemplateRenderer
from connectors.errors import ChannelConfigError, PluginError
from jobs.settings import Settings
from jobs.spec.records import ActionRecord, DeliveryStatus
from jobs.spec.template import TemplateBase

PLUGIN_API_VERSION = 1
SUPPORTED_API_VERSIONS: frozenset[int] = frozenset({1})
ENTRY_POINT_GROUP = "journeys.channels"

log = logging.getLogger(__name__)

class Commit(Protocol):
    """Called by an adapter right before the irreversible step of a send.

    An adapter whose irreversible step is one small socket write (the final `.` of SMTP DATA) passes
    it as `then_send=(sock, data)`: the commit mark and that write then leave back to back in two
    system calls with no other thread running in between, so a crash can fall between them only in
    that instant (called bare, other threads may run for milliseconds before the adapter's write).
    """

    def __call__(self, then_send: tuple[socket.socket, bytes] | None = None) -> None: ...


class DeliveryResult(BaseModel):
    """A successful send: `delivered` when the provider took final responsibility (an SMTP relay,
    an inbox write, a 2xx from a webhook), `sent` when a later report will say (SMS, push)."""

    model_config = ConfigDict(frozen=True)

    status: DeliveryStatus = DeliveryStatus.DELIVERED
    provider_id: str | None = None
    detail: str | None = None


class OutgoingMessage(BaseModel):
    """One action ready to send: the record, its rendered template (None for template-less
    actions such as inline webhooks and flags), and the attempt number (1-based)."""

    model_config = ConfigDict(frozen=True)

    action: ActionRecord
    content: RenderedMessage | None = None
    attempt: int = 1

    @property
    def idempotency_key(self) -> str:
        """What providers get as their idempotency key: the deterministic `action_id`."""
        return self.action.action_id

    def address(self, trait: str) -> str | None:
        """The recipient's address from the action's `to`, else from the profile in `vars`."""
        value = self.action.to.get(trait)
        if value:
            return value
        profile = self.action.vars.get("profile")
        found = profile.get(trait) if isinstance(profile, dict) else None
        return str(found) if found else None


class AdapterContext(BaseModel):
    """What an adapter gets when it is created."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    channel: str
    settings: Settings
    #: The plugin's own settings (`dispatch.plugins.<channel>`), validated by its `settings_model`.
    plugin_settings: BaseModel | None = None
    renderer: TemplateRenderer
    worker_id: str = "worker"

    def redis(self) -> redis.Redis:
        """A new Redis client for this adapter."""
        return redis_client(self.settings)


class ChannelAdapter(ABC):
    """Sends actions of one channel through one provider connection (one per sender thread)."""

    @abstractmethod
    def deliver(self, message: OutgoingMessage, commit: Commit) -> DeliveryResult:
        """Send one message; call `commit()` right before the irreversible step.

        Raise TransientDeliveryError or PermanentDeliveryError on failure; messages must hold no
        secrets (mask addresses with `connectors.dispatch.masking`).
        """

    def circuit_key(self, message: OutgoingMessage) -> str:
        """Which provider a message goes to, for circuit breaking: "" (the default) means the
        channel's one provider; adapters reaching many (webhooks) name the host."""
        return ""

    def close(self) -> None:
        """Release connections (called once when the worker stops)."""


class ChannelPlugin(ABC):
    """A delivery channel. Subclass it and set the class attributes; see the module doc."""

    #: The interface version the plugin was written for.
    api_version: ClassVar[int] = PLUGIN_API_VERSION
    #: The channel name: the worker consumes `actions.<name>`.
    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: The model of this channel's templates (`channel: <name>` in `templates/*.yaml`), if any.
    template_model: ClassVar[type[TemplateBase] | None] = None
    #: The model of `dispatch.plugins.<name>` settings, if the plugin has settings.
    settings_model: ClassVar[type[BaseModel] | None] = None
    #: The profile trait holding the address (`email`, `phone`, …); None if none is needed.
    address_trait: ClassVar[str | None] = None
    #: Whether consent (per channel and category) is checked before sending; the user
    #: suppression list always is. True for channels that contact the user.
    checks_consent: ClassVar[bool] = True
    #: True if the provider de-duplicates on the idempotency key, so a send whose outcome is
    #: unknown (the worker died mid-send, a timeout) may safely be repeated.
    idempotent: ClassVar[bool] = False

    def plugin_settings(self, settings: Settings) -> BaseModel | None:
        """This plugin's settings, validated; raises ChannelConfigError."""
        if self.settings_model is None:
            return None
        raw = settings.dispatch.plugins.get(self.name, {})
        try:
            return self.settings_model.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ChannelConfigError(f"dispatch.plugins.{self.name}: {problems}") from None

    def check(self, context: AdapterContext) -> None:
        """Raise ChannelConfigError if the channel cannot run with these settings (no credentials…)."""

    def template_variables(self, action: ActionRecord, settings: Settings) -> dict[str, Any]:
        """Extra variables this channel's templates may use (e.g. email's `unsubscribe_url`)."""
        return {}

    @abstractmethod
    def create_adapter(self, context: AdapterContext) -> ChannelAdapter:
        """A new adapter (the worker makes one per sender thread)."""


def _instantiate(name: str, target: Any) -> ChannelPlugin:
    if isinstance(target, type) and issubclass(target, ChannelPlugin):
        plugin = target()
    elif isinstance(target, ChannelPlugin):
        plugin = target
    elif callable(target):
        plugin = target()
    else:
        plugin = target
    if not isinstance(plugin, ChannelPlugin):
        raise PluginError(f"channel plugin {name!r} is not a journeys ChannelPlugin (got {type(plugin).__name__})")
    version = getattr(plugin, "api_version", None)
    if version not in SUPPORTED_API_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_API_VERSIONS))
        raise PluginError(
            f"channel plugin {name!r} was written for plugin API version {version}; "
            f"this journeys supports version {supported}"
        )
    if not getattr(plugin, "name", None):
        raise PluginError(f"channel plugin {name!r} has no channel name")
    return plugin


def load_channel_plugins(*, include_entry_points: bool = True) -> dict[str, ChannelPlugin]:
    """Every channel: the built-ins, then plugins from the `journeys.channels` entry points.

    A plugin may not take a built-in channel's name. Raises PluginError for a broken plugin.
    """
    from connectors.dispatch.channels import builtin_plugins

    plugins: dict[str, ChannelPlugin] = {p.name: p for p in builtin_plugins()}
    if not include_entry_points:
        return plugins
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            target = ep.load()
        except Exception as exc:  # any import failure of third-party code is reported the same way
            raise PluginError(f"cannot load channel plugin {ep.name!r} ({ep.value}): {exc}") from exc
        plugin = _instantiate(ep.name, target)
        if plugin.name in plugins and type(plugins[plugin.name]) is not type(plugin):
            raise PluginError(f"channel plugin {ep.name!r} wants channel {plugin.name!r}, which is taken")
        plugins[plugin.name] = plugin
        log.debug("channel plugin %s loaded from %s", plugin.name, ep.value)
    return plugins
