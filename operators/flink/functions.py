"""Thin Flink adapters over the interpreter core: they map keyed state and timers onto it.

Journey semantics live in `operators.core`; nothing here decides anything about a journey.

- `ParseEvents` (ProcessFunction): the envelope check before keying; rejects to a side output.
- `JourneyFunction` (KeyedProcessFunction): per user, one state read and at most one write per
  event, one event-time timer (the interpreter's next wake-up); actions to a side output per
  channel, outcomes to the main output, late events and full-validation rejects to side outputs.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from pyflink.common import Row, Types
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import (
    KeyedBroadcastProcessFunction,
    KeyedProcessFunction,
    OutputTag,
    ProcessFunction,
    RuntimeContext,
)
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from jobs.compiler.plan import CompiledPlan
from jobs.spec.records import Event
from operators.core import Guardrails, Interpreter, to_dt, to_ms
from operators.envelope import Envelope, RejectedEvent, check_envelope
from state import codec

# The record between parsing and the journey operator: cheap to move across the key_by shuffle.
PARSED_TYPE = Types.ROW_NAMED(["user_id", "ts", "raw"], [Types.STRING(), Types.LONG(), Types.STRING()])

# Users whose record each journey subtask keeps a copy of (a tenth, the oldest, go when it is full).
RECORD_CACHE_SIZE = 200_000

REJECTED = OutputTag("rejected", Types.STRING())
LATE = OutputTag("late", Types.STRING())  # RejectedEvent JSON, reason "late: …"
PROFILE_UPDATES = OutputTag("profile-updates", Types.STRING())
ERASURES = OutputTag("erasures", Types.STRING())


def action_tag(channel: str) -> OutputTag:
    """The side output carrying actions of `channel` (JSON strings)."""
    return OutputTag(f"actions-{channel}", Types.STRING())


# The journey functions emit every output on their main output as "<kind>\t<json>", and
# `RouteOutputs` sorts them into side outputs: side outputs yielded from `on_timer` of a keyed
# broadcast function reach the main output as raw tuples in thread mode (PyFlink 2.2), which
# breaks the job. One routing path for both functions keeps them alike.
_OUTCOME = "outcome\t"
_REJECTED = "rejected\t"
_LATE = "late\t"
_PROFILE = "profile\t"
_ERASURE = "erasure\t"
_ACTION = "action:"


class RouteOutputs(ProcessFunction):
    """Outcomes to the main output; actions per channel, rejects, late events, profile updates
    and erasures to their side outputs."""

    def __init__(self, channels: tuple[str, ...]) -> None:
        self.channels = channels

    def open(self, runtime_context: RuntimeContext) -> None:
        self.tags = {
            "rejected": REJECTED,
            "late": LATE,
            "profile": PROFILE_UPDATES,
            "erasure": ERASURES,
            **{f"action:{ch}": action_tag(ch) for ch in self.channels},
        }

    def process_element(self, value: str, ctx: ProcessFunction.Context) -> Iterator[Any]:
        kind, _, body = value.partition("\t")
        if kind == "outcome":
            yield body
        else:
            yield self.tags[kind], body


class ParseEvents(ProcessFunction):
    """Envelope check: well-formed events become `PARSED_TYPE` rows, the rest go to `REJECTED`."""

    def __init__(self, max_future_ms: int | None) -> None:
        self.max_future_ms = max_future_ms

    def process_element(self, value: Any, ctx: ProcessFunction.Context) -> Iterator[Any]:
        raw = value if isinstance(value, str) else value[0]
        checked = check_envelope(raw, self.max_future_ms)
        if isinstance(checked, Envelope):
            yield Row(checked.user_id, checked.ts_ms, checked.raw)
        else:
            yield REJECTED, checked.model_dump_json()


class EventTimeOfRow(TimestampAssigner):
    """Event time of a `PARSED_TYPE` row: its `ts` field (epoch ms)."""

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return value[1]


class FarFuture(TimestampAssigner):
    """Stamps control records (published plans) far in the future so they never hold time back."""

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return 2**62


@dataclass
class JourneyProgram:
    """Everything the journey operator needs to build its interpreter (pickled with the job).

    `channels` are the channels with an output; `until_ms` stops time for `simulate --until`:
    timers later than it never fire.
    """

    plan: CompiledPlan
    guardrails: Guardrails = field(default_factory=Guardrails)
    channels: tuple[str, ...] = ()
    allowed_lateness_ms: int = 60_000
    until_ms: int | None = None

    def interpreter(self) -> Interpreter:
        """The interpreter over the plan's journey versions."""
        return Interpreter.from_plan(self.plan, self.guardrails)


