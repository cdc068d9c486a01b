"""Conditions compiled once into plain Python closures.

A journey's `where` / `when` trees are turned into `Predicate`s when the interpreter is built, so
evaluating one per event is a few attribute reads and comparisons: no string splitting, no
pydantic, no dispatch on the operator.

What each root means at evaluation time:

* `event.*` — in an entry `where`, goal, `exit_on` or `wait_for` filter: the event being
  processed. In a branch: the instance's entry (trigger) event, the same one templates see as
  `event`; of it, `type`, `props`, `ts` (entry time) and `user_id` are kept, `context`,
  `traits` and `event_id` read as missing.
* `profile.*` — the user's profile now.
* `counters.<type>.<window>` — the user's events of that type in the window ending now,
  including the event being processed.
* `journey.*` — the instance: `id`, `version`, `entry`, `node`, `entered_at`, `holdout`,
  `variant` (its variant at the journey's first split), `variants.<split node id>`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jobs.spec.conditions import AllOf, AnyOf, Condition, FieldPath, Leaf, NotOf, Op
from state import counters as ctr
from state.record import Instance, UserState

if TYPE_CHECKING:
    from jobs.spec.records import Event

Getter = Callable[["EvalContext"], Any]
Predicate = Callable[["EvalContext"], bool]


class EvalContext:
    """What a condition can see. Built once per evaluation site and reused (slots, no copies)."""

    __slots__ = ("event", "event_type", "inst", "journey", "now_ms", "props", "state", "user_id")

    def __init__(
        self,
        state: UserState,
        user_id: str,
        now_ms: int,
        event: Event | None,
        event_type: str,
        props: dict[str, Any],
        inst: Instance | None = None,
        journey: Any = None,
    ) -> None:
        self.state = state
        self.user_id = user_id
        self.now_ms = now_ms
        self.event = event
        self.event_type = event_type
        self.props = props
        self.inst = inst
        self.journey = journey  # the CompiledJourney of `inst` (for `journey.variant`)


def dig(value: Any, path: tuple[str, ...]) -> Any:
    """Follow `path` through nested mappings (and list indexes); None when any step is missing."""
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.lstrip("-").isdigit():
            i = int(key)
            value = value[i] if -len(value) <= i < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


def compile_getter(field: FieldPath) -> Getter:
    """A closure reading `field` from an `EvalContext`."""
    path = field.path
    if field.root == "profile":
        return lambda c: dig(c.state.profile, path)
    if field.root == "counters":
        ref = field.counter
        assert ref is not None  # the parser sets it for every counters.* path
        window = int(ref.window.total_seconds() * 1000)
        key = ctr.counter_key(ref.event_type, window)
        return lambda c: ctr.count(c.state.counters.get(key) or [], c.now_ms, window)
    if field.root == "event":
        return _event_getter(path)
    return _journey_getter(path)


def _event_getter(path: tuple[str, ...]) -> Getter:
    head, rest = path[0], path[1:]
    if head == "props":
        return lambda c: dig(c.props, rest)
    if head == "type":
        return lambda c: c.event_type
    if head == "user_id":
        return lambda c: c.user_id
    if head == "ts":
        def ts(c: EvalContext) -> Any:
            if c.event is not None:
                return c.event.ts.isoformat()
            return _iso(c.inst.entered_at) if c.inst is not None else None

        return ts
    if head == "event_id":
        return lambda c: c.event.event_id if c.event is not None else None
    if head == "context":
        return lambda c: dig(c.event.context.model_dump(), rest) if c.event is not None else None
    if head == "traits":
        return lambda c: dig(c.event.traits, rest) if c.event is not None else None
    return lambda c: None


def _journey_getter(path: tuple[str, ...]) -> Getter:
    head, rest = path[0], path[1:]
    simple: dict[str, Callable[[Instance], Any]] = {
        "entry": lambda i: i.entry,
        "version": lambda i: i.version,
        "node": lambda i: i.node,
        "holdout": lambda i: i.holdout,
        "entered_at": lambda i: _iso(i.entered_at),
    }
    if head == "id":
        return lambda c: c.inst.journey_id if c.inst is not None else None
    if head in simple:
        read = simple[head]
        return lambda c: read(c.inst) if c.inst is not None else None
    if head == "variant":
        return lambda c: c.journey.variant_of(c.user_id, None) if c.journey is not None else None
    if head == "variants" and rest:
        node_id = rest[0]
        return lambda c: c.journey.variant_of(c.user_id, node_id) if c.journey is not None else None
    return lambda c: None


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _compare(op: Op, value: Any) -> Callable[[Any], bool]:
    # Comparisons between incomparable values (a string and a number, a missing field) are
    # false rather than errors: a marketer's condition never crashes a user's journey.
    if op is Op.EQ:
        return lambda x: x == value
    if op is Op.NE:
        return lambda x: x != value
    if op is Op.EXISTS:
        return lambda x: x is not None
    if op is Op.NOT_EXISTS:
        return lambda x: x is None
    if op in (Op.IN, Op.NOT_IN):
        options = tuple(value or ())
        if op is Op.IN:
            return lambda x: x is not None and x in options
        return lambda x: x not in options
    if op is Op.CONTAINS:
        def contains(x: Any) -> bool:
            if isinstance(x, str):
                return isinstance(value, str) and value in x
            if isinstance(x, list | tuple | dict | set):
                return value in x
            return False

        return contains
    order: dict[Op, Callable[[Any, Any], bool]] = {
        Op.GT: lambda a, b: a > b,
        Op.GTE: lambda a, b: a >= b,
        Op.LT: lambda a, b: a < b,
        Op.LTE: lambda a, b: a <= b,
    }
    cmp = order[op]

    def ordered(x: Any) -> bool:
        if x is None or isinstance(x, bool) != isinstance(value, bool):
            return False
        try:
            return bool(cmp(x, value))
        except TypeError:
            return False

    return ordered


def compile_condition(cond: Condition | None) -> Predicate:
    """A closure evaluating `cond`; None compiles to "always true"."""
    if cond is None:
        return lambda c: True
    if isinstance(cond, Leaf):
        get = compile_getter(cond.field)
        test = _compare(cond.op, cond.value)
        return lambda c: test(get(c))
    if isinstance(cond, AllOf):
        parts = tuple(compile_condition(p) for p in cond.all)
        return lambda c: all(p(c) for p in parts)
    if isinstance(cond, AnyOf):
        parts = tuple(compile_condition(p) for p in cond.any)
        return lambda c: any(p(c) for p in parts)
    if isinstance(cond, NotOf):
        inner = compile_condition(cond.not_)
        return lambda c: not inner(c)
    raise TypeError(f"not a condition: {cond!r}")
