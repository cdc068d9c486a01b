"""Node kinds of a journey graph, and the registry that lets plugins add action kinds.

Built-in kinds: `wait`, `wait_until`, `wait_for`, `branch`, `split`, `message`, `webhook`,
`update_profile`, `feature_flag`, `exit`. A connector package adds its own action kind with
`register_node_kind(MyNode)`, where `MyNode` subclasses `ActionNode` and declares
`type: Literal["my_kind"]`; journeys then parse it like a built-in, the JSON schema lists it,
and the interpreter emits it as an action record on `actions.<channel>` (see `ActionNode`).

Every node names its successors through `edges()`, so validation and the compiler walk the
graph without knowing each kind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from jobs.spec.conditions import Condition, Scalar
from jobs.spec.durations import ALL_WEEKDAYS, Duration, LocalTime, TimeZoneOrUser, Weekday

NodeId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^:\s]+$")]
"""A node id: any text without spaces or `:` (the `:` separates parts of an action_id)."""


class Channel(StrEnum):
    """Message channels with templates and dispatchers of their own."""

    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    IN_APP = "in_app"
    SLACK = "slack"
    WEBHOOK = "webhook"


class Priority(StrEnum):
    """`transactional` bypasses caps and quiet hours (never consent) and does not count to caps."""

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


class NodeBase(BaseModel):
    """Common base of every node kind: frozen, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    #: True for kinds that hold the user until time passes or an event arrives; a cycle in the
    #: graph must pass through one of these.
    is_wait: ClassVar[bool] = False

    def edges(self) -> list[tuple[str, str]]:
        """Outgoing edges as (label, target node id), in the order they are written."""
        return []

    def successors(self) -> list[str]:
        """Target node ids of `edges()`, without duplicates, in order."""
        return list(dict.fromkeys(target for _, target in self.edges()))


class WaitNode(NodeBase):
    """Hold the user for a fixed duration, then go to `next`."""

    type: Literal["wait"]
    is_wait: ClassVar[bool] = True
    duration: Duration
    next: NodeId

    def edges(self) -> list[tuple[str, str]]:
        return [("next", self.next)]


class WaitUntilNode(NodeBase):
    """Hold the user until the next local time `at` on one of `days` (in `tz`), then `next`.

    Always waits for the next matching time, never exits because it has passed.
    """

    type: Literal["wait_until"]
    is_wait: ClassVar[bool] = True
    at: LocalTime
    days: tuple[Weekday, ...] = Field(default=ALL_WEEKDAYS, min_length=1)
    tz: TimeZoneOrUser = "user"
    next: NodeId

    def edges(self) -> list[tuple[str, str]]:
        return [("next", self.next)]


class WaitForNode(NodeBase):
    """Wait for an event of type `event` (matching `match` and `where`) up to `timeout`.

    `match` compares event properties for equality; the key `node` is shorthand for a
    `message.*` event about this journey's node of that id (`props.node_id` and
    `props.journey_id`, same instance). Routes to `on_event` on the first match, else
    `on_timeout`.
    """

    type: Literal["wait_for"]
    is_wait: ClassVar[bool] = True
    event: str = Field(min_length=1)
    match: dict[str, Scalar] = Field(default_factory=dict)
    where: Condition | None = None
    timeout: Duration
    on_event: NodeId
    on_timeout: NodeId

    def edges(self) -> list[tuple[str, str]]:
        return [("on_event", self.on_event), ("on_timeout", self.on_timeout)]


class Case(BaseModel):
    """One case of a branch: the first case whose `when` holds is taken."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    when: Condition
    next: NodeId
    name: str | None = None


class BranchNode(NodeBase):
    """Ordered cases over event, profile, counter and journey fields; `default` when none holds."""

    type: Literal["branch"]
    cases: list[Case] = Field(min_length=1)
    default: NodeId

    def edges(self) -> list[tuple[str, str]]:
        return [(c.name or f"case {i + 1}", c.next) for i, c in enumerate(self.cases)] + [("default", self.default)]


class Variant(BaseModel):
    """One arm of a split; users are assigned by hash of user and node, proportional to weight."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    weight: float = Field(gt=0)
    next: NodeId


