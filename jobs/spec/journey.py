"""The journey model, exactly as written in journey files (see DESIGN.md, "Journey definition").

```yaml
id: cart-abandonment
name: Cart abandonment recovery
tz: America/New_York
entry: {event: cart.updated, where: {...}, reentry: {policy: after, cooldown: 7d}}
goals: [{event: order.completed, exit: true}]
exit_on: [{event: user.churned}]
holdout: {percent: 10}
caps: [{channel: any, max: 3, per: 1d}]
quiet_hours: {from: "21:00", to: "08:00", tz: user, mode: defer}
start: wait_1h
nodes: {...}
```
Models are frozen: the interpreter keeps them in memory and shares them between users.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from jobs.spec.conditions import Condition, CounterRef, counters_in
from jobs.spec.durations import (
    ALL_WEEKDAYS,
    AwareDatetime,
    Duration,
    LocalTime,
    TimeZoneName,
    TimeZoneOrUser,
    Weekday,
)
from jobs.spec.nodes import Channel, Node, NodeBase, NodeId, on_node_kinds_changed

JourneyId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
"""A journey id: letters, digits, `_ . -` (no `:`, which separates parts of an action_id)."""

EventType = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s]+$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReentryPolicy(StrEnum):
    """`never`: once per user ever; `after`: once the last instance ended and `cooldown` passed
    since its entry; `always`: every trigger starts an instance, even while one runs."""

    NEVER = "never"
    ALWAYS = "always"
    AFTER = "after"


class Reentry(_Frozen):
    """Whether and when a user may enter the journey again."""

    policy: ReentryPolicy = ReentryPolicy.NEVER
    cooldown: Duration | None = None

    @model_validator(mode="after")
    def _cooldown_iff_after(self) -> Reentry:
        if self.policy is ReentryPolicy.AFTER and self.cooldown is None:
            raise ValueError("reentry policy 'after' needs a cooldown, e.g. cooldown: 7d")
        if self.policy is not ReentryPolicy.AFTER and self.cooldown is not None:
            raise ValueError(f"a cooldown only applies to reentry policy 'after', not {self.policy.value!r}")
        return self


class ScheduleTrigger(_Frozen):
    """Enter users at a local time on given weekdays (each user's own time with `tz: user`).

    Which users: everyone the job knows who passes the entry's `where` (e.g. a profile or segment
    condition) at that moment, subject to the re-entry policy.
    """

    at: LocalTime
    days: tuple[Weekday, ...] = Field(default=ALL_WEEKDAYS, min_length=1)
    tz: TimeZoneOrUser = "user"


class Entry(_Frozen):
    """How users enter: exactly one of `event`, `segment`, `schedule`, `api`, plus filter and re-entry.

    `segment: vip` enters on `segment.entered` events whose `props.segment` is `vip`; `api: true`
    enters users through the API (the reserved event `journey.triggered` with
    `props.journey_id`).
    """

    event: EventType | None = None
    segment: str | None = Field(default=None, min_length=1)
    schedule: ScheduleTrigger | None = None
    api: bool | None = None
    where: Condition | None = None
    reentry: Reentry = Field(default_factory=Reentry)

    @model_validator(mode="after")
    def _exactly_one_trigger(self) -> Entry:
        given = [
            name
            for name, value in (
                ("event", self.event),
                ("segment", self.segment),
                ("schedule", self.schedule),
                ("api", self.api or None),
            )
            if value is not None
        ]
        if len(given) != 1:
            found = f"found {' and '.join(given)}" if given else "found none"
            raise ValueError(f"entry needs exactly one of event, segment, schedule, api ({found})")
        return self

    @property
    def trigger(self) -> Literal["event", "segment", "schedule", "api"]:
        """Which kind of trigger this entry has."""
        if self.event is not None:
            return "event"
        if self.segment is not None:
            return "segment"
        if self.schedule is not None:
            return "schedule"
        return "api"


class Goal(_Frozen):
    """A conversion: an event (optionally filtered) that counts as converted and, by default, exits."""

    event: EventType
    where: Condition | None = None
    exit: bool = True
    name: str | None = None

    @property
    def label(self) -> str:
        """The goal's name, or its event type when unnamed."""
        return self.name or self.event


class ExitTrigger(_Frozen):
    """An event that makes the user leave the journey at once, wherever they are."""

    event: EventType
    where: Condition | None = None


class Holdout(_Frozen):
    """A control group: this percentage of entrants is tracked but never messaged."""

    percent: float = Field(ge=0, lt=100)


class Cap(_Frozen):
    """At most `max` sends on `channel` (or `any` channel) in any rolling window of `per`."""

    channel: Channel | Literal["any"] = "any"
    max: PositiveInt
    per: Duration


class QuietHoursMode(StrEnum):
    """`defer` holds the message until the quiet window ends; `skip` drops it (suppressed)."""

    DEFER = "defer"
    SKIP = "skip"


class QuietHours(_Frozen):
    """No marketing sends between `from` and `to` (local time; may wrap past midnight)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, serialize_by_alias=True)

    start: LocalTime = Field(alias="from")
    end: LocalTime = Field(alias="to")
    tz: TimeZoneOrUser = "user"
    mode: QuietHoursMode = QuietHoursMode.DEFER

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours 'from' and 'to' must differ")
        return self


class Window(_Frozen):
    """A schedule window: outside it the journey takes no entries and sends nothing (`schedule`)."""

    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ValueError("window end_at must be after start_at")
        return self


class Journey(_Frozen):
    """A journey definition. `version` is set by the store (API) when published; files default to 1."""

    id: JourneyId
    name: str = Field(min_length=1)
    description: str | None = None
    version: PositiveInt = 1
    tz: TimeZoneName = "UTC"
    entry: Entry
    goals: list[Goal] = Field(default_factory=list)
    exit_on: list[ExitTrigger] = Field(default_factory=list)
    holdout: Holdout | None = None
    caps: list[Cap] = Field(default_factory=list)
    quiet_hours: QuietHours | None = None
    window: Window | None = None
    start: NodeId
    nodes: dict[NodeId, Node] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _tolerate_null_lists(cls, data: Any) -> Any:
        # `goals:` with nothing after it is YAML for null; treat it as "none" rather than an error.
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if not (k in {"goals", "exit_on", "caps"} and v is None)}
        return data

    def node(self, node_id: str) -> NodeBase:
        """The node with this id (KeyError if absent)."""
        return self.nodes[node_id]  # type: ignore[return-value]

    def conditions(self) -> list[tuple[str, Condition]]:
        """Every condition in the journey with where it sits (`entry`, `goals[0]`, `node x`…)."""
        found: list[tuple[str, Condition]] = []
        if self.entry.where is not None:
            found.append(("entry.where", self.entry.where))
        found += [(f"goals[{i}].where", g.where) for i, g in enumerate(self.goals) if g.where is not None]
        found += [(f"exit_on[{i}].where", e.where) for i, e in enumerate(self.exit_on) if e.where is not None]
        for node_id, node in self.nodes.items():
            where = getattr(node, "where", None)
            if where is not None:
                found.append((f"node {node_id}.where", where))
            for i, case in enumerate(getattr(node, "cases", None) or []):
                found.append((f"node {node_id}.cases[{i}].when", case.when))
        return found

    def counters(self) -> list[CounterRef]:
        """Every counter any condition of the journey reads (duplicates kept, in order)."""
        return [c for _, cond in self.conditions() for c in counters_in(cond)]


on_node_kinds_changed(lambda: Journey.model_rebuild(force=True))
