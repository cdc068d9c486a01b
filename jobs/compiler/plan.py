"""The compiled plan: what the Flink job runs, derived from the set of journey versions.

A `CompiledPlan` is deterministic (same journeys in, byte-identical JSON out, whatever the
input order) and JSON-serializable, so it can be shipped to the job, diffed and stored.

- `event_types`: every event type some journey reacts to; the JVM side drops the rest.
- `counters`: per event type, the rolling windows conditions read; one bucketed counter per
  type can serve all of its windows (keep `retention`, the longest).
- `dispatch`: per event type, the journeys whose entry it triggers, the `wait_for` nodes
  waiting on it, the goals it meets and the journeys it makes users exit.
- `journeys`: each journey version with its status. The newest version of a journey takes
  entries (`active`), older ones stay for the users inside them (`retired`), `paused` ones
  take no entries and send nothing while their users stay put.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from jobs.spec.durations import Duration
from jobs.spec.journey import Journey
from jobs.spec.nodes import on_node_kinds_changed
from jobs.spec.template import Template

PLAN_FORMAT = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JourneyStatus(StrEnum):
    """How the job treats a journey version."""

    ACTIVE = "active"  # takes entries, runs
    PAUSED = "paused"  # no entries, no sends; users inside wait for resume
    RETIRED = "retired"  # an older version: no entries; users inside finish on it


class JourneyRef(_Frozen):
    """One version of one journey."""

    journey_id: str
    version: int


class EntryRoute(_Frozen):
    """An event type starts instances of this journey version (subject to `entry.where` and re-entry).

    `segment` is set for segment triggers (`segment.entered` with `props.segment` equal to it);
    `api` for API triggers (`journey.triggered` with `props.journey_id` equal to the journey).
    """

    journey_id: str
    version: int
    segment: str | None = None
    api: bool = False


class WaitRoute(_Frozen):
    """A `wait_for` node waiting on an event type."""

    journey_id: str
    version: int
    node_id: str


class GoalRoute(_Frozen):
    """A goal of a journey version met by an event type; `index` is its place in `goals`."""

    journey_id: str
    version: int
    index: int
    name: str
    exit: bool


class ExitRoute(_Frozen):
    """An `exit_on` trigger of a journey version; `index` is its place in `exit_on`."""

    journey_id: str
    version: int
    index: int


class DispatchTable(_Frozen):
    """Everything one event type can do, besides updating counters and profile."""

    entries: list[EntryRoute] = Field(default_factory=list)
    waits: list[WaitRoute] = Field(default_factory=list)
    goals: list[GoalRoute] = Field(default_factory=list)
    exits: list[ExitRoute] = Field(default_factory=list)
    #: A per-user counter of this type is kept (see `CompiledPlan.counters`).
    counted: bool = False
    #: A reserved type the job handles itself (identify, consent.updated, user.deleted, message.*…).
    reserved: bool = False


class CounterSpec(_Frozen):
    """A per-user counter of one event type and the windows conditions read from it."""

    event_type: str
    windows: list[Duration]
    #: The longest window: how far back the counter must remember.
    retention: Duration


class PlanJourney(_Frozen):
    """One journey version in the plan, with its full definition."""

    journey_id: str
    version: int
    status: JourneyStatus
    journey: Journey


class CompiledPlan(_Frozen):
    """The plan the job runs. Build it with `jobs.compiler.compile_plan`."""

    format: int = PLAN_FORMAT
    #: sha256 of the plan's canonical JSON (without this field): equal plans, equal fingerprints.
    fingerprint: str = ""
    event_types: list[str]
    counters: list[CounterSpec]
    dispatch: dict[str, DispatchTable]
    #: Journeys entered on a schedule (clock-driven, no event type), active ones only.
    scheduled: list[JourneyRef] = Field(default_factory=list)
    journeys: list[PlanJourney]
    templates: dict[str, Template] = Field(default_factory=dict)

    def journey(self, journey_id: str, version: int | None = None) -> Journey:
        """A journey version (the one taking entries when `version` is None). KeyError if absent."""
        for item in self.journeys:
            if item.journey_id == journey_id and (
                item.version == version if version is not None else item.status is not JourneyStatus.RETIRED
            ):
                return item.journey
        raise KeyError(f"{journey_id} v{version}" if version is not None else journey_id)

    def table(self, event_type: str) -> DispatchTable | None:
        """The dispatch table of an event type, or None if no journey reacts to it."""
        return self.dispatch.get(event_type)

    def counter_windows(self) -> dict[str, list[Duration]]:
        """Event type → windows, for the state's counter store."""
        return {c.event_type: list(c.windows) for c in self.counters}


def _rebuild() -> None:
    # These models embed Journey, whose node union grows when a plugin kind registers.
    PlanJourney.model_rebuild(force=True)
    CompiledPlan.model_rebuild(force=True)


on_node_kinds_changed(_rebuild)
