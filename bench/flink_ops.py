"""Keyed operators the benchmarks put in the journey operator's place (`build_journey_job(journey_operator=…)`).

- `timed_journeys(stats)`: the real journey functions, counting elements, timers and outputs and
  stamping the wall-clock times of the first and last element and timer, written to a small JSON
  file the harness polls (the operator runs inside the JVM in thread mode: a file is the channel);
- `passthrough(stats)`: the engine's limit: the same position in the same graph, one output
  record per event (the raw event, routed to the `rejected` output, whose sink every job has and
  whose readers take any JSON), no state, no journey;
- `profiled_journeys(stats)`: the journey functions under cProfile (for "where the time goes").

The stats file is rewritten at most every 0.5 s while elements flow, and at once when the
expected count is reached, so the harness sees the exact time the backlog was drained.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import time
from collections.abc import Callable, Iterator
from typing import Any

from pyflink.datastream import KeyedBroadcastProcessFunction, KeyedProcessFunction, RuntimeContext

from operators.flink.functions import JourneyFunction, JourneyProgram, PublishedJourneyFunction

FLUSH_EVERY_S = 0.5


class Stats:
    """Counters of one operator instance and their periodic dump to `path`."""

    def __init__(self, path: str, expected: int) -> None:
        self.path = path
        self.expected = expected
        self.elements = 0
        self.timers = 0
        self.actions = 0
        self.outputs = 0
        self.late = 0
        self.first = 0.0
        self.last = 0.0
        self.first_timer = 0.0
        self.last_timer = 0.0
        self.samples: list[tuple[float, int, int]] = []  # (wall time, elements, timers) once a second
        self._flushed = 0.0
        self._sampled = 0.0

    def element(self, now: float) -> None:
        if not self.elements:
            self.first = now
        self.elements += 1
        self.last = now
        if self.elements == self.expected or now - self._flushed >= FLUSH_EVERY_S:
            self.flush(now)

    def timer(self, now: float) -> None:
        if not self.timers:
            self.first_timer = now
        self.timers += 1
        self.last_timer = now
        if now - self._flushed >= FLUSH_EVERY_S:
            self.flush(now)

    def flush(self, now: float) -> None:
        self._flushed = now
        if now - self._sampled >= 1.0:
            self._sampled = now
            self.samples.append((now, self.elements, self.timers))
        data = {k: v for k, v in self.__dict__.items() if not k.startswith("_") and k != "path"}
        data["written"] = now
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, self.path)


def read_stats(path: str) -> dict[str, Any] | None:
    """The last stats an operator wrote, or None."""
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class _Timed:
    """Counting around the journey logic (mixed into both journey functions)."""

    stats_path: str
    expected: int
    profile: bool
    no_record_cache: bool

    def _open_stats(self) -> None:
        self.stats = Stats(self.stats_path, self.expected)
        if getattr(self, "no_record_cache", False):
            # Every read through Flink's state, as before the adapter kept a copy of the records.
            self._read = lambda key: self.user.value()  # type: ignore[method-assign]
        self.profiler = cProfile.Profile() if self.profile else None
        self._dumped = 0.0

    def _count(self, outputs: Iterator[Any], now: float) -> Iterator[Any]:
        st = self.stats
        for out in outputs:
            st.outputs += 1
            c = out[0]
            if c == "a":
                st.actions += 1
            elif c == "l":
                st.late += 1
            yield out

    def _profiled(self, fn: Callable[[], list[Any]]) -> list[Any]:
        prof = self.profiler
        if prof is None:
            return fn()
        prof.enable()
        try:
            return fn()
        finally:
            prof.disable()
            now = time.time()
            if now - self._dumped > 5.0:
                self._dumped = now
                prof.dump_stats(self.stats_path + ".prof")


class TimedJourneyFunction(_Timed, JourneyFunction):
    """`JourneyFunction` with counters (see the module docstring)."""

    def __init__(self, program: JourneyProgram, stats_path: str, expected: int, profile: bool = False) -> None:
        super().__init__(program)
        self.stats_path, self.expected, self.profile = stats_path, expected, profile

    def open(self, runtime_context: RuntimeContext) -> None:
        super().open(runtime_context)
        self._open_stats()

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        out = self._profiled(lambda: list(JourneyFunction.process_element(self, value, ctx)))
        now = time.time()
        yield from self._count(iter(out), now)
        self.stats.element(now)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        out = self._profiled(lambda: list(JourneyFunction.on_timer(self, timestamp, ctx)))
        now = time.time()
        yield from self._count(iter(out), now)
        self.stats.timer(now)


class TimedPublishedJourneyFunction(_Timed, PublishedJourneyFunction):
    """`PublishedJourneyFunction` (what `run` uses) with counters."""

    def __init__(self, program: JourneyProgram, stats_path: str, expected: int, profile: bool = False) -> None:
        super().__init__(program)
        self.stats_path, self.expected, self.profile = stats_path, expected, profile

    def open(self, runtime_context: RuntimeContext) -> None:
        super().open(runtime_context)
        self._open_stats()

    def process_element(self, value: Any, ctx: KeyedBroadcastProcessFunction.ReadOnlyContext) -> Iterator[Any]:
        out = self._profiled(lambda: list(PublishedJourneyFunction.process_element(self, value, ctx)))
        now = time.time()
        yield from self._count(iter(out), now)
        self.stats.element(now)

    def on_timer(self, timestamp: int, ctx: KeyedBroadcastProcessFunction.OnTimerContext) -> Iterator[Any]:
        out = self._profiled(lambda: list(PublishedJourneyFunction.on_timer(self, timestamp, ctx)))
        now = time.time()
        yield from self._count(iter(out), now)
        self.stats.timer(now)


class PassThrough(KeyedProcessFunction):
    """Each event out unchanged (to the `rejected` output, see the module docstring); nothing kept."""

    def __init__(self, stats_path: str, expected: int) -> None:
        self.stats_path, self.expected = stats_path, expected

    def open(self, runtime_context: RuntimeContext) -> None:
        self.stats = Stats(self.stats_path, self.expected)

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        self.stats.outputs += 1
        yield "rejected\t" + value[2]
        self.stats.element(time.time())


class PublishedPassThrough(KeyedBroadcastProcessFunction):
    """`PassThrough` where plans are broadcast (`run`): plans are ignored."""

    def __init__(self, stats_path: str, expected: int) -> None:
        self.stats_path, self.expected = stats_path, expected

    def open(self, runtime_context: RuntimeContext) -> None:
        self.stats = Stats(self.stats_path, self.expected)

    def process_element(self, value: Any, ctx: KeyedBroadcastProcessFunction.ReadOnlyContext) -> Iterator[Any]:
        self.stats.outputs += 1
        yield "rejected\t" + value[2]
        self.stats.element(time.time())

    def process_broadcast_element(self, value: Any, ctx: KeyedBroadcastProcessFunction.Context) -> None:
        return None


def timed_journeys(stats_path: str, expected: int, profile: bool = False,
                   no_record_cache: bool = False) -> Callable[[JourneyProgram, bool], Any]:
    """A `journey_operator` factory: the journey functions with counters (and cProfile if `profile`;
    reading every record through Flink's state if `no_record_cache`)."""

    def make(program: JourneyProgram, published: bool) -> Any:
        cls = TimedPublishedJourneyFunction if published else TimedJourneyFunction
        fn = cls(program, stats_path, expected, profile)
        fn.no_record_cache = no_record_cache
        return fn

    return make


def passthrough(stats_path: str, expected: int) -> Callable[[JourneyProgram, bool], Any]:
    """A `journey_operator` factory: the pass-through operator."""

    def make(program: JourneyProgram, published: bool) -> Any:
        return PublishedPassThrough(stats_path, expected) if published else PassThrough(stats_path, expected)

    return make


def profile_summary(path: str, top: int = 25) -> list[dict[str, Any]]:
    """The heaviest functions of a cProfile dump, by own time, with cumulative time."""
    st = pstats.Stats(path)
    total = sum(v[2] for v in st.stats.values())  # type: ignore[attr-defined]
    rows = []
    for (file, line, name), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{os.path.relpath(file) if file.startswith('/') else file}:{line}({name})",
                     "calls": nc, "own_s": round(tt, 4), "cumulative_s": round(ct, 4),
                     "own_share": round(tt / total, 4) if total else 0.0})
    rows.sort(key=lambda r: -r["own_s"])
    return rows[:top]
