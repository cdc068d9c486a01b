"""Journeys compiled for the interpreter: one `CompiledJourney` per journey version.

Everything that can be decided without a user is decided here, once: conditions become
closures, durations become milliseconds, timezones are resolved, action nodes become
`ActionDraft`s, goals and exits are indexed by event type, and the nodes that sit on a cycle are
known (their actions need a visit number to keep `action_id`s unique).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo

from jobs.spec.journey import Journey, QuietHours, QuietHoursMode, ReentryPolicy
from jobs.spec.nodes import (
    ActionNode,
    BranchNode,
    ExitNode,
    FeatureFlagNode,
    MessageNode,
    NodeBase,
    SplitNode,
    UpdateProfileNode,
    WaitForNode,
    WaitNode,
    WaitUntilNode,
    WebhookNode,
)
from jobs.spec.records import JOURNEY_TRIGGERED, SEGMENT_ENTERED
from operators.core.conditions import Predicate, compile_condition
from operators.core.errors import UnknownNodeKind
from operators.core.guardrails import Guardrails
from operators.core.hashing import pick_weighted, unit_interval
from operators.core.localtime import zone
from operators.core.plugins import ADDRESS_TRAITS, ActionDraft, ActionPlugin, DefaultActionPlugin
from state import counters as ctr

_DEFAULT_PLUGIN = DefaultActionPlugin()


def ms(td: object) -> int:
    """Milliseconds of a timedelta."""
    return int(td.total_seconds() * 1000)  # type: ignore[attr-defined]


# --- compiled nodes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CWait:
    """`wait`: rest for `duration_ms`, then `next`."""

    id: str
    duration_ms: int
    next: str
    kind: str = "wait"


@dataclass(frozen=True, slots=True)
class CWaitUntil:
    """`wait_until`: rest until the next local `at` on `days`; `tz` None means the user's zone."""

    id: str
    at: time
    days: frozenset[int]
    tz: ZoneInfo | None
    next: str
    kind: str = "wait_until"


@dataclass(frozen=True, slots=True)
class CWaitFor:
    """`wait_for`: rest until a matching event (`on_event`) or the timeout (`on_timeout`)."""

    id: str
    event_type: str
    match_node: str | None
    match_props: tuple[tuple[str, object], ...]
    where: Predicate
    timeout_ms: int
    on_event: str
    on_timeout: str
    kind: str = "wait_for"


@dataclass(frozen=True, slots=True)
class CBranch:
    """`branch`: the first case whose predicate holds, else `default`."""

    id: str
    cases: tuple[tuple[str, Predicate, str], ...]  # (label, predicate, next)
    default: str
    kind: str = "branch"


@dataclass(frozen=True, slots=True)
class CSplit:
    """`split`: a deterministic weighted choice per user."""

    id: str
    names: tuple[str, ...]
    weights: tuple[float, ...]
    nexts: tuple[str, ...]
    kind: str = "split"


@dataclass(frozen=True, slots=True)
class CAction:
    """Any action node (message, webhook, feature flag, plugin kinds), reduced to drafts."""

    id: str
    draft: ActionDraft
    fallback: ActionDraft | None
    fallback_window_ms: int
    next: str
    in_cycle: bool
    kind: str = "action"


@dataclass(frozen=True, slots=True)
class CUpdateProfile:
    """`update_profile`: change traits, then `next`."""

    id: str
    set: dict[str, object]
    unset: tuple[str, ...]
    increment: dict[str, float]
    next: str
    kind: str = "update_profile"


@dataclass(frozen=True, slots=True)
class CExit:
    """`exit`: the instance ends here."""

    id: str
    reason: str | None
    kind: str = "exit"


CNode = CWait | CWaitUntil | CWaitFor | CBranch | CSplit | CAction | CUpdateProfile | CExit


@dataclass(frozen=True, slots=True)
class CQuiet:
    """Quiet hours, resolved: `tz` None means the user's zone."""

    start: time
    end: time
    tz: ZoneInfo | None
    defer: bool


@dataclass(frozen=True, slots=True)
class CCap:
    """A cap: at most `max` sends on `channel` (None: any) in any window of `per_ms`."""

    channel: str | None
    max: int
    per_ms: int


@dataclass(frozen=True, slots=True)
class CGoal:
    """A goal on one event type."""

    where: Predicate
    exit: bool
    label: str


# --- compiled journey -----------------------------------------------------------------------


