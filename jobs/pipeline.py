"""The journeys job graph: raw events in, actions per channel and outcomes out.

```
 source (strings) ─► JVM filter (SQL: relevant types only) ─► parse (envelope) ─► event time
                                                                 │ rejected          │
 wall clock (SQL datagen, watermark = now) ─► (records dropped) ─┼───── union ◄──────┘
                                                                 ▼
                                 key_by(user_id) ─► JourneyFunction ─► outcomes (main output)
                                                                     ├► actions.<channel> (side outputs)
                                                                     ├► rejected, late, profile updates, erasures
```

Sources and sinks are arguments (`JobSinks`); every operator has a `.uid()` and a `.name()` so
savepoints survive upgrades. Journey semantics live in `operators.core`; this module only wires.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from operators.flink.functions import (
    ERASURES,
    LATE,
    PARSED_TYPE,
    PLAN_STATE,
    PROFILE_UPDATES,
    REJECTED,
    EventTimeOfRow,
    FarFuture,
    JourneyFunction,
    JourneyProgram,
    ParseEvents,
    PublishedJourneyFunction,
    RouteOutputs,
    action_tag,
)

if TYPE_CHECKING:
    from pyflink.datastream import DataStream, StreamExecutionEnvironment
    from pyflink.datastream.connectors import Sink, Source


# Builds the keyed operator from the program and whether plans are broadcast to it (then it must be a
# KeyedBroadcastProcessFunction). Benchmarks swap in a pass-through operator; uids stay the same.
JourneyOperatorFactory = Callable[[JourneyProgram, bool], Any]


def default_journey_operator(program: JourneyProgram, published: bool) -> Any:
    """The journey operator: `PublishedJourneyFunction` when plans are broadcast, else `JourneyFunction`."""
    return PublishedJourneyFunction(program) if published else JourneyFunction(program)


@dataclass
class JobSinks:
    """Where each output of the job goes. Outputs without a sink are dropped (e.g. in benchmarks)."""

    outcomes: Sink | None = None
    actions: dict[str, Sink] = field(default_factory=dict)
    rejected: Sink | None = None
    late: Sink | None = None
    profile_updates: Sink | None = None
    erasures: Sink | None = None


@dataclass(frozen=True)
class TimeSettings:
    """How event time moves.

    `clock_interval_ms`: a wall-clock input whose watermark is `now` (None for bounded replays,
    where time is the events' own). `idle_timeout_ms`: after this long without events the event
    input stops holding the watermark back, so the clock moves time in a quiet stream.
    """

    out_of_orderness_ms: int = 500
    idle_timeout_ms: int = 1_000
    clock_interval_ms: int | None = 250


@dataclass
class JobOutputs:
    """The streams the builder made, for callers that attach more (tests, benchmarks)."""

    outcomes: DataStream
    actions: dict[str, DataStream]
    rejected: DataStream
    late: DataStream
    extra: dict[str, Any] = field(default_factory=dict)


def relevant_filter_sql(view: str, types: set[str]) -> str:
    """SQL keeping the events some journey needs: those whose `type` is in `types`, those that
    carry traits (any event's traits update the profile), and every input whose type can't be
    read (the parser rejects those with a reason rather than dropping them silently)."""
    keep = ["JSON_VALUE(f0, '$.type') IS NULL", "COALESCE(JSON_QUERY(f0, '$.traits'), '{}') <> '{}'"]
    if types:
        quoted = ", ".join("'" + t.replace("'", "''") + "'" for t in sorted(types))
        keep.insert(0, f"JSON_VALUE(f0, '$.type') IN ({quoted})")
    return f"SELECT f0 FROM {view} WHERE " + " OR ".join(keep)


def build_journey_job(
    env: StreamExecutionEnvironment,
    events: Source | DataStream,
    sinks: JobSinks,
    program: JourneyProgram,
    *,
    relevant_types: set[str] | None,
    time: TimeSettings | None = None,
    max_future_ms: int | None = None,
    definitions: Source | None = None,
    journey_operator: JourneyOperatorFactory = default_journey_operator,
) -> JobOutputs:
    """Wire the journeys job onto `env`.

    `events` is a Source of UTF-8 event JSON strings (Kafka, files) or a DataStream of them.
    `relevant_types` are the event types some journey reacts to (None keeps every event); the
    rest are dropped on the JVM side before any Python runs. With `definitions` (a Source of
    published plan JSON), the job switches to each newly published plan while it runs.
    `journey_operator` builds the keyed operator (benchmarks put a pass-through one in its place).
    """
    from pyflink.common import Duration, Types, WatermarkStrategy
    from pyflink.datastream import DataStream
    from pyflink.table import StreamTableEnvironment

    time = time or TimeSettings()
    if isinstance(events, DataStream):
        raw = events
    else:
        raw = env.from_source(events, WatermarkStrategy.no_watermarks(), "events").uid("events-source").name(
            "events source"
        )

    t_env = StreamTableEnvironment.create(env)
    if relevant_types is not None:
        t_env.create_temporary_view("journeys_raw_events", t_env.from_data_stream(raw))
        raw = t_env.to_data_stream(t_env.sql_query(relevant_filter_sql("journeys_raw_events", relevant_types)))

    parsed = raw.process(ParseEvents(max_future_ms), output_type=PARSED_TYPE).uid("parse-events").name(
        "parse events"
    )
    # The timestamp assigner goes last: PyFlink's `with_idleness` returns a new strategy without
    # it, and the events then carry no event time: their watermark stayed at its minimum while
    # they flowed, so timers fired only once the input went idle for `idle_timeout_ms`.
    strategy = (
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(time.out_of_orderness_ms))
        .with_idleness(Duration.of_millis(time.idle_timeout_ms))
        .with_timestamp_assigner(EventTimeOfRow())
    )
    timed = parsed.assign_timestamps_and_watermarks(strategy).uid("event-time").name("event time")

    if time.clock_interval_ms is not None:
        timed = timed.union(_clock(env, t_env, time.clock_interval_ms))

    keyed = timed.key_by(lambda row: row[0])
    if definitions is None:
        journeys = keyed.process(journey_operator(program, False), output_type=Types.STRING())
    else:
        # A two-input operator's watermark is the smaller of its inputs', and idleness did not
        # release a quiet definitions source here: stamping plans far in the future keeps that
        # input out of the way once a plan was read (`run` writes one at every start).
        plans = (
            env.from_source(definitions, WatermarkStrategy.no_watermarks(), "journey definitions")
            .uid("definitions-source")
            .name("journey definitions")
            .assign_timestamps_and_watermarks(
                WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(FarFuture())
            )
            .uid("definitions-time")
            .name("definitions time")
            .broadcast(PLAN_STATE)
        )
        journeys = keyed.connect(plans).process(journey_operator(program, True), output_type=Types.STRING())
    journeys = (
        journeys.uid("journeys")
        .name("journeys")
        .process(RouteOutputs(program.channels), output_type=Types.STRING())
        .uid("route-outputs")
        .name("route outputs")
    )
    actions = {
        ch: journeys.get_side_output(action_tag(ch)) for ch in program.channels
    }
    rejected = parsed.get_side_output(REJECTED).union(journeys.get_side_output(REJECTED))
    outputs = JobOutputs(
        outcomes=journeys,
        actions=actions,
        rejected=rejected,
        late=journeys.get_side_output(LATE),
        extra={
            "profile_updates": journeys.get_side_output(PROFILE_UPDATES),
            "erasures": journeys.get_side_output(ERASURES),
        },
    )
    _attach(outputs.outcomes, sinks.outcomes, "outcomes")
    for ch, stream in actions.items():
        _attach(stream, sinks.actions.get(ch), f"actions-{ch}")
    _attach(outputs.rejected, sinks.rejected, "rejected")
    _attach(outputs.late, sinks.late, "late")
    _attach(outputs.extra["profile_updates"], sinks.profile_updates, "profile-updates")
    _attach(outputs.extra["erasures"], sinks.erasures, "erasures")
    return outputs


def _attach(stream: DataStream, sink: Sink | None, name: str) -> None:
    if sink is not None:
        stream.sink_to(sink).uid(f"sink-{name}").name(f"{name} sink")


def _clock(env: StreamExecutionEnvironment, t_env: Any, interval_ms: int) -> DataStream:
    """A stream with no records whose watermark follows the wall clock (JVM side)."""
    rate = max(1, round(1000 / interval_ms))
    t_env.execute_sql(
        f"""
        CREATE TEMPORARY TABLE journeys_clock (
          tick BIGINT,
          ts AS CURRENT_TIMESTAMP,
          WATERMARK FOR ts AS ts
        ) WITH (
          'connector' = 'datagen',
          'rows-per-second' = '{rate}',
          'fields.tick.kind' = 'random'
        )
        """
    )
    ticks = t_env.to_data_stream(t_env.sql_query("SELECT tick FROM journeys_clock"))
    # Only the watermark matters: the records are dropped before the shuffle.
    return (
        ticks.filter(lambda _: False)
        .uid("clock-drop-ticks")
        .name("clock")
        .map(lambda r: r, output_type=PARSED_TYPE)
        .uid("clock-as-events")
        .name("clock as events")
    )