class _JourneyLogic:
    """What both journey functions do per user: one state read and at most one write per event,
    one event-time timer (the interpreter's next wake-up), outputs by kind."""

    program: JourneyProgram

    def open_journeys(self, runtime_context: RuntimeContext) -> None:
        self.interp = self.program.interpreter()
        self.fingerprint = self.program.plan.fingerprint
        # Our codec's bytes; PICKLED_BYTE_ARRAY only wraps them (the primitive byte-array type is
        # converted element by element in thread mode, and fails on a missing value).
        self.user = runtime_context.get_state(ValueStateDescriptor("user", Types.PICKLED_BYTE_ARRAY()))
        # The records this subtask last read or wrote, by user: only this subtask reads and writes a
        # user's state, so the copy is exact, and a read through PyFlink's state crosses into the
        # JVM (and RocksDB) each time: about as long as the journey step itself. The state stays
        # the truth for checkpoints; a restarted subtask starts with an empty copy.
        self.records: dict[str, bytes | None] = {}
        self.action_tags = {ch: f"{_ACTION}{ch}\t" for ch in self.program.channels}
        self.metrics = _Metrics(runtime_context)

    def use_plan(self, plan: CompiledPlan) -> None:
        """Run a newly published plan from now on (users inside keep their versions: the plan
        carries every version that still has users)."""
        self.program = replace(self.program, plan=plan)
        self.interp = self.program.interpreter()
        self.fingerprint = plan.fingerprint
        self.metrics.plans_loaded.inc()

    def process_event(self, value: Any, ctx: Any) -> Iterator[Any]:
        raw = value[2]
        ts = value[1]
        self.metrics.events_in.inc()
        self.metrics.maybe_flush()
        watermark = ctx.timer_service().current_watermark()
        if ts < watermark - self.program.allowed_lateness_ms:
            self.metrics.late.inc()
            behind, allowed = (watermark - ts) // 1000, self.program.allowed_lateness_ms // 1000
            reason = f"late: {behind}s behind event time (allowed lateness {allowed}s)"
            yield _LATE + RejectedEvent.of(raw, reason, value[0]).model_dump_json()
            return
        try:
            event = Event.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "event"
            self.metrics.rejected.inc()
            yield _REJECTED + RejectedEvent.of(raw, f"field '{where}': {first['msg']}", value[0]).model_dump_json()
            return
        stored = self._read(value[0])
        state = codec.decode(stored) if stored is not None else None
        before = self.interp.next_wakeup(state) if state is not None else None
        step = self.interp.on_event(state, event)
        yield from self._apply(step, before, ctx, value[0])

    def fire_timer(self, timestamp: int, ctx: Any) -> Iterator[Any]:
        self.metrics.timers_fired.inc()
        self.metrics.maybe_flush()
        self.metrics.pending.inc(-1)
        until = self.program.until_ms
        if until is not None and timestamp > until:
            return
        key = ctx.get_current_key()
        stored = self._read(key)
        if stored is None:
            return
        step = self.interp.on_timer(codec.decode(stored), key, to_dt(timestamp))
        # The timer that just fired is gone; whatever the step wants next is registered anew.
        yield from self._apply(step, None, ctx, key)

    def _read(self, key: str) -> bytes | None:
        records = self.records
        if key in records:
            return records[key]
        stored = self.user.value()
        self._remember(key, stored)
        return stored

    def _remember(self, key: str, stored: bytes | None) -> None:
        records = self.records
        if len(records) >= RECORD_CACHE_SIZE and key not in records:
            for old in list(itertools.islice(records, RECORD_CACHE_SIZE // 10)):
                del records[old]
        records[key] = stored

    # --- effects -----------------------------------------------------------------------------

    def _apply(self, step: Any, before: datetime | None, ctx: Any, key: str) -> Iterator[Any]:
        if step.changed:
            if step.state is None:
                self.user.clear()
                self._remember(key, None)
            else:
                encoded = codec.encode(step.state)
                self.user.update(encoded)
                self._remember(key, encoded)
        after = step.wakeup
        if after != before:
            timers = ctx.timer_service()
            if before is not None:
                timers.delete_event_time_timer(to_ms(before))
                self.metrics.pending.inc(-1)
            if after is not None:
                timers.register_event_time_timer(to_ms(after))
                self.metrics.pending.inc()
        for action in step.actions:
            self.metrics.action(action.journey_id, action.channel)
            tag = self.action_tags.get(action.channel)
            if tag is None:
                # A channel this job was not built with: an error outcome, never a silent drop.
                yield _REJECTED + RejectedEvent.of(
                    action.model_dump_json(), f"no output for channel '{action.channel}'", action.user_id
                ).model_dump_json()
                continue
            yield tag + action.model_dump_json()
        for outcome in step.outcomes:
            self.metrics.outcome(outcome)
            yield _OUTCOME + outcome.model_dump_json()
        for update in step.profile_updates:
            yield _PROFILE + json.dumps(
                {
                    "user_id": update.user_id,
                    "journey_id": update.journey_id,
                    "node_id": update.node_id,
                    "set": update.set,
                    "unset": list(update.unset),
                    "increment": update.increment,
                    "ts": update.ts.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                },
                default=str,
            )
        if step.erasure is not None:
            yield _ERASURE + json.dumps(
                {"user_id": step.erasure.user_id, "ts": step.erasure.ts.astimezone(UTC).isoformat()}
            )


class JourneyFunction(_JourneyLogic, KeyedProcessFunction):
    """Runs a fixed plan for the user of the current key (`simulate`, benchmarks)."""

    def __init__(self, program: JourneyProgram) -> None:
        self.program = program

    def open(self, runtime_context: RuntimeContext) -> None:
        self.open_journeys(runtime_context)

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        yield from self.process_event(value, ctx)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        yield from self.fire_timer(timestamp, ctx)


PLAN_STATE = MapStateDescriptor("journey-plan", Types.STRING(), Types.STRING())
PLAN_KEY = "plan"


class PublishedJourneyFunction(_JourneyLogic, KeyedBroadcastProcessFunction):
    """Runs the plan last published on the definitions topic (broadcast to every subtask).

    The plan the job was built with runs until a published one arrives; the latest published
    plan is kept in broadcast state, so a restore from a checkpoint runs it again. A malformed
    publication is counted and ignored, never fatal.
    """

    def __init__(self, program: JourneyProgram) -> None:
        self.program = program

    def open(self, runtime_context: RuntimeContext) -> None:
        self.open_journeys(runtime_context)
        self.synced = False

    def process_element(self, value: Any, ctx: KeyedBroadcastProcessFunction.ReadOnlyContext) -> Iterator[Any]:
        self._sync(ctx)
        yield from self.process_event(value, ctx)

    def process_broadcast_element(self, value: str, ctx: KeyedBroadcastProcessFunction.Context) -> None:
        if self._maybe_use(value):
            ctx.get_broadcast_state(PLAN_STATE).put(PLAN_KEY, value)

    def on_timer(self, timestamp: int, ctx: KeyedBroadcastProcessFunction.OnTimerContext) -> Iterator[Any]:
        self._sync(ctx)
        yield from self.fire_timer(timestamp, ctx)

    def _sync(self, ctx: Any) -> None:
        if not self.synced:
            # After a restore the broadcast state holds the plan that was running; read it once.
            self.synced = True
            stored = ctx.get_broadcast_state(PLAN_STATE).get(PLAN_KEY)
            if stored is not None:
                self._maybe_use(stored)

    def _maybe_use(self, text: str) -> bool:
        try:
            plan = CompiledPlan.model_validate_json(text)
        except ValidationError:
            self.metrics.plans_rejected.inc()
            return False
        if plan.fingerprint != self.fingerprint:
            self.use_plan(plan)
        return True


class _Batched:
    """A Flink counter incremented in Python and handed to Flink in one call now and then: each
    `inc` of a Flink counter crosses into the JVM (about 10 µs in thread mode), a few per event."""

    __slots__ = ("counter", "n")

    def __init__(self, counter: Any) -> None:
        self.counter = counter
        self.n = 0

    def inc(self, n: int = 1) -> None:
        self.n += n

    def flush(self) -> None:
        if self.n:
            self.counter.inc(self.n)
            self.n = 0


FLUSH_EVERY_S = 1.0


class _Metrics:
    """Flink user metrics, per journey and channel, created on first use (visible in the web UI).

    Per-event counters are batched (`_Batched`): they reach Flink within a second while events or
    timers flow; the counts of the last second before a pause wait for the next event or timer."""

    def __init__(self, runtime_context: RuntimeContext) -> None:
        self.group = runtime_context.get_metrics_group().add_group("journeys")
        self._batched: list[_Batched] = []
        self._flushed = time.monotonic()
        self.events_in = self._batch(self.group.counter("events_in"))
        self.late = self._batch(self.group.counter("events_late"))
        self.rejected = self._batch(self.group.counter("events_rejected"))
        self.timers_fired = self._batch(self.group.counter("timers_fired"))
        self.plans_loaded = self.group.counter("plans_loaded")
        self.plans_rejected = self.group.counter("plans_rejected")
        # Timers set minus timers fired or deleted by this subtask since it started (Flink has no
        # timer count to read): after a restore, restored timers count only once they change.
        # A counter, not a gauge: Flink reads a Python gauge from its metrics thread, calling into
        # the interpreter while the task thread runs it, and that crashed the JVM (SIGSEGV in
        # pemja) while the dashboard was polled.
        self.pending = self._batch(self.group.counter("timers_pending"))
        self._counters: dict[tuple[str, ...], Any] = {}

    def _batch(self, counter: Any) -> _Batched:
        batched = _Batched(counter)
        self._batched.append(batched)
        return batched

    def maybe_flush(self) -> None:
        """Hand the batched counts to Flink if the last flush is a second old."""
        now = time.monotonic()
        if now - self._flushed >= FLUSH_EVERY_S:
            self._flushed = now
            for counter in self._batched:
                counter.flush()

    def _counter(self, *path: str) -> Any:
        counter = self._counters.get(path)
        if counter is None:
            group = self.group
            for part in path[:-1]:
                group = group.add_group(part)
            counter = self._batch(group.counter(path[-1]))
            self._counters[path] = counter
        return counter

    def action(self, journey_id: str, channel: str) -> None:
        self._counter("journey", journey_id, "channel", channel, "actions").inc()

    def outcome(self, outcome: Any) -> None:
        kind = str(outcome.kind)
        if kind == "suppressed":
            reason = (outcome.detail or "unknown").split(":", 1)[0]
            self._counter("journey", outcome.journey_id, "suppressed", reason).inc()
        elif kind in ("entered", "converted", "exited", "error"):
            self._counter("journey", outcome.journey_id, kind).inc()
        elif kind == "node":
            self._counter("journey", outcome.journey_id, "node", outcome.node_id or "-", "reached").inc()
