"""Conditions: `all` / `any` / `not` trees over leaves `{field, op, value}`.

Field paths are parsed once, when the journey loads, into a `FieldPath` (root + path, or the
counter's event type + window), so the interpreter never splits strings per event.

- `event.<type|event_id|user_id|ts|props|context|traits>[.…]` — the event being processed
- `profile.<trait>[.…]` — the user's profile (traits from `identify` and events)
- `counters.<event type>.<window>` — the user's events of that type in the rolling window;
  event types contain dots, the window is the last segment (`counters.order.completed.1h`)
- `journey.<field>[.…]` — the journey instance (e.g. `journey.entry`, `journey.variant`)
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    Tag,
    WithJsonSchema,
    model_validator,
)

from jobs.spec.durations import format_duration, parse_duration

FieldRoot = Literal["event", "profile", "counters", "journey"]
ROOTS: tuple[str, ...] = ("event", "profile", "counters", "journey")
#: The longest counter window per-user state keeps; longer ones would grow every user's state
#: without a useful bound (a bucketed counter keeps slices of its longest window).
MAX_COUNTER_WINDOW = timedelta(days=90)
EVENT_FIELDS: tuple[str, ...] = ("type", "event_id", "user_id", "ts", "props", "context", "traits")


class CounterRef(BaseModel):
    """A per-user rolling counter: events of `event_type` in the last `window`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: str
    window: timedelta


class FieldPath(BaseModel):
    """A parsed field path. `path` holds the segments after the root (empty for counters)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    raw: str
    root: FieldRoot
    path: tuple[str, ...] = ()
    counter: CounterRef | None = None

    def __str__(self) -> str:
        return self.raw


def parse_field_path(text: str) -> FieldPath:
    """Parse a field path; raise ValueError naming what is wrong (with a suggestion when close)."""
    if isinstance(text, FieldPath):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{text!r} is not a field path (e.g. event.props.cart_value, profile.plan)")
    parts = text.strip().split(".")
    if any(not p for p in parts):
        raise ValueError(f"field path {text!r} has an empty segment")
    root, rest = parts[0], tuple(parts[1:])
    if root not in ROOTS:
        raise ValueError(f"field path {text!r} must start with one of {', '.join(ROOTS)}{_suggest(root, ROOTS)}")
    if not rest:
        raise ValueError(f"field path {text!r} needs a field after {root!r}")
    if root == "counters":
        if len(rest) < 2:
            raise ValueError(
                f"counter {text!r} must be counters.<event type>.<window>, e.g. counters.order.completed.1h"
            )
        try:
            window = parse_duration(rest[-1])
        except ValueError:
            raise ValueError(
                f"counter {text!r}: the last segment {rest[-1]!r} must be a window such as 1h, 7d or 30d "
                "(counters.<event type>.<window>)"
            ) from None
        if window > MAX_COUNTER_WINDOW:
            raise ValueError(
                f"counter {text!r}: window {rest[-1]} is longer than the "
                f"{format_duration(MAX_COUNTER_WINDOW)} that per-user counters keep"
            )
        counter = CounterRef(event_type=".".join(rest[:-1]), window=window)
        return FieldPath(raw=text.strip(), root="counters", counter=counter)
    if root == "event" and rest[0] not in EVENT_FIELDS:
        raise ValueError(
            f"field path {text!r}: an event has no field {rest[0]!r}{_suggest(rest[0], EVENT_FIELDS)}; "
            f"use one of {', '.join(EVENT_FIELDS)} (event properties live under event.props)"
        )
    return FieldPath(raw=text.strip(), root=root, path=rest)  # type: ignore[arg-type]


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


FieldRef = Annotated[
    FieldPath,
    PlainValidator(parse_field_path),
    PlainSerializer(lambda f: f.raw, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["event.props.cart_value", "counters.order.completed.1h"]}),
]


class Op(StrEnum):
    """Comparison operators of a condition leaf."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"


UNARY_OPS = frozenset({Op.EXISTS, Op.NOT_EXISTS})
LIST_OPS = frozenset({Op.IN, Op.NOT_IN})

Scalar = str | int | float | bool | None
Value = Scalar | list[Scalar]


class Leaf(BaseModel):
    """`{field, op, value}`: compare one field; `exists`/`not_exists` take no value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: FieldRef
    op: Op
    value: Value = None

    @model_validator(mode="before")
    @classmethod
    def _check_value(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        op = data.get("op")
        if not isinstance(op, str):
            return data
        if op in {o.value for o in UNARY_OPS}:
            if data.get("value") is not None:
                raise ValueError(f"op {op!r} takes no value")
        elif op in {o.value for o in LIST_OPS}:
            if not isinstance(data.get("value"), list):
                raise ValueError(f"op {op!r} needs a list value, e.g. value: [a, b]")
        elif op in {o.value for o in Op} and "value" not in data:
            raise ValueError(f"op {op!r} needs a value")
        return data

    def leaves(self) -> list[Leaf]:
        """This leaf, as a one-element list (see `Condition` trees)."""
        return [self]


class AllOf(BaseModel):
    """True when every sub-condition is true (an empty list is true)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    all: list[Condition]

    def leaves(self) -> list[Leaf]:
        """Every leaf under this node, in order."""
        return [leaf for c in self.all for leaf in c.leaves()]


class AnyOf(BaseModel):
    """True when at least one sub-condition is true (an empty list is false)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    any: list[Condition]

    def leaves(self) -> list[Leaf]:
        """Every leaf under this node, in order."""
        return [leaf for c in self.any for leaf in c.leaves()]


class NotOf(BaseModel):
    """Negates its sub-condition. Written `{not: …}`; the attribute is `not_`."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, serialize_by_alias=True)

    not_: Condition = Field(alias="not")

    def leaves(self) -> list[Leaf]:
        """Every leaf under this node, in order."""
        return self.not_.leaves()


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return {AllOf: "all", AnyOf: "any", NotOf: "not", Leaf: "leaf"}.get(type(value))
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "leaf"
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[Leaf, Tag("leaf")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message="a condition is {all: [...]}, {any: [...]}, {not: ...} or {field, op, value}",
    ),
]
"""A condition tree; every node has `.leaves()` to list its `Leaf`s (e.g. for the counters used)."""

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


def counters_in(condition: Condition | None) -> list[CounterRef]:
    """The counters a condition reads, in order of appearance."""
    if condition is None:
        return []
    return [leaf.field.counter for leaf in condition.leaves() if leaf.field.counter is not None]


def format_condition(condition: Condition) -> str:
    """A one-line human reading of a condition, for `--explain` and logs."""
    if isinstance(condition, AllOf):
        return "(" + " and ".join(format_condition(c) for c in condition.all) + ")" if condition.all else "true"
    if isinstance(condition, AnyOf):
        return "(" + " or ".join(format_condition(c) for c in condition.any) + ")" if condition.any else "false"
    if isinstance(condition, NotOf):
        return f"not {format_condition(condition.not_)}"
    field = condition.field.raw
    if condition.field.counter is not None:
        c = condition.field.counter
        field = f"count({c.event_type} in {format_duration(c.window)})"
    if condition.op in UNARY_OPS:
        return f"{field} {condition.op.value.replace('_', ' ')}"
    return f"{field} {condition.op.value} {condition.value!r}"