class SplitNode(NodeBase):
    """Weighted A/B split, deterministic per user (hash of user id, journey and node id)."""

    type: Literal["split"]
    variants: list[Variant] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> SplitNode:
        names = [v.name for v in self.variants]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"variant names must be unique; repeated: {', '.join(dupes)}")
        return self

    def edges(self) -> list[tuple[str, str]]:
        return [(f"variant {v.name}", v.next) for v in self.variants]


class Fallback(BaseModel):
    """Where a message goes when the first channel fails, bounces, or cannot be used."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Channel
    template: str = Field(min_length=1)


class MessageNode(NodeBase):
    """Send a templated message on a channel, subject to consent, caps and quiet hours.

    `category` is the consent category; when omitted it is the priority's name.
    """

    type: Literal["message"]
    channel: Channel
    template: str = Field(min_length=1)
    category: str = Field(default=Priority.MARKETING.value, min_length=1)
    priority: Priority = Priority.MARKETING
    fallback: Fallback | None = None
    fallback_window: Duration = Field(default_factory=lambda: _ONE_DAY)
    next: NodeId

    @model_validator(mode="before")
    @classmethod
    def _default_category(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("category"):
            data = {**data, "category": data.get("priority") or Priority.MARKETING.value}
        return data

    def edges(self) -> list[tuple[str, str]]:
        return [("next", self.next)]


class WebhookNode(NodeBase):
    """Call an HTTP endpoint: either a `webhook` template, or an inline request (`url` …)."""

    type: Literal["webhook"]
    template: str | None = None
    url: str | None = None
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | dict[str, Any] | None = None
    next: NodeId

    @model_validator(mode="after")
    def _template_or_url(self) -> WebhookNode:
        if (self.template is None) == (self.url is None):
            raise ValueError("a webhook node needs exactly one of 'template' or 'url'")
        return self

    def edges(self) -> list[tuple[str, str]]:
        return [("next", self.next)]


class UpdateProfileNode(NodeBase):
    """Change the user's profile: `set` traits, `unset` traits, `increment` numeric traits."""

    type: Literal["update_profile"]
    set: dict[str, Any] = Field(default_factory=dict)
    unset: list[str] = Field(default_factory=list)
    increment: dict[str, float] = Field(default_factory=dict)
    next: NodeId

    @model_validator(mode="after")
    def _not_empty(self) -> UpdateProfileNode:
        if not (self.set or self.unset or self.increment):
            raise ValueError("an update_profile node needs at least one of 'set', 'unset', 'increment'")
        return self

    def edges(self) -> list[tuple[str, str]]:
        return [("next", self.next)]


class FeatureFlagNode(NodeBase):
    """Set a feature flag for the user (through the flags dispatcher)."""

    type: Literal["feature_flag"]
    flag: str = Field(min_length=1)
    value: Scalar = True
    next: NodeId

    def edges(self) -> list[tuple[str, str]]:
        return [("next", self.next)]


class ExitNode(NodeBase):
    """The user leaves the journey here."""

    type: Literal["exit"]
    reason: str | None = None


class ActionNode(NodeBase):
    """Base of plugin action kinds: an action with parameters, then `next`.

    The interpreter emits an action record on `actions.<channel>` (`channel` defaults to the
    kind's `type`) whose `params` are the node's own fields (all but `type` and `next`).
    """

    #: Action topic suffix; None means the kind's `type`.
    channel: ClassVar[str | None] = None
    next: NodeId

    def edges(self) -> list[tuple[str, str]]:
        return [("next", self.next)]

    def action_channel(self) -> str:
        """The channel (topic suffix) this action is emitted on."""
        return self.channel or self.type

    def action_params(self) -> dict[str, Any]:
        """The node's parameters as JSON-ready data, for the action record."""
        return self.model_dump(mode="json", exclude={"type", "next"})


