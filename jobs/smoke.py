"""The platform smoke job: count events per user, read from and written to Kafka.

It proves the local platform is real: Kafka source and sink through the Flink connector, a
keyed Python operator in thread mode with keyed state and event-time timers, the web UI. Input
values are event JSON (only `user_id` is read); output values are `{"user_id", "count"}` JSON,
one per user, written when the bounded input ends (the final watermark fires each user's timer).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyflink.datastream import DataStream, StreamExecutionEnvironment
    from pyflink.datastream.connectors import Sink, Source

# Far enough in the future that only the end-of-input watermark reaches it.
_END_OF_INPUT_MS = 2**62


def user_of(value: str) -> str:
    """The user id of an event JSON, or "" when the record has none (counted under "")."""
    try:
        user = json.loads(value).get("user_id")
    except (ValueError, AttributeError):
        return ""
    return user if isinstance(user, str) else ""


def build_count_job(env: StreamExecutionEnvironment, source: Source, sink: Sink) -> DataStream:
    """Wire source -> key by user -> count -> sink onto `env`; returns the counts stream."""
    from pyflink.common import Types, WatermarkStrategy
    from pyflink.datastream import KeyedProcessFunction, RuntimeContext
    from pyflink.datastream.state import ValueStateDescriptor

    class CountPerUser(KeyedProcessFunction):
        """Keeps one counter per user; emits it when the end-of-input timer fires."""

        def open(self, runtime_context: RuntimeContext) -> None:
            self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))

        def process_element(self, value: str, ctx: KeyedProcessFunction.Context):
            current = self.count.value()
            if current is None:
                ctx.timer_service().register_event_time_timer(_END_OF_INPUT_MS)
                current = 0
            self.count.update(current + 1)

        def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
            yield json.dumps({"user_id": ctx.get_current_key(), "count": self.count.value()})

    events = env.from_source(
        source, WatermarkStrategy.for_monotonous_timestamps(), "events"
    ).uid("smoke-events-source").name("events")
    counts = (
        events.key_by(user_of, key_type=Types.STRING())
        .process(CountPerUser(), output_type=Types.STRING())
        .uid("smoke-count-per-user")
        .name("count per user")
    )
    counts.sink_to(sink).uid("smoke-counts-sink").name("counts")
    return counts