class CompiledJourney:
    """One journey version, ready to run. Shared by every user; never mutated after build."""

    def __init__(self, journey: Journey, guardrails: Guardrails, plugins: Mapping[str, ActionPlugin]) -> None:
        self.journey = journey
        self.id = journey.id
        self.version = journey.version
        # A journey that sets no tz defers to the global default (the model defaults to UTC).
        self.tz: ZoneInfo = zone(journey.tz if "tz" in journey.model_fields_set else guardrails.default_tz)

        entry = journey.entry
        self.trigger = entry.trigger
        self.entry_type: str | None = {
            "event": entry.event,
            "segment": SEGMENT_ENTERED,
            "api": JOURNEY_TRIGGERED,
            "schedule": None,
        }[self.trigger]
        self.segment = entry.segment
        self.entry_where: Predicate = compile_condition(entry.where)
        self.schedule_at: time | None = entry.schedule.at if entry.schedule else None
        self.schedule_days = frozenset(d.index for d in entry.schedule.days) if entry.schedule else frozenset()
        self.schedule_tz: ZoneInfo | None = (
            None if not entry.schedule or entry.schedule.tz == "user" else zone(entry.schedule.tz)
        )
        self.policy: ReentryPolicy = entry.reentry.policy
        self.cooldown_ms = ms(entry.reentry.cooldown) if entry.reentry.cooldown else 0

        self.goals: dict[str, list[CGoal]] = {}
        for g in journey.goals:
            self.goals.setdefault(g.event, []).append(CGoal(compile_condition(g.where), g.exit, g.label))
        self.exit_on: dict[str, list[Predicate]] = {}
        for e in journey.exit_on:
            self.exit_on.setdefault(e.event, []).append(compile_condition(e.where))

        self.holdout_percent = journey.holdout.percent if journey.holdout else 0.0
        self.caps = tuple(_cap(c) for c in journey.caps)
        self.quiet: CQuiet | None = _quiet(journey.quiet_hours or guardrails.quiet_hours)
        window = journey.window
        self.window_start = _epoch_ms(window.start_at) if window and window.start_at else None
        self.window_end = _epoch_ms(window.end_at) if window and window.end_at else None

        cyclic = _nodes_on_cycles(journey)
        self.nodes: dict[str, CNode] = {
            nid: _compile_node(journey, nid, node, cyclic, guardrails, plugins)  # type: ignore[arg-type]
            for nid, node in journey.nodes.items()
        }
        #: node id -> its `type` (the detail of each `node` outcome).
        self.kinds: dict[str, str] = {nid: node.type for nid, node in journey.nodes.items()}
        self.start = journey.start
        self.wait_for_types = frozenset(n.event_type for n in self.nodes.values() if isinstance(n, CWaitFor))
        self.first_split = next((n.id for n in self.nodes.values() if isinstance(n, CSplit)), None)
        self.counter_keys = frozenset(
            ctr.counter_key(c.event_type, ms(c.window)) for c in journey.counters()
        )

    def __repr__(self) -> str:
        return f"CompiledJourney({self.id}:{self.version})"

    def in_window(self, ts_ms: int) -> bool:
        """Whether `ts_ms` is inside the journey's schedule window (always, without one)."""
        if self.window_start is not None and ts_ms < self.window_start:
            return False
        return not (self.window_end is not None and ts_ms >= self.window_end)

    def variant_of(self, user_id: str, node_id: str | None) -> str | None:
        """The split variant the user gets at `node_id` (None: the first split), deterministic."""
        node = self.nodes.get(node_id) if node_id is not None else (
            self.nodes.get(self.first_split) if self.first_split else None
        )
        if not isinstance(node, CSplit):
            return None
        return node.names[self.pick(user_id, node)]

    def pick(self, user_id: str, node: CSplit) -> int:
        """Index of the variant of `node` for `user_id`."""
        return pick_weighted(unit_interval(user_id, self.id, node.id), node.weights)


def _epoch_ms(dt: object) -> int:
    return int(dt.timestamp() * 1000)  # type: ignore[attr-defined]


def _cap(c: object) -> CCap:
    channel = getattr(c, "channel")  # noqa: B009 — Cap is a pydantic model with field `channel`
    return CCap(None if channel == "any" else str(channel), c.max, ms(c.per))  # type: ignore[attr-defined]