_ONE_DAY = timedelta(days=1)

BUILTIN_NODE_KINDS: tuple[type[NodeBase], ...] = (
    WaitNode,
    WaitUntilNode,
    WaitForNode,
    BranchNode,
    SplitNode,
    MessageNode,
    WebhookNode,
    UpdateProfileNode,
    FeatureFlagNode,
    ExitNode,
)

_registry: dict[str, type[NodeBase]] = {}
_on_change: list[Callable[[], None]] = []
_adapter: TypeAdapter[Any] | None = None


def _kind_of(model: type[NodeBase]) -> str:
    annotation = model.model_fields["type"].annotation
    args = getattr(annotation, "__args__", ())
    if getattr(annotation, "__origin__", None) is not Literal or len(args) != 1 or not isinstance(args[0], str):
        raise TypeError(f"{model.__name__}.type must be declared as Literal['<kind>']")
    return args[0]


def register_node_kind(model: type[NodeBase], *, replace: bool = False) -> type[NodeBase]:
    """Add a node kind (usually an `ActionNode` subclass) to the language; usable as a decorator.

    Journeys parse it like a built-in kind and `Journey.model_json_schema()` lists it. A kind
    name that is already taken is an error unless `replace=True`. Models defined elsewhere
    that embed `Journey` must be rebuilt after registration (`Model.model_rebuild(force=True)`);
    `on_node_kinds_changed` lets them hook in.
    """
    if not (isinstance(model, type) and issubclass(model, NodeBase)):
        raise TypeError("a node kind must be a subclass of jobs.spec.nodes.NodeBase (usually ActionNode)")
    kind = _kind_of(model)
    if kind in _registry and _registry[kind] is not model and not replace:
        raise ValueError(f"node kind {kind!r} is already registered by {_registry[kind].__name__}")
    if model.model_config.get("extra") != "forbid":
        raise TypeError(f"node kind {kind!r} must forbid unknown fields (model_config extra='forbid')")
    _registry[kind] = model
    _changed()
    return model


def unregister_node_kind(kind: str) -> None:
    """Remove a plugin kind (built-ins stay); mostly for tests."""
    if any(_kind_of(m) == kind for m in BUILTIN_NODE_KINDS):
        raise ValueError(f"{kind!r} is a built-in node kind")
    if _registry.pop(kind, None) is not None:
        _changed()


def on_node_kinds_changed(callback: Callable[[], None]) -> None:
    """Call `callback` whenever a node kind is registered or removed (to rebuild models)."""
    _on_change.append(callback)


def _changed() -> None:
    global _adapter
    _adapter = None
    for callback in _on_change:
        callback()


def node_kinds() -> dict[str, type[NodeBase]]:
    """Every node kind the language knows now (built-ins, then plugins), by `type`."""
    return dict(_registry)


def node_union() -> Any:
    """The discriminated union of every registered kind (a type usable in annotations)."""
    models = tuple(_registry.values())
    return Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007 — built at runtime


def parse_node(data: Any) -> NodeBase:
    """Parse one node (a mapping with `type`) through the registry; raises pydantic ValidationError."""
    global _adapter
    if _adapter is None:
        _adapter = TypeAdapter(node_union())
    return _adapter.validate_python(data)


class Node:
    """Annotation for "any registered node kind", resolved when a model's schema is built.

    `dict[str, Node]` in a model validates through the registry's discriminated union and
    serializes each node as its own kind.
    """

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        return handler.generate_schema(node_union())


for _builtin in BUILTIN_NODE_KINDS:
    _registry[_kind_of(_builtin)] = _builtin

WAIT_KINDS = frozenset(_kind_of(m) for m in BUILTIN_NODE_KINDS if m.is_wait)