def _quiet(q: QuietHours | None) -> CQuiet | None:
    if q is None:
        return None
    return CQuiet(q.start, q.end, None if q.tz == "user" else zone(q.tz), q.mode is QuietHoursMode.DEFER)


def compile_caps(caps: list[object]) -> tuple[CCap, ...]:
    """Compile the guardrails' global caps."""
    return tuple(_cap(c) for c in caps)


def _nodes_on_cycles(journey: Journey) -> frozenset[str]:
    succ = {nid: node.successors() for nid, node in journey.nodes.items()}
    on_cycle: set[str] = set()
    for start in succ:
        stack = list(succ.get(start, ()))
        seen: set[str] = set()
        while stack:
            n = stack.pop()
            if n == start:
                on_cycle.add(start)
                break
            if n in seen or n not in succ:
                continue
            seen.add(n)
            stack.extend(succ[n])
    return frozenset(on_cycle)


def _message_draft(node: MessageNode) -> tuple[ActionDraft, ActionDraft | None]:
    channel = node.channel.value
    primary = ActionDraft(
        channel=channel,
        template=node.template,
        is_message=True,
        category=node.category,
        priority=node.priority,
        address_trait=ADDRESS_TRAITS.get(channel),
    )
    fallback = None
    if node.fallback is not None:
        fb = node.fallback.channel.value
        fallback = ActionDraft(
            channel=fb,
            template=node.fallback.template,
            is_message=True,
            category=node.category,
            priority=node.priority,
            address_trait=ADDRESS_TRAITS.get(fb),
        )
    return primary, fallback


def _compile_node(
    journey: Journey,
    nid: str,
    node: NodeBase,
    cyclic: frozenset[str],
    guardrails: Guardrails,
    plugins: Mapping[str, ActionPlugin],
) -> CNode:
    if isinstance(node, WaitNode):
        return CWait(nid, ms(node.duration), node.next)
    if isinstance(node, WaitUntilNode):
        tz = None if node.tz == "user" else zone(node.tz)
        return CWaitUntil(nid, node.at, frozenset(d.index for d in node.days), tz, node.next)
    if isinstance(node, WaitForNode):
        match = dict(node.match)
        match_node = match.pop("node", None)
        return CWaitFor(
            nid,
            node.event,
            str(match_node) if match_node is not None else None,
            tuple(match.items()),
            compile_condition(node.where),
            ms(node.timeout),
            node.on_event,
            node.on_timeout,
        )
    if isinstance(node, BranchNode):
        cases = tuple(
            (c.name or f"case {i + 1}", compile_condition(c.when), c.next) for i, c in enumerate(node.cases)
        )
        return CBranch(nid, cases, node.default)
    if isinstance(node, SplitNode):
        return CSplit(
            nid,
            tuple(v.name for v in node.variants),
            tuple(float(v.weight) for v in node.variants),
            tuple(v.next for v in node.variants),
        )
    if isinstance(node, UpdateProfileNode):
        return CUpdateProfile(nid, dict(node.set), tuple(node.unset), dict(node.increment), node.next)
    if isinstance(node, ExitNode):
        return CExit(nid, node.reason)
    in_cycle = nid in cyclic
    if isinstance(node, MessageNode):
        primary, fallback = _message_draft(node)
        window = node.fallback_window if "fallback_window" in node.model_fields_set else guardrails.fallback_window
        return CAction(nid, primary, fallback, ms(window) if fallback else 0, node.next, in_cycle)
    if isinstance(node, WebhookNode):
        params = {"method": node.method, "headers": dict(node.headers)}
        if node.url is not None:
            params["url"] = node.url
        if node.body is not None:
            params["body"] = node.body
        return CAction(nid, ActionDraft(channel="webhook", template=node.template, params=params), None, 0,
                       node.next, in_cycle)
    if isinstance(node, FeatureFlagNode):
        draft = ActionDraft(channel="flag", params={"flag": node.flag, "value": node.value})
        return CAction(nid, draft, None, 0, node.next, in_cycle)
    plugin = plugins.get(node.type)
    if plugin is None and isinstance(node, ActionNode):
        plugin = _DEFAULT_PLUGIN
    if plugin is None:
        raise UnknownNodeKind(journey.id, nid, node.type)
    nxt = getattr(node, "next", None)
    if not isinstance(nxt, str):
        raise UnknownNodeKind(journey.id, nid, node.type)
    return CAction(nid, plugin.draft(node), None, 0, nxt, in_cycle)
